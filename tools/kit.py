"""Write the offline workshop kit: a folder a teacher copies to a USB stick and installs on laptops with no network.

    python tools/kit.py DIR [--torch cpu|default]      (make wheelhouse: DIR is wheels/)

DIR gets: wheels/ (the course's own wheel and every dependency's, for this OS, CPU and Python; no [dev] tools),
data/MNIST/raw/ (full MNIST's four files, when this checkout has them), notebooks/, KIT.json (what the kit is
for), and install.sh (install.ps1 on Windows): it makes a virtual environment with
`pip install --no-index --find-links wheels`, copies the notebooks and data, then runs `mnist-tutorial doctor`.

Wheels are per platform, and pip cannot resolve torch's dependencies for another OS, so a kit is built on a
machine like the learners' (one kit per OS, CPU and Python). `--torch cpu` takes torch from PyTorch's CPU-only
index (about 0.35 GB in all instead of 3 GB of CUDA libraries): the default where that index has wheels.
"""

import argparse
import json
import platform
import shutil
import subprocess
import sys
import tempfile
import zipfile
from email.parser import Parser
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CPU_INDEX = "https://download.pytorch.org/whl/cpu"
CPU_INDEX_SYSTEMS = {("Linux", "x86_64"), ("Linux", "aarch64"), ("Windows", "AMD64")}  # macOS wheels are CPU-only
BUILD_REQUIREMENTS = ["setuptools>=77"]  # pyproject's build backend, so `pip install -e .` works offline too
SCRIPTS = Path(__file__).resolve().parent / "kit_scripts"


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
    wanted = {**this_platform(), "torch": torch}
    if any(old.get(key) != value for key, value in wanted.items()):
        raise KitError(
            f"{out} holds a kit for {old.get('system')} {old.get('machine')}, Python {old.get('python')}, torch "
            f"{old.get('torch')}: delete it, or write this kit ({wanted['python']}, torch {torch}) into another folder"
        )


def default_torch() -> str:
    """ "cpu" where PyTorch's CPU-only index has wheels for this machine, else "default" (PyPI's torch)."""
    return "cpu" if (platform.system(), platform.machine()) in CPU_INDEX_SYSTEMS else "default"


def requirements_of(wheel: Path) -> list[str]:
    """The wheel's Requires-Dist lines without extras: what a learner installs (no [dev] tools)."""
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        metadata = Parser().parsestr(archive.read(name).decode())
    return [line for line in metadata.get_all("Requires-Dist") or [] if "extra ==" not in line]


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


def download_dependencies(requirements: list[str], wheels: Path, torch: str, pip_args: list[str]) -> None:
    """`pip download` binary wheels of `requirements` (and their dependencies) for this machine into `wheels`."""
    index = ["--index-url", CPU_INDEX, "--extra-index-url", "https://pypi.org/simple"] if torch == "cpu" else []
    command = [sys.executable, "-m", "pip", "download", "--quiet", "--only-binary=:all:", "-d", wheels]
    subprocess.run([*command, *index, *pip_args, *requirements], check=True)


def copy_full_data(out: Path) -> bool:
    """Full MNIST's four files into out/data/MNIST/raw, when this checkout has them; True if copied."""
    sys.path.insert(0, str(ROOT))
    from mnist_tutorial import defaults, sources

    folder = sources.find_full(sources.get_spec("mnist"), defaults.DATA_DIR)
    if folder is None:
        return False
    target = out / "data" / "MNIST" / "raw"
    target.mkdir(parents=True, exist_ok=True)
    for pair in sources.SPLIT_FILES.values():
        for name in pair:
            shutil.copy2(sources.find_file(folder, name), target)
    return True


def learner_notebooks() -> Path:
    """`make student`'s copies (outputs cleared, no solutions) when built, else the notebooks without solutions/."""
    student = ROOT / "build" / "student"
    return student if student.is_dir() else ROOT / "notebooks"


def write_install_script(out: Path, course: str, python: str, check: list[str]) -> Path:
    """install.sh (install.ps1 on Windows) from the template in tools/kit_scripts, filled in for this kit."""
    template = SCRIPTS / ("install.ps1" if platform.system() == "Windows" else "install.sh")
    fill = {"@COURSE@": course, "@PYTHON@": python, "@CHECK_PROGRAM@": check[0], "@CHECK_ARGS@": " ".join(check[1:])}
    text = template.read_text()
    for key, value in fill.items():
        text = text.replace(key, value)
    script = out / template.name
    script.write_text(text)
    script.chmod(0o755)
    return script


def build_kit(
    out: Path,
    *,
    torch: str | None = None,
    course_wheel: Path | None = None,
    pip_args: list[str] = (),
    check: tuple[str, ...] = ("mnist-tutorial", "doctor"),
    notebooks: Path | None = None,
    with_data: bool = True,
) -> dict:
    """Write the kit into `out`; returns what KIT.json records."""
    torch = torch or default_torch()
    refuse_another_kit(out, torch)
    wheels = out / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    if course_wheel is None:
        course_wheel = build_course_wheel(ROOT, wheels)
    elif course_wheel.parent != wheels:
        course_wheel = Path(shutil.copy2(course_wheel, wheels))
    download_dependencies([*requirements_of(course_wheel), *BUILD_REQUIREMENTS], wheels, torch, list(pip_args))
    notebooks = notebooks or learner_notebooks()
    if notebooks.is_dir():
        shutil.copytree(
            notebooks,
            out / "notebooks",
            ignore=shutil.ignore_patterns(".*", "__pycache__", "*.py", "solutions"),
            dirs_exist_ok=True,
        )
    course = course_wheel.name.split("-")[0].replace("_", "-")
    info = {
        **this_platform(),
        "torch": torch,
        "course": course,
        "course_wheel": course_wheel.name,
        "full_data": with_data and copy_full_data(out),
        "wheels": sorted(p.name for p in wheels.glob("*.whl")),
    }
    (out / "KIT.json").write_text(json.dumps(info, indent=2) + "\n")
    write_install_script(out, course, info["python"], list(check))
    return info


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="the kit's folder (made if missing)")
    parser.add_argument(
        "--torch",
        choices=("cpu", "default"),
        default=None,
        help="cpu: PyTorch's CPU-only wheels (default where they exist); default: PyPI's torch",
    )
    parser.add_argument("--platform", dest="system", help="refused unless it is this machine's OS")
    parser.add_argument("--python-version", dest="python", help="refused unless it is this Python (e.g. 3.11)")
    args = parser.parse_args(argv)
    try:
        refuse_other_platform({"system": args.system, "python": args.python})
        info = build_kit(args.out, torch=args.torch)
    except (KitError, subprocess.CalledProcessError) as error:
        print(f"kit: {error}", file=sys.stderr)
        return 2
    size = sum(p.stat().st_size for p in args.out.rglob("*") if p.is_file())
    print(
        f"kit: {args.out} ({size / 1e9:.2f} GB, {len(info['wheels'])} wheels, torch: {info['torch']}) "
        f"for {info['system']} {info['machine']} with Python {info['python']}; on a laptop: {args.out}/install.sh"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
