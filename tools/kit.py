"""Write the offline workshop kit: a folder a teacher copies to a USB stick and installs on laptops with no network.

    python tools/kit.py DIR [--torch cpu|default] [--no-room]  (make wheelhouse: DIR is wheels/)
    python tools/kit.py DIR --check [--laptop FOLDER]          (make kit-check: install DIR as a laptop would, start it)

DIR gets: wheels/ (the course's own wheel and every dependency's, for this OS, CPU and Python; no [dev] tools),
notebooks/ (the students' copies: outputs cleared, no solutions, made by tools/make_student.py), data/MNIST/raw/
(full MNIST's four files, when this checkout has them), KIT.json (what the kit is for and what it holds, read
from its wheels), install.sh and start.sh (install.ps1 and start.ps1 on Windows). install.sh makes a virtual
environment with `pip install --no-index --find-links wheels`, copies the notebooks, the data and start.sh, runs
`mnist-tutorial doctor`, and prints the start command: start.sh opens JupyterLab with the room setting.

On Linux the kit also carries the room (docs/room.md), a JupyterHub that one machine serves a workshop with: the
`room` extra's wheels (JupyterHub, its idle culler), JupyterHub's proxy configurable-http-proxy in proxy/ (an npm
package with its node_modules, pure JavaScript, run by the machine's own Node.js through proxy/bin/), and room.sh,
which installs the course with the room from the kit and starts `mnist-tutorial room` with no network. Building it
needs npm; `--no-room` leaves the room out.

Wheels are per platform, and pip cannot resolve torch's dependencies for another OS, so a kit is built on a
machine like the learners' (one kit per OS, CPU and Python). `--torch cpu` takes torch and torchvision from
PyTorch's CPU-only index (about 0.35 GB in all instead of 3 GB of CUDA libraries): the default where that index
has wheels. When it cannot be reached, the build stops after one short try and says so; it never falls back to
the CUDA build quietly.
"""

import argparse
import json
import os
import platform
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from email.parser import Parser
from pathlib import Path

from packaging.requirements import Requirement

sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_student

ROOT = Path(__file__).resolve().parent.parent
CPU_INDEX = "https://download.pytorch.org/whl/cpu"
CPU_INDEX_SYSTEMS = {("Linux", "x86_64"), ("Linux", "aarch64"), ("Windows", "AMD64")}  # macOS wheels are CPU-only
BUILD_REQUIREMENTS = ["setuptools>=77"]  # pyproject's build backend, so `pip install -e .` works offline too
SCRIPTS = Path(__file__).resolve().parent / "kit_scripts"
CPU_BUILD = ("torchvision", "torch")  # from the CPU-only index; torchvision first, as it names the torch it needs
GPU_WHEELS = ("nvidia_", "triton-", "pytorch_triton")  # CUDA's libraries and its compiler: no laptop uses them
INDEX_TIMEOUT_S = 10  # one short try per index, instead of pip's 5 retries per package
PYPI_TRY = ["--retries", "1", "--timeout", "15"]


CUDA_KIT_GB = 3.2  # the kit with PyPI's Linux torch (measured: 139 wheels); the CPU-only one is about 0.35 GB
ROOM_EXTRA = "room"  # pyproject's extra for `mnist-tutorial room`: JupyterHub, its idle culler, tornado
PROXY = "configurable-http-proxy"  # JupyterHub's proxy: an npm package, run by the machine's own node
PROXY_ASKED = f"{PROXY}@^5.3.0"  # 5 needs Node.js 20 or newer; --proxy configurable-http-proxy@4 runs on older
PROXY_LAUNCHER = Path("proxy") / "bin" / PROXY  # in the kit: the room finds the proxy on PATH by this name


class KitError(Exception):
    """A kit that cannot be built here, in one sentence."""


def this_platform() -> dict[str, str]:
    return {
        "system": platform.system(),
        "machine": platform.machine(),
        "python": f"{sys.version_info.major}.{sys.version_info.minor}",
    }


def refuse_other_platform(wanted: dict[str, str | None]) -> None:
    """A kit for another OS, CPU or Python cannot be built here: say why, and what to do instead."""
    here = this_platform()
    for key, value in wanted.items():
        if value and value != here[key]:
            raise KitError(
                f"this machine is {here['system']} {here['machine']} with Python {here['python']}, and a kit can only "
                f"hold wheels for the machine that builds it (pip cannot resolve torch's dependencies for another "
                f"{key}): build the kit for {value} on such a machine, with the Python the learners will use"
            )


def refuse_another_kit(out: Path, torch: str) -> None:
    """Adding to a folder that holds a kit for another platform or torch would mix their wheels."""
    record = out / "KIT.json"
    if not record.is_file():
        return
    old = json.loads(record.read_text())
    old["torch_asked"] = old.get("torch_asked", old.get("torch"))  # kits before KIT.json read its wheels
    wanted = {**this_platform(), "torch_asked": torch}
    if any(old.get(key) != value for key, value in wanted.items()):
        raise KitError(
            f"{out} holds a kit for {old.get('system')} {old.get('machine')}, Python {old.get('python')}, torch "
            f"{old.get('torch_asked')}: delete it, or write this kit ({wanted['python']}, torch {torch}) into "
            "another folder"
        )


def default_torch() -> str:
    """ "cpu" where PyTorch's CPU-only index has wheels for this machine, else "default" (PyPI's torch)."""
    return "cpu" if (platform.system(), platform.machine()) in CPU_INDEX_SYSTEMS else "default"


def requires_dist(wheel: Path) -> list[str]:
    """The wheel's Requires-Dist lines, read from its METADATA."""
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        metadata = Parser().parsestr(archive.read(name).decode())
    return metadata.get_all("Requires-Dist") or []


def requirements_of(wheel: Path) -> list[str]:
    """The wheel's Requires-Dist lines without extras: what a learner installs (no [dev] tools)."""
    return [line for line in requires_dist(wheel) if "extra ==" not in line]


def extra_requirements_of(wheel: Path, extra: str) -> list[str]:
    """The wheel's requirements for `extra` on this machine, without their markers (jupyterhub>=5.3, ...)."""
    found = []
    for requirement in map(Requirement, requires_dist(wheel)):
        marker = requirement.marker
        if marker is None or "extra" not in str(marker) or not marker.evaluate({"extra": extra}):
            continue
        requirement.marker = None
        found.append(str(requirement))
    return found


def build_course_wheel(project: Path, wheels: Path) -> Path:
    """`pip wheel` a copy of the project (no dependencies) into `wheels`, so no build/ folder lands in the checkout."""
    for old in wheels.glob(f"{project_name(project)}-*.whl"):
        old.unlink()  # a kit holds one version of the course
    skip = shutil.ignore_patterns(".*", "build", "data", "wheels", "runs", "*.egg-info", "__pycache__")
    with tempfile.TemporaryDirectory() as scratch:
        source = Path(shutil.copytree(project, Path(scratch) / "src", ignore=skip))
        command = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "-w", wheels]
        subprocess.run([*command, source], check=True)
    (wheel,) = wheels.glob(f"{project_name(project)}-*.whl")
    return wheel


def project_name(project: Path) -> str:
    """The wheel file name's first part for this project (mnist_tutorial), read from pyproject.toml."""
    for line in (project / "pyproject.toml").read_text().splitlines():
        if line.startswith("name = "):
            return line.split('"')[1].replace("-", "_")
    raise KitError("pyproject.toml names no project")


def version_of(wheel: Path) -> str:
    """A wheel's version, from its file name (torch-2.9.0+cpu-cp311-... gives 2.9.0+cpu)."""
    return wheel.name.split("-")[1]


def is_cpu_build(version: str) -> bool:
    """PyTorch's CPU-only wheels carry +cpu; on macOS every wheel is CPU-only (with Apple's GPU) and has no label."""
    return version.endswith("+cpu") or (platform.system() == "Darwin" and "+" not in version)


def any_micro() -> list[str]:
    """pip's option for wheels that every release of this Python takes: a kit for 3.11 serves Debian's 3.11.2 too
    (without it, a wheel asking for Python >=3.11.5 gets in when the kit is built with 3.11.7)."""
    return ["--python-version", this_platform()["python"]]


def one_try() -> list[str]:
    """pip's options for one short try of an index."""
    return ["--retries", "0", "--timeout", str(INDEX_TIMEOUT_S)]


def unreachable(index: str) -> str | None:
    """Why `index` cannot be reached (one short request for its torch page), or None when it answers at all."""
    if index.startswith("file:"):
        folder = Path(urllib.request.url2pathname(urllib.parse.urlparse(index).path))
        return None if folder.is_dir() else f"no folder {folder}"
    try:
        with urllib.request.urlopen(f"{index.rstrip('/')}/torch/", timeout=INDEX_TIMEOUT_S):
            return None
    except urllib.error.HTTPError:
        return None  # it answered
    except (urllib.error.URLError, OSError, ValueError) as error:
        reason = getattr(error, "reason", error)
        return " ".join(str(reason).split()) or type(error).__name__


def download_cpu_build(requirements: list[str], wheels: Path, index: str) -> list[str]:
    """torchvision's and torch's CPU-only wheels from `index` into `wheels`; returns exact pins (torch==2.9.0+cpu).

    One short try each: an index that cannot be reached, that has no wheel for this Python, or a pip configuration
    that brings another build stops the kit in one sentence, and nothing lands in `wheels`.
    """
    wanted = {Requirement(text).name.lower(): Requirement(text) for text in requirements}
    needed = {name: wanted[name].specifier for name in CPU_BUILD if name in wanted}
    pins = []
    with tempfile.TemporaryDirectory() as scratch:
        for name in CPU_BUILD:
            if name not in needed:
                continue
            asked = f"{name}{needed[name]}"
            command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:"]
            command += any_micro()
            done = subprocess.run(
                [*command, *one_try(), "--index-url", index, "-d", scratch, asked], capture_output=True, text=True
            )
            found = sorted(Path(scratch).glob(f"{name}-*.whl"))
            if done.returncode != 0 or not found:
                raise KitError(no_cpu_build(index, asked, done.stderr))
            if not is_cpu_build(version_of(found[0])):
                if unreachable(index) is not None:  # pip's configuration offered a fallback: the index is the cause
                    raise KitError(no_cpu_build(index, asked, done.stderr))
                raise KitError(
                    f"the CPU-only build of {name} was asked for, and pip took {found[0].name} instead (from a "
                    f"find-links or extra-index-url in pip's configuration: pip config list): remove it, or {CUDA_HINT}"
                )
            for requirement in map(Requirement, requirements_of(found[0])):  # torchvision names its torch
                if requirement.name.lower() in needed:
                    needed[requirement.name.lower()] &= requirement.specifier
            pins.append(f"{name}=={version_of(found[0])}")
        for wheel in Path(scratch).glob("*.whl"):
            shutil.move(wheel, wheels / wheel.name)
    return pins


CUDA_HINT = (
    f"build with --torch default (make wheelhouse TORCH=default) for PyPI's torch with its CUDA libraries: a kit of "
    f"about {CUDA_KIT_GB:.1f} GB instead of 0.35 GB"
)


def no_cpu_build(index: str, asked: str, pip_said: str) -> str:
    """The one sentence for a CPU-only wheel that pip could not get from `index`."""
    reason = unreachable(index)
    if reason is not None:
        return (
            f"the CPU-only build of PyTorch was asked for, and its index {index} cannot be reached from here "
            f"({reason}): build the kit on a machine that reaches it, or {CUDA_HINT}"
        )
    last = next((line for line in reversed(pip_said.splitlines()) if line.strip()), "no message")
    here = this_platform()
    return (
        f"PyTorch's CPU-only index {index} has no {asked} wheel for Python {here['python']} on {here['system']} "
        f"{here['machine']} (pip: {last.strip()}): build the kit with a Python that it has wheels for, or {CUDA_HINT}"
    )


def download_dependencies(requirements: list[str], wheels: Path, pip_args: list[str]) -> None:
    """`pip download` binary wheels of `requirements` (and their dependencies) for this machine into `wheels`.

    Wheels already in `wheels` (the CPU-only torch, pinned in `requirements`) are taken from there.
    """
    command = [sys.executable, "-m", "pip", "download", "--quiet", "--only-binary=:all:", *any_micro(), "-d", wheels]
    done = subprocess.run([*command, *PYPI_TRY, "--find-links", wheels, *pip_args, *requirements])
    if done.returncode != 0:
        raise KitError(
            f"pip could not download the course's dependencies into {wheels} (its message is above): check this "
            "machine's network and pip's index (pip config list), then build the kit again"
        )


def describe_wheels(wheels: Path) -> dict:
    """What the kit's wheels are, read from the files themselves: torch's version and build, CUDA's wheels, size."""
    files = sorted(wheels.glob("*.whl"))
    torches = [version_of(wheel) for wheel in files if wheel.name.split("-")[0].lower() == "torch"]
    if len(torches) > 1:
        raise KitError(
            f"{wheels} holds {len(torches)} torch wheels ({', '.join(torches)}): delete it, then build again"
        )
    gpu = [wheel.name for wheel in files if wheel.name.lower().startswith(GPU_WHEELS)]
    torch = torches[0] if torches else None
    local = (torch or "").partition("+")[2]
    build = None if torch is None else "rocm" if local.startswith("rocm") else "cuda" if gpu or local else "cpu"
    if build == "cuda" and local == "cpu":
        build = "cpu"  # a +cpu torch beside leftover CUDA wheels is still a CPU build; gpu_wheels lists those
    return {
        "torch": torch,
        "torch_build": build,
        "gpu_wheels": gpu,
        "gpu_wheels_bytes": sum((wheels / name).stat().st_size for name in gpu),
        "wheels": [wheel.name for wheel in files],
        "wheels_bytes": sum(wheel.stat().st_size for wheel in files),
    }


def copy_full_data(out: Path) -> bool:
    """Full MNIST's four files into out/data/MNIST/raw, when this checkout has them; True if copied."""
    sys.path.insert(0, str(ROOT))
    from mnist_tutorial import defaults
    from mnist_tutorial.datasets import sources

    folder = sources.find_full(sources.get_spec("mnist"), defaults.DATA_DIR)
    if folder is None:
        return False
    target = out / "data" / "MNIST" / "raw"
    target.mkdir(parents=True, exist_ok=True)
    for pair in sources.SPLIT_FILES.values():
        for name in pair:
            shutil.copy2(sources.find_file(folder, name), target)
    return True


def pack_proxy(out: Path, asked: str = PROXY_ASKED) -> dict:
    """JupyterHub's proxy in out/proxy: `npm install` of `asked` with its node_modules, links removed (a USB stick's
    FAT holds none), and a launcher that runs it with the machine's node; returns what KIT.json records of it."""
    npm, node = shutil.which("npm"), shutil.which("node") or shutil.which("nodejs")
    if npm is None or node is None:
        raise KitError(
            f"the kit carries the room's proxy ({PROXY}, an npm package), and this machine has no "
            f"{'npm' if npm is None else 'node'}: install Node.js with npm (apt-get install npm), or build the kit "
            "with --no-room (laptops only, no room)"
        )
    target, partial = out / "proxy", out / "proxy.partial"
    for path in (target, partial):
        if path.is_symlink() or (path.exists() and not path.is_dir()):
            raise KitError(f"{path} is not a folder, and the kit writes its proxy there: remove it, then build again")
        shutil.rmtree(path, ignore_errors=True)
    partial.mkdir()
    npm_args = ["install", "--prefix", str(partial), "--omit=dev", "--no-audit", "--no-fund", "--loglevel=error"]
    done = subprocess.run([npm, *npm_args, asked], capture_output=True, text=True)
    installed = partial / "node_modules" / PROXY / "package.json"
    if done.returncode != 0 or not installed.is_file():
        last = next((line for line in reversed(done.stderr.splitlines()) if line.strip()), "no message")
        raise KitError(f"npm could not install {asked} (npm: {last.strip()}): check this machine's network and npm")
    shutil.rmtree(partial / "node_modules" / ".bin", ignore_errors=True)  # links to the packages' own scripts
    links = [path for path in partial.rglob("*") if path.is_symlink()]
    if links:
        raise KitError(f"npm left the link {links[0]} in the proxy, which a USB stick cannot hold: report it")
    launcher = partial / PROXY_LAUNCHER.relative_to("proxy")
    launcher.parent.mkdir()
    shutil.copy2(SCRIPTS / PROXY, launcher)
    launcher.chmod(0o755)
    package = json.loads(installed.read_text())
    lock = json.loads((partial / "package-lock.json").read_text())  # what npm installed: every package, once
    lock_items = [(path, item) for path, item in lock["packages"].items() if path]
    versions = [version_of_program(npm), version_of_program(node)]
    partial.rename(target)
    return {
        "package": PROXY,
        "version": package["version"],
        "license": package.get("license"),
        "node_engines": package.get("engines", {}).get("node"),
        "asked": asked,
        "made_with": f"npm {versions[0]} (node {versions[1]}): npm {shlex.join(npm_args[:1] + npm_args[3:])} {asked}",
        "packages": {path.rpartition("node_modules/")[2]: item["version"] for path, item in sorted(lock_items)},
        "launcher": PROXY_LAUNCHER.as_posix(),
        "bytes": sum(path.stat().st_size for path in target.rglob("*") if path.is_file()),
    }


def version_of_program(program: str) -> str:
    """`program --version`'s answer (npm's, node's), or "unknown"."""
    done = subprocess.run([program, "--version"], capture_output=True, text=True)
    return done.stdout.strip() or "unknown"


def node_major(engines: str | None) -> int:
    """The oldest Node.js major version a package's `engines.node` (">= 20", ">=10.0") admits; 0 when it says none."""
    found = re.fullmatch(r"\s*>=?\s*v?(\d+)(?:\.\d+)*\s*", engines or "")
    return int(found.group(1)) if found else 0


def drop_room(out: Path) -> None:
    """A kit built without the room holds none of an earlier build's: its proxy and room.sh go."""
    for path in (out / "proxy", out / "proxy.partial"):
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
    refuse_odd_file(out / "room.sh")
    (out / "room.sh").unlink(missing_ok=True)


def write_student_copies(source: Path, out: Path) -> list[str]:
    """The students' copies of `source`'s notebooks (tools/make_student.py) in out/notebooks; returns their names."""
    target = out / "notebooks"
    if target.is_dir() and not (target / make_student.MARKER).exists() and (out / "KIT.json").is_file():
        shutil.rmtree(target)  # an older kit's copies, made before the kit made them itself
    return sorted(path.name for path in make_student.make_student(target, source))


def powershell_quote(text: str) -> str:
    """`text` as one PowerShell literal: in single quotes, each quote doubled (PowerShell reads ‘ ’ ‚ ‛ as ' too)."""
    return "'" + re.sub("['\u2018\u2019\u201a\u201b]", r"\g<0>\g<0>", text) + "'"


def refuse_odd_file(path: Path) -> None:
    """A link or a folder where the kit writes a file would be written through, or into: say so before writing."""
    if path.is_symlink() or (path.exists() and not path.is_file()):
        kind = "a symbolic link" if path.is_symlink() else "not a file"
        raise KitError(f"{path} is {kind}, and the kit writes a file there: remove it, then build the kit again")


def write_scripts(out: Path, course: str, python: str, check: list[str], room: dict | None = None) -> list[Path]:
    """install.sh and start.sh (.ps1 on Windows), and room.sh for a kit with the room (its proxy's record), from the
    templates in tools/kit_scripts, filled in for this kit."""
    suffix = ".ps1" if platform.system() == "Windows" else ".sh"
    args = " ".join(map(powershell_quote, check[1:])) if suffix == ".ps1" else shlex.join(check[1:])
    fill = {"@COURSE@": course, "@PYTHON@": python, "@CHECK_PROGRAM@": check[0], "@CHECK_ARGS@": args}
    names = ("install", "start", "room") if room is not None and suffix == ".sh" else ("install", "start")
    if room is not None:
        fill |= {
            "@NODE_MAJOR@": str(node_major(room["node_engines"])),
            "@PROXY_VERSION@": f"{room['package']} {room['version']}",
            "@PROXY_LAUNCHER@": room["launcher"],
            "@MARKER@": make_student.MARKER,
            "@MODULE@": course.replace("-", "_"),  # `python -m` it: its script's first line would expand FOLDER
        }
    scripts = [out / f"{name}{suffix}" for name in names]
    for script in scripts:
        refuse_odd_file(script)
    for script in scripts:
        text = (SCRIPTS / script.name).read_text(encoding="utf-8")
        for key, value in fill.items():
            text = text.replace(key, value)
        script.write_text(text, encoding="utf-8", newline="\r\n" if suffix == ".ps1" else "\n")
        script.chmod(0o755)
    return scripts


def write_install_script(out: Path, course: str, python: str, check: list[str]) -> Path:
    """install.sh (install.ps1 on Windows) and its start script; returns the install script."""
    return write_scripts(out, course, python, check)[0]


def build_kit(
    out: Path,
    *,
    torch: str | None = None,
    course_wheel: Path | None = None,
    pip_args: list[str] = (),
    check: tuple[str, ...] = ("mnist-tutorial", "doctor"),
    notebooks: Path | None = None,
    with_data: bool = True,
    cpu_index: str = CPU_INDEX,
    room: bool | None = None,
    proxy: str = PROXY_ASKED,
) -> dict:
    """Write the kit into `out`; returns what KIT.json records (read from what `out` holds once written).

    `room`: carry the room (its wheels, its proxy, room.sh); None: on Linux, where the room runs. `proxy`: the npm
    package the kit packs as its proxy (a version range, or a tarball's path).
    """
    room = platform.system() == "Linux" if room is None else room
    torch = torch or default_torch()
    refuse_another_kit(out, torch)
    refuse_odd_file(out / "KIT.json")
    wheels = out / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    if course_wheel is None:
        course_wheel = build_course_wheel(ROOT, wheels)
    elif course_wheel.parent != wheels:
        course_wheel = Path(shutil.copy2(course_wheel, wheels))
    room_requirements = extra_requirements_of(course_wheel, ROOM_EXTRA) if room else []
    requirements = [*requirements_of(course_wheel), *BUILD_REQUIREMENTS]
    pins = download_cpu_build(requirements, wheels, cpu_index) if torch == "cpu" else []
    download_dependencies([*requirements, *room_requirements, *pins], wheels, list(pip_args))
    copies = write_student_copies(notebooks or ROOT / "notebooks", out)
    course = course_wheel.name.split("-")[0].replace("_", "-")
    full_data = with_data and copy_full_data(out)
    packed = pack_proxy(out, proxy) if room else None
    if not room:
        drop_room(out)
    write_scripts(out, course, this_platform()["python"], list(check), packed)
    found = describe_wheels(wheels)
    if torch == "cpu" and found["torch"] is not None and found["torch_build"] != "cpu":
        raise KitError(
            f"{wheels} holds torch {found['torch']}, not the CPU-only build asked for: delete it, then build"
        )
    info = {
        **this_platform(),
        "torch_asked": torch,
        **{key: found[key] for key in ("torch", "torch_build", "gpu_wheels", "gpu_wheels_bytes")},
        "course": course,
        "course_wheel": course_wheel.name,
        "check": list(check),
        "full_data": full_data,
        "notebooks": copies,
        "room": None if packed is None else {"requirements": room_requirements, "proxy": packed, "script": "room.sh"},
        "size_bytes": sum(p.stat().st_size for p in out.rglob("*") if p.is_file() and p.name != "KIT.json"),
        "wheels_bytes": found["wheels_bytes"],
        "wheels": found["wheels"],
    }
    (out / "KIT.json").write_text(json.dumps(info, indent=2) + "\n")
    return info


def summary(out: Path, info: dict) -> str:
    """The line `make wheelhouse` ends with: what the kit holds, as KIT.json records it."""
    if info["torch"] is None:
        torch = "no torch"
    elif info["torch_build"] == "cpu":
        torch = f"torch {info['torch']}, CPU-only: no CUDA libraries"
    else:
        torch = (
            f"torch {info['torch']} with {info['torch_build'].upper()}: {len(info['gpu_wheels'])} GPU library wheels, "
            f"{info['gpu_wheels_bytes'] / 1e9:.2f} GB of them"
        )
    if info["system"] == "Windows":
        install = "powershell -ExecutionPolicy Bypass -File " + powershell_quote(str(out) + "\\install.ps1")
    else:
        install = "sh " + shlex.quote(f"{out}/install.sh")
    room = ""
    if info.get("room"):
        proxy = info["room"]["proxy"]
        room = f"; the room, with {proxy['package']} {proxy['version']}: sudo sh " + shlex.quote(f"{out}/room.sh")
    return (
        f"kit: {out} ({info['size_bytes'] / 1e9:.2f} GB, {len(info['wheels'])} wheels; {torch}) for {info['system']} "
        f"{info['machine']} with Python {info['python']}; on a laptop: {install}{room}"
    )


HERMETIC_PIP = {"PIP_CONFIG_FILE": os.devnull, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INPUT": "1"}
SERVER_URL = re.compile(r"http://(?:127\.0\.0\.1|localhost):(\d+)/\S*?token=(\w+)")
START_DEADLINE_S = 120
STOP_DEADLINE_S = 20
INSIDE = "MNIST_TUTORIAL_KIT_CHECK_INSIDE"  # set in the network namespace that --check re-runs itself in


def laptop_env() -> dict[str, str]:
    """This environment as a fresh laptop has it: no pip configuration, no index, no find-links."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("PIP_")}
    return {**env, **HERMETIC_PIP}


def isolated(command: list[str]) -> list[str] | None:
    """`command` in a new network namespace with only loopback up (unshare -n, as root), or None where it cannot be."""
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        return None
    wrapper = ["unshare", "-n", "sh", "-c", 'ip link set lo up && exec "$@"', "sh"]
    if subprocess.run([*wrapper, "true"], capture_output=True).returncode != 0:
        return None
    return [*wrapper, *command]


def streamed(command: list[str], **options) -> tuple[int, list[str]]:
    """Run `command`, echoing its output as it comes; (exit status, its lines)."""
    lines = []
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **options) as process:
        for line in process.stdout:
            print(line, end="", flush=True)
            lines.append(line.rstrip("\n"))
    return process.returncode, lines


def start_command(lines: list[str]) -> str:
    """The command install.sh printed last ("Installed. Start the course with: ...")."""
    marker = "Start the course with: "
    found = [line.split(marker, 1)[1] for line in lines if marker in line]
    if not found:
        raise KitError("the install script printed no start command")
    return found[-1]


def start_words(printed: str, target: Path) -> list[str]:
    """The printed start command's words, checked to be `sh TARGET/start.sh` as sh reads it when pasted."""
    words = shlex.split(printed)
    starts = len(words) == 2 and words[0] == "sh" and Path(words[1]).resolve() == target / "start.sh"
    # shlex.split reads "$(...)" in double quotes as it stands, and sh would run it: only shlex's own quoting is safe.
    if not starts or shlex.join(words) != printed:
        raise KitError(f"install.sh printed the start command {printed}, not sh {target}/start.sh: fix install.sh")
    return words


def serve_and_stop(command: list[str], notebooks: list[str], env: dict[str, str]) -> dict:
    """Run the start command (in a process group of its own), wait for its server on 127.0.0.1, ask it for its
    files, then stop it (SIGTERM, then SIGKILL after STOP_DEADLINE_S); returns what it answered and when."""
    started = time.perf_counter()
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        start_new_session=True,
        cwd=tempfile.gettempdir(),
    )
    found, log = {}, []

    def read() -> None:
        for line in process.stdout:
            log.append(line.rstrip("\n"))
            hit = SERVER_URL.search(line)
            if hit and not found:
                found.update(port=int(hit.group(1)), token=hit.group(2))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        listed = None
        while time.perf_counter() - started < START_DEADLINE_S and process.poll() is None and listed is None:
            time.sleep(0.2)
            if found:
                url = f"http://127.0.0.1:{found['port']}/api/contents?token={found['token']}"
                try:
                    with urllib.request.urlopen(url, timeout=5) as response:
                        listed = sorted(item["name"] for item in json.load(response)["content"])
                except OSError:
                    pass
        seconds = time.perf_counter() - started
    finally:
        stop(process)
        reader.join(timeout=STOP_DEADLINE_S)
    if listed is None:
        tail = " | ".join(log[-5:]) or "no output"
        raise KitError(f"the start command did not answer on 127.0.0.1 within {START_DEADLINE_S} s ({tail})")
    missing = sorted(set(notebooks) - set(listed))
    if missing:
        raise KitError(f"JupyterLab answered, but its folder lacks the kit's notebooks {', '.join(missing)}")
    return {"port": found["port"], "seconds": seconds, "listed": listed}


def stop(process: subprocess.Popen) -> None:
    """SIGTERM to the process group, SIGKILL after STOP_DEADLINE_S."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=STOP_DEADLINE_S)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def check_kit(kit: Path, laptop: str) -> int:
    """Install `kit` into `laptop` (relative to this folder, as a learner types it) with pip's configuration off,
    run the laptop check (the kit's check with --run-notebook), run the printed start command, and check that
    JupyterLab answers on 127.0.0.1 with the kit's notebooks; then stop it. Prints each step and its seconds."""
    info = json.loads((kit / "KIT.json").read_text())
    if platform.system() == "Windows":
        raise KitError("--check drives install.sh: on Windows, run install.ps1 and start.ps1 by hand")
    env = {**laptop_env(), "PYTHON": os.environ.get("PYTHON", sys.executable)}
    started = time.perf_counter()
    status, lines = streamed(["sh", str((kit / "install.sh").resolve()), laptop], env=env)
    installed = time.perf_counter() - started
    if status != 0:
        raise KitError(f"install.sh {laptop} failed with exit status {status} after {installed:.0f} s")
    target = Path(laptop).resolve()
    started = time.perf_counter()
    venv = target / ".venv" / "bin"  # pip's script through python: its first line, for sh, would expand FOLDER
    command = [str(venv / "python"), str(venv / info["check"][0]), *info["check"][1:], "--run-notebook"]
    status, _ = streamed(command, env=env, cwd=target)
    checked = time.perf_counter() - started
    if status != 0:
        raise KitError(f"the laptop check ({info['check'][0]} ... --run-notebook) failed with exit status {status}")
    served = serve_and_stop(start_words(start_command(lines), target), info["notebooks"], env)
    print(
        f"kit check: installed into {target} in {installed:.0f} s; the laptop check passed in {checked:.0f} s; "
        f"the start command answered on 127.0.0.1:{served['port']} after {served['seconds']:.1f} s with "
        f"{len(info['notebooks'])} notebooks; stopped"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="the kit's folder (made if missing)")
    parser.add_argument(
        "--torch",
        choices=("cpu", "default"),
        default=None,
        help="cpu: PyTorch's CPU-only wheels (default where they exist); default: PyPI's torch (CUDA on Linux)",
    )
    parser.add_argument(
        "--cpu-index", default=CPU_INDEX, help=f"PyTorch's CPU-only index or a mirror (default: {CPU_INDEX})"
    )
    parser.add_argument(
        "--no-room", dest="room", action="store_false", default=None, help="leave out the room (JupyterHub, its proxy)"
    )
    parser.add_argument(
        "--proxy", default=PROXY_ASKED, help=f"the npm package the room's proxy comes from (default: {PROXY_ASKED})"
    )
    parser.add_argument("--platform", dest="system", help="refused unless it is this machine's OS")
    parser.add_argument("--python-version", dest="python", help="refused unless it is this Python (e.g. 3.11)")
    parser.add_argument(
        "--check",
        action="store_true",
        help="build nothing: install the kit in OUT into --laptop as a laptop would (pip's configuration off, "
        "no network but loopback where unshare -n works), run its check and the start command, then stop it",
    )
    parser.add_argument("--laptop", default="laptop ✓ café", help="the folder --check installs into, relative to here")
    args = parser.parse_args(argv)
    try:
        if args.check:
            if not os.environ.get(INSIDE):
                command = isolated([sys.executable, str(Path(__file__).resolve()), *(argv or sys.argv[1:])])
                if command is not None:
                    print("kit check: in a network namespace with only loopback (unshare -n)", flush=True)
                    return subprocess.run(command, env={**os.environ, INSIDE: "1"}).returncode
                print("kit check: with this machine's network (unshare -n needs root here)", flush=True)
            return check_kit(args.out, args.laptop)
        refuse_other_platform({"system": args.system, "python": args.python})
        info = build_kit(args.out, torch=args.torch, cpu_index=args.cpu_index, room=args.room, proxy=args.proxy)
    except KitError as error:
        print(f"kit: {error}", file=sys.stderr)
        return 2
    print(summary(args.out, info))
    return 0


if __name__ == "__main__":
    sys.exit(main())
