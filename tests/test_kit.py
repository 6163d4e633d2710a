"""The workshop kit, end to end on hand-made wheels: build it from local folders, install it offline, start it.

Nothing here downloads: PyPI is a folder of hand-made wheels, PyTorch's CPU-only index a folder laid out as one
(or a closed port, or a server that never answers), and JupyterLab a stand-in that serves on 127.0.0.1. A real
kit (3 GB) is built and checked by `make kit-check`.
"""

import base64
import hashlib
import importlib.util
import io
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from pathlib import Path

import nbformat
import pytest
from helpers import run_with_deadline

pytestmark = pytest.mark.slow  # make check leaves these to make test

KIT_TOOL = Path(__file__).resolve().parent.parent / "tools" / "kit.py"
spec = importlib.util.spec_from_file_location("kit", KIT_TOOL)
kit = importlib.util.module_from_spec(spec)
spec.loader.exec_module(kit)

HERMETIC_PIP = kit.HERMETIC_PIP
# A stand-in for JupyterLab: notes where and how it was started, then serves its folder's names on 127.0.0.1.
FAKE_LAB = """import http.server, json, os, sys
from pathlib import Path
room = {k: os.environ.get(k) for k in ("MNIST_TUTORIAL_SOURCE", "MNIST_TUTORIAL_OFFLINE")}
Path("started.json").write_text(json.dumps({"cwd": os.getcwd(), "argv": sys.argv[1:], "env": room}))

class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({"content": [{"name": path.name} for path in Path().iterdir()]}).encode()
        self.send_response(200 if self.path.endswith("token=abc") else 403)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass

server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
print(f"    http://127.0.0.1:{server.server_port}/lab?token=abc", file=sys.stderr, flush=True)
server.serve_forever()
"""
FAKE_DOCTOR = (
    "import os, sys\n\ndef main():\n    import fake_dep_a, fake_dep_b\n    print('fake doctor: PASS', sys.argv[1:])\n"
)
FAKE_DOCTOR += "    sys.exit(int(os.environ.get('FAKE_DOCTOR_EXIT', '0')))\n"
# A stand-in for `python -m mnist_tutorial room`: notes how room.sh started it, and runs the proxy PATH gives it.
FAKE_ROOM = """import json, os, shutil, subprocess, sys
import fake_hub
proxy = shutil.which("configurable-http-proxy")
said = subprocess.run([proxy, "--version"], capture_output=True, text=True).stdout.strip()
env = {key: os.environ.get(key) for key in ("MNIST_TUTORIAL_OFFLINE",)}
print(json.dumps({"cwd": os.getcwd(), "argv": sys.argv[1:], "proxy": proxy, "proxy_said": said, "env": env}))
"""
# A stand-in for configurable-http-proxy's npm package: a node script that says its version and arguments.
FAKE_PROXY = 'console.log("fake proxy 9.9.9", process.argv.slice(2).join(" "));\n'


def write_wheel(
    folder: Path, name: str, version: str, *, requires=(), files=None, scripts=None, python: str | None = None
) -> Path:
    """A minimal pure-Python wheel, written by hand (METADATA, WHEEL, RECORD, entry points; `python`: its
    Requires-Python)."""
    module = name.replace("-", "_")
    dist_info = f"{module}-{version}.dist-info"
    extras = sorted({found for r in requires for found in re.findall(r'extra == "([^"]+)"', r)})
    metadata = [f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}"] + [f"Provides-Extra: {e}" for e in extras]
    metadata += [f"Requires-Dist: {r}" for r in requires] + ([f"Requires-Python: {python}"] if python else [])
    contents = {
        f"{module}/__init__.py": f"VERSION = {version!r}\n",
        **(files or {}),
        f"{dist_info}/METADATA": "\n".join(metadata) + "\n",
        f"{dist_info}/WHEEL": "Wheel-Version: 1.0\nGenerator: hand\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    if scripts:
        contents[f"{dist_info}/entry_points.txt"] = "[console_scripts]\n" + "".join(
            f"{k} = {v}\n" for k, v in scripts.items()
        )
    record = []
    for path, text in contents.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(text.encode())}")
    contents[f"{dist_info}/RECORD"] = "\n".join([*record, f"{dist_info}/RECORD,,"]) + "\n"
    wheel = folder / f"{module}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, text in contents.items():
            archive.writestr(path, text)
    return wheel


@pytest.fixture(scope="module", autouse=True)
def hermetic_pip():
    """pip as on a fresh machine: no configuration file, no PIP_* variable (this one's find-links hold real torch)."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        for key in [key for key in os.environ if key.startswith("PIP_")]:
            monkeypatch.delenv(key)
        for key, value in HERMETIC_PIP.items():
            monkeypatch.setenv(key, value)
        yield


def as_index(folder: Path) -> str:
    """`folder`'s wheels laid out as a simple index (one folder per project, each with an index.html): its URL."""
    index = folder.parent / f"{folder.name}-index"
    for wheel in folder.glob("*.whl"):
        project = index / wheel.name.split("-")[0].lower().replace("_", "-")
        project.mkdir(parents=True, exist_ok=True)
        shutil.copy2(wheel, project)
        links = "".join(f'<a href="{w.name}">{w.name}</a>\n' for w in sorted(project.glob("*.whl")))
        (project / "index.html").write_text(f"<html><body>\n{links}</body></html>\n")
    return index.as_uri()


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    """A local "PyPI" (a folder): two dependencies, a build requirement stand-in, a JupyterLab stand-in, PyPI's torch
    (with its CUDA wheels) and torchvision, and the fake course that needs them."""
    folder = tmp_path_factory.mktemp("pypi") / "index"
    folder.mkdir()
    write_wheel(folder, "fake-dep-a", "1.0")
    here = f"{sys.version_info.major}.{sys.version_info.minor}"
    latest = f"{here}.{max(sys.version_info.micro, 1)}"  # this Python's release: what the kit builder runs
    write_wheel(folder, "fake-dep-a", "1.1", python=f">={latest}")  # newer, but not for this Python's .0 release
    write_wheel(folder, "fake-dep-b", "2.0", requires=["fake-dep-a>=1"])
    write_wheel(folder, "setuptools", "99.0")  # what the kit adds for offline `pip install -e .`
    write_wheel(folder, "jupyterlab", "4.9", files={"jupyterlab/__main__.py": FAKE_LAB})
    write_wheel(folder, "nvidia-cublas-cu12", "12.0")
    write_wheel(folder, "triton", "3.0")
    write_wheel(folder, "torch", "2.5.0", requires=["nvidia-cublas-cu12", "triton", "fake-dep-a"])
    write_wheel(folder, "torchvision", "0.20.0", requires=["torch==2.5.0"])
    write_wheel(folder, "fake-hub", "5.3", requires=["fake-dep-a"])  # the room's JupyterHub
    requires = ["fake-dep-b>=2", "jupyterlab", "torch>=2.5", "torchvision>=0.20", 'fake-dev-tool; extra == "dev"']
    course = write_wheel(
        folder.parent,
        "fake-course",
        "0.1",
        requires=[*requires, 'fake-hub>=5.3; extra == "room"', 'fake-course[room]; extra == "dev"'],
        files={"fake_course/doctor.py": FAKE_DOCTOR, "fake_course/__main__.py": FAKE_ROOM},
        scripts={"fake-course": "fake_course.doctor:main"},
    )
    return folder, course


@pytest.fixture(scope="module")
def proxy_package(tmp_path_factory):
    """configurable-http-proxy's stand-in as an npm tarball: npm installs it with no network."""
    tarball = tmp_path_factory.mktemp("npm") / "configurable-http-proxy-9.9.9.tgz"
    manifest = {
        "name": "configurable-http-proxy",
        "version": "9.9.9",
        "license": "BSD-3-Clause",
        "engines": {"node": ">= 10.0"},
        "bin": {"configurable-http-proxy": "bin/configurable-http-proxy"},
    }
    with tarfile.open(tarball, "w:gz") as archive:
        for name, text in {"package.json": json.dumps(manifest), "bin/configurable-http-proxy": FAKE_PROXY}.items():
            entry = tarfile.TarInfo(f"package/{name}")
            entry.size, entry.mode = len(text.encode()), 0o755
            archive.addfile(entry, io.BytesIO(text.encode()))
    return str(tarball)


@pytest.fixture
def cpu_index(tmp_path):
    """A local stand-in for PyTorch's CPU-only index: torch and torchvision +cpu, as a simple index's URL."""
    folder = tmp_path / "cpu"
    folder.mkdir()
    write_wheel(folder, "torch", "2.5.0+cpu", requires=["fake-dep-a"])
    write_wheel(folder, "torchvision", "0.20.0+cpu", requires=["torch==2.5.0"])
    write_wheel(folder, "torch", "2.6.0+cpu", requires=["fake-dep-a"])  # newer, but not the one torchvision needs
    return as_index(folder)


@pytest.fixture(scope="module")
def notebooks(tmp_path_factory):
    """A lesson notebook with an output, a solution's link and its solution: the kit must clear and drop them."""
    folder = tmp_path_factory.mktemp("course") / "notebooks"
    (folder / "solutions").mkdir(parents=True)
    cell = nbformat.v4.new_code_cell(
        "print(1)", execution_count=1, outputs=[nbformat.v4.new_output("stream", text="1")]
    )
    link = nbformat.v4.new_markdown_cell("See [the solution](solutions/01_model.ipynb).")
    nbformat.write(nbformat.v4.new_notebook(cells=[link, cell]), folder / "01_model.ipynb")
    nbformat.write(nbformat.v4.new_notebook(cells=[cell]), folder / "solutions" / "01_model.ipynb")
    return folder


def build(out, index, notebooks, *, torch="default", cpu_index="http://127.0.0.1:9/", proxy=None):
    folder, course = index
    return kit.build_kit(
        out,
        torch=torch,
        course_wheel=course,
        pip_args=["--no-index", "--find-links", str(folder)],
        check=("fake-course", "doctor"),
        notebooks=notebooks,
        with_data=False,
        cpu_index=cpu_index,  # a closed port: a default kit never asks it
        room=proxy is not None,
        proxy=proxy,
    )


@pytest.fixture(scope="module")
def default_kit(tmp_path_factory, index, notebooks, proxy_package):
    """A kit of PyPI's torch with the room, built once: (its folder, what build_kit returned). Tests install it, never
    change it."""
    out = tmp_path_factory.mktemp("built") / "kit"
    return out, build(out, index, notebooks, proxy=proxy_package)


def assert_matches_its_wheels(out: Path, info: dict) -> None:
    """KIT.json is what build_kit returned, and lists exactly the wheels in the kit, with their total size."""
    wheels = sorted((out / "wheels").glob("*.whl"))
    assert json.loads((out / "KIT.json").read_text()) == info
    assert info["wheels"] == [wheel.name for wheel in wheels]
    assert info["wheels_bytes"] == sum(wheel.stat().st_size for wheel in wheels)


def test_a_cpu_kit_holds_the_cpu_build_and_says_so(tmp_path, index, notebooks, cpu_index):
    out = tmp_path / "kit"
    info = build(out, index, notebooks, torch="cpu", cpu_index=cpu_index)
    assert_matches_its_wheels(out, info)
    assert (info["torch_asked"], info["torch"], info["torch_build"], info["gpu_wheels"]) == (
        "cpu",
        "2.5.0+cpu",
        "cpu",
        [],
    )
    assert "torchvision-0.20.0+cpu-py3-none-any.whl" in info["wheels"]
    assert "CPU-only: no CUDA libraries" in kit.summary(out, info)
    # Built without the room: neither its wheels nor its proxy nor room.sh.
    assert info["room"] is None
    assert not any(name.startswith("fake_hub") for name in info["wheels"])
    assert not (out / "proxy").exists() and not (out / "room.sh").exists()


def test_a_default_kit_records_its_cuda_build_and_holds_the_student_copies(default_kit):
    out, info = default_kit
    assert_matches_its_wheels(out, info)
    assert (info["torch_asked"], info["torch"], info["torch_build"]) == ("default", "2.5.0", "cuda")
    assert "fake_dep_a-1.0-py3-none-any.whl" in info["wheels"]  # what every release of this Python installs
    assert info["gpu_wheels"] == ["nvidia_cublas_cu12-12.0-py3-none-any.whl", "triton-3.0-py3-none-any.whl"]
    line = kit.summary(out, info)
    assert f"({info['size_bytes'] / 1e9:.2f} GB, 10 wheels; torch 2.5.0 with CUDA: 2 GPU library wheels" in line
    assert line.endswith(f"; the room, with configurable-http-proxy 9.9.9: sudo sh {out}/room.sh")
    assert info["notebooks"] == ["01_model.ipynb"]
    copy = nbformat.read(out / "notebooks" / "01_model.ipynb", as_version=4)
    assert copy.cells[1].outputs == [] and copy.cells[1].execution_count is None
    assert copy.cells[0].source == "See the solution (from your teacher)."
    assert not (out / "notebooks" / "solutions").exists()


def test_a_kit_carries_the_room_its_wheels_and_its_proxy(default_kit, proxy_package):
    out, info = default_kit
    assert info["room"]["requirements"] == ["fake-hub>=5.3"]  # the room extra, not dev's tools
    assert "fake_hub-5.3-py3-none-any.whl" in info["wheels"]
    proxy = info["room"]["proxy"]
    assert {key: proxy[key] for key in ("package", "version", "license", "node_engines", "asked", "launcher")} == {
        "package": "configurable-http-proxy",
        "version": "9.9.9",
        "license": "BSD-3-Clause",
        "node_engines": ">= 10.0",
        "asked": proxy_package,
        "launcher": "proxy/bin/configurable-http-proxy",
    }
    assert proxy["made_with"].startswith("npm ")
    assert proxy["made_with"].endswith(f"npm install --omit=dev --no-audit --no-fund --loglevel=error {proxy_package}")
    assert proxy["packages"] == {"configurable-http-proxy": "9.9.9"}
    assert proxy["bytes"] == sum(path.stat().st_size for path in (out / "proxy").rglob("*") if path.is_file())
    assert [path for path in out.rglob("*") if path.is_symlink()] == []  # a FAT stick holds no link
    said = subprocess.run([out / proxy["launcher"], "--version"], capture_output=True, text=True, check=True)
    assert said.stdout == "fake proxy 9.9.9 --version\n"  # the package, run by this machine's node
    assert re.search("@[A-Z_]+@", (out / "room.sh").read_text()) is None  # every placeholder filled


def test_room_sh_installs_the_room_from_the_kit_and_starts_it_offline(tmp_path, default_kit):
    out, _ = default_kit
    folder = f"room ✓ {HOSTILE}"  # relative, as typed
    command = ["sh", str(out / "room.sh"), folder, "--password", "a b'c"]
    command = (os.geteuid() == 0 and kit.isolated(command)) or command  # no network but loopback, where it can
    done = run_with_deadline(
        command, cwd=tmp_path, env={**os.environ, "PYTHON": sys.executable}, capture_output=True, timeout=300
    )
    assert done.returncode == 0, done.stdout.decode() + done.stderr.decode()
    target = tmp_path / folder
    started = json.loads(done.stdout.decode().splitlines()[-1])  # the fake room imported the fake hub: installed
    assert started == {
        "cwd": str(target),
        "argv": ["room", "--practice", f"{target}/practice", "--folder", f"{target}/hub", "--password", "a b'c"],
        "proxy": f"{target}/proxy/bin/configurable-http-proxy",  # the kit's, copied beside the course
        "proxy_said": "fake proxy 9.9.9 --version",
        "env": {"MNIST_TUTORIAL_OFFLINE": "1"},
    }
    assert sorted(path.name for path in (target / "practice").iterdir()) == [".student-copy", "01_model.ipynb"]
    assert pwned(tmp_path) == []


def room_script(folder: Path, node_engines: str) -> Path:
    """room.sh alone, for a kit whose proxy asks for `node_engines`."""
    here = f"{sys.version_info[0]}.{sys.version_info[1]}"
    proxy = {"package": "configurable-http-proxy", "version": "9.9.9", "launcher": "proxy/bin/configurable-http-proxy"}
    kit.write_scripts(folder, "fake-course", here, ["fake-course"], {**proxy, "node_engines": node_engines})
    return folder / "room.sh"


def test_room_sh_refuses_a_node_older_than_its_proxy_needs(tmp_path):
    done = install_like(room_script(tmp_path, ">= 999"), tmp_path / "server", cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr.startswith("room.sh: the kit's proxy (configurable-http-proxy 9.9.9) needs Node.js 999 or newer")
    assert done.stderr.rstrip().endswith("or build the kit with --proxy configurable-http-proxy@4")
    assert not (tmp_path / "server").exists()


@pytest.mark.parametrize(("name", "what"), [("practice", "is not the kit's"), ("proxy", "is not the kit's proxy")])
def test_room_sh_replaces_only_its_own_folders(tmp_path, name, what):
    target = tmp_path / "server"
    (target / name).mkdir(parents=True)
    (target / name / "mine.txt").write_text("a teacher's file")
    done = install_like(room_script(tmp_path, ">= 10"), target, cwd=tmp_path)
    assert (done.returncode, done.stderr) == (
        1,
        f"room.sh: {target}/{name} {what}, and room.sh writes there: move it away, or give room.sh another FOLDER\n",
    )
    assert sorted(path.relative_to(target).as_posix() for path in target.rglob("*")) == [name, f"{name}/mine.txt"]


@pytest.mark.parametrize(
    ("engines", "major"), [(">= 20", 20), (">=10.0", 10), (">= 18.12.1", 18), (None, 0), ("^18 || >=20", 0)]
)
def test_the_oldest_node_a_proxy_admits(engines, major):
    assert kit.node_major(engines) == major  # 0: the kit cannot tell, and room.sh checks nothing


def test_a_kit_takes_the_room_extra_only(index):
    _, course = index
    assert kit.extra_requirements_of(course, "room") == ["fake-hub>=5.3"]
    assert kit.extra_requirements_of(course, "dev") == ["fake-dev-tool", "fake-course[room]"]


@pytest.mark.parametrize("server", ["closed_port_url", "silent_server"])
def test_an_unreachable_cpu_index_stops_the_kit_in_one_line(tmp_path, index, notebooks, server, request, monkeypatch):
    url = request.getfixturevalue(server)
    monkeypatch.setattr(kit, "INDEX_TIMEOUT_S", 2)  # a server that never answers is given up on after one try
    out = tmp_path / "kit"
    started = time.monotonic()
    with pytest.raises(kit.KitError) as raised:
        build(out, index, notebooks, torch="cpu", cpu_index=url)
    message = str(raised.value)
    assert time.monotonic() - started < 60  # a hang deadline only: one 2 s try, never a retry loop
    assert "\n" not in message
    assert message.startswith(f"the CPU-only build of PyTorch was asked for, and its index {url} cannot be reached")
    assert message.endswith(
        "build with --torch default (make wheelhouse TORCH=default) for PyPI's torch with its "
        "CUDA libraries: a kit of about 3.2 GB instead of 0.35 GB"
    )
    assert [wheel.name for wheel in (out / "wheels").iterdir()] == ["fake_course-0.1-py3-none-any.whl"]
    assert not (out / "KIT.json").exists()


def test_a_cpu_kit_that_pip_would_fill_with_another_build_is_refused(tmp_path, index, notebooks):
    folder, _ = index
    with pytest.raises(kit.KitError, match=r"pip took torchvision-0\.20\.0-py3-none-any\.whl instead \(from a"):
        build(tmp_path / "kit", index, notebooks, torch="cpu", cpu_index=as_index(folder))  # PyPI's, not +cpu


HOSTILE = "$(touch PWNED)"  # in a folder's name, a shell would run it as a command


def pwned(*folders: Path) -> list[Path]:
    return [path for folder in folders for path in folder.rglob("PWNED")]


def install(out: Path, target: str | Path, *, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    """`sh out/install.sh TARGET` from `cwd`, with this Python."""
    return install_like(out / "install.sh", target, cwd=cwd, **env)


def install_like(script: Path, target: str | Path, *, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    """`sh SCRIPT TARGET` from `cwd`, with this Python."""
    return run_with_deadline(
        ["sh", script, target],
        cwd=cwd,
        env={**os.environ, "PYTHON": sys.executable, **env},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_a_kit_installs_offline_into_a_hostile_relative_folder_and_starts_on_the_room_setting(
    tmp_path, default_kit, monkeypatch
):
    out, _ = default_kit
    laptop = f"my course ✓ café {HOSTILE}"  # relative, with spaces, beyond ASCII and a command, as typed
    scratch = tmp_path / "tmp"  # kit.py's temporary folder, where it runs the start command without a shell
    scratch.mkdir()
    done = run_with_deadline(  # as make kit-check runs it
        [sys.executable, KIT_TOOL, str(out), "--check", "--laptop", laptop],
        cwd=tmp_path,
        env={**os.environ, "PYTHON": sys.executable, "TMPDIR": str(scratch)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    target = tmp_path / laptop
    if os.geteuid() == 0:
        assert done.stdout.startswith("kit check: in a network namespace with only loopback (unshare -n)")
    assert "fake doctor: PASS ['doctor']" in done.stdout  # install.sh's check
    assert "fake doctor: PASS ['doctor', '--run-notebook']" in done.stdout  # the laptop check
    assert f"Installed. Start the course with: sh {shlex.quote(f'{target}/start.sh')}" in done.stdout
    assert f"kit check: installed into {target} in " in done.stdout
    started = json.loads((target / "started.json").read_text())
    assert started["cwd"] == str(target)  # JupyterLab opened on the student copies
    assert started["env"] == {"MNIST_TUTORIAL_SOURCE": "sample", "MNIST_TUTORIAL_OFFLINE": "1"}
    assert started["argv"] == (["--allow-root"] if os.geteuid() == 0 else [])
    assert nbformat.read(target / "01_model.ipynb", as_version=4).cells[1].outputs == []
    freeze = [target / ".venv" / "bin" / "python", "-m", "pip", "list", "--format=freeze"]
    installed = run_with_deadline(freeze, capture_output=True, text=True, timeout=300).stdout.split()
    assert sorted(line.split("==")[0] for line in installed if line.startswith("fake")) == [
        "fake-course",
        "fake-dep-a",
        "fake-dep-b",
    ]
    # The printed start command, pasted into sh by a learner in another folder, starts that folder too.
    (target / "started.json").unlink()
    printed = kit.start_command(done.stdout.splitlines())
    learner = tmp_path / "learner"
    learner.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(learner))  # serve_and_stop starts its command there
    kit.serve_and_stop(["sh", "-c", printed], ["01_model.ipynb"], {**os.environ, "PYTHON": sys.executable})
    assert json.loads((target / "started.json").read_text())["cwd"] == str(target)
    assert pwned(tmp_path) == []


def test_install_ends_with_the_checks_exit_status(tmp_path, default_kit):
    done = install(default_kit[0], "rel course", cwd=tmp_path, FAKE_DOCTOR_EXIT="3")
    target = tmp_path / "rel course"
    assert done.returncode == 3
    assert "Installed" not in done.stdout
    assert done.stderr.strip() == (
        f"install.sh: the course is installed in {target}, but its check failed (exit status 3): do what the fix: "
        f"lines above say, then check again with: cd {shlex.quote(str(target))} && "
        ".venv/bin/python .venv/bin/fake-course doctor"
    )


def test_start_sh_opens_jupyterlab_on_its_folder(tmp_path):
    """The real JupyterLab, through start.sh, in a folder named as a learner might: it answers, then stops."""
    folder = tmp_path / "my course ✓"
    folder.mkdir()
    (folder / ".venv").symlink_to(sys.prefix)  # this environment stands in for the installed one
    kit.write_scripts(folder, "mnist-tutorial", "3.x", ["mnist-tutorial", "doctor"])
    (folder / "01_model.ipynb").write_text(nbformat.writes(nbformat.v4.new_notebook()))
    served = kit.serve_and_stop(["sh", str(folder / "start.sh"), "--no-browser"], ["01_model.ipynb"], dict(os.environ))
    assert "01_model.ipynb" in served["listed"]


def test_the_install_script_refuses_another_python(tmp_path):
    kit.write_install_script(tmp_path, "fake-course", "2.7", ["fake-course"])
    done = install(tmp_path, tmp_path / "laptop", cwd=tmp_path)
    here = f"{sys.version_info[0]}.{sys.version_info[1]}"
    assert done.returncode == 1
    assert f"This kit holds wheels for Python 2.7, and this python3 is {here}" in done.stderr
    assert not (tmp_path / "laptop").exists()


@pytest.mark.parametrize(("wanted", "word"), [({"system": "Windows"}, "system"), ({"python": "2.7"}, "python")])
def test_a_kit_for_another_platform_is_refused_in_a_sentence(wanted, word):
    if kit.this_platform()[word] == next(iter(wanted.values())):
        pytest.skip("this machine is the one asked for")
    with pytest.raises(kit.KitError, match=f"pip cannot resolve torch's dependencies for another {word}"):
        kit.refuse_other_platform(wanted)


def test_learners_get_no_dev_extras(index):
    _, course = index
    assert kit.requirements_of(course) == ["fake-dep-b>=2", "jupyterlab", "torch>=2.5", "torchvision>=0.20"]


def test_cpu_wheels_are_the_default_where_pytorch_has_them(monkeypatch):
    monkeypatch.setattr(kit.platform, "system", lambda: "Linux")
    monkeypatch.setattr(kit.platform, "machine", lambda: "x86_64")
    assert kit.default_torch() == "cpu"
    monkeypatch.setattr(kit.platform, "system", lambda: "Darwin")
    monkeypatch.setattr(kit.platform, "machine", lambda: "arm64")
    assert kit.default_torch() == "default"  # macOS wheels on PyPI carry no CUDA anyway


def test_a_folder_holding_another_kind_of_kit_is_refused(tmp_path):
    (tmp_path / "KIT.json").write_text('{"system": "Plan9", "machine": "mips", "python": "3.12", "torch": "cpu"}')
    with pytest.raises(kit.KitError, match=f"{tmp_path} holds a kit for Plan9 mips, Python 3.12, torch cpu: delete"):
        kit.build_kit(tmp_path, torch="cpu")


def test_a_start_command_that_sh_would_expand_is_refused(tmp_path):
    target = tmp_path / HOSTILE
    assert kit.start_words(f"sh {shlex.quote(f'{target}/start.sh')}", target) == ["sh", f"{target}/start.sh"]
    with pytest.raises(kit.KitError, match=r"install.sh printed the start command sh \"/"):
        kit.start_words(f'sh "{target}/start.sh"', target)  # shlex reads it as one word; sh would run touch


def snapshot(folder: Path) -> list[tuple]:
    """Everything under `folder`: each path, whether it is a link, and a file's text."""
    paths = sorted(folder.rglob("*"))
    return [(path, path.is_symlink(), path.read_text() if path.is_file() else None) for path in paths]


@pytest.mark.parametrize(
    ("name", "planted", "what"),
    [
        ("start.sh", "a link to a file", "is a symbolic link"),
        ("01_model.ipynb", "a link to nowhere", "is a symbolic link"),  # cp would create the file it names
        ("start.sh", "a folder", "is not a file"),  # cp would write start.sh into it
    ],
)
def test_install_refuses_a_link_or_a_folder_where_it_writes_a_file(tmp_path, default_kit, name, planted, what):
    laptop, target = tmp_path / "laptop", tmp_path / "laptop" / "course"
    target.mkdir(parents=True)
    if planted == "a folder":
        (target / name).mkdir()
    else:
        if planted == "a link to a file":
            (laptop / "victim").write_text("a file of the learner's")
        (target / name).symlink_to(laptop / "victim")
    before = snapshot(laptop)
    done = install(default_kit[0], target, cwd=tmp_path)
    assert (done.returncode, done.stderr) == (
        1,
        f"install.sh: {target}/{name} {what}, and install.sh writes there: move it away, or give install.sh "
        "another FOLDER\n",
    )
    assert snapshot(laptop) == before  # refused before anything was written: no .venv, the victim untouched


def test_the_kit_refuses_a_link_among_its_own_files(tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("a file of the teacher's")
    out = tmp_path / "kit"
    out.mkdir()
    (out / "start.sh").symlink_to(victim)
    with pytest.raises(kit.KitError, match=re.escape(f"{out}/start.sh is a symbolic link, and the kit writes a file")):
        kit.write_scripts(out, "fake-course", "3.x", ["fake-course", "doctor"])
    assert victim.read_text() == "a file of the teacher's"
    assert not (out / "install.sh").exists()  # nothing written before the refusal


def test_the_printed_commands_quote_their_paths():
    info = {"size_bytes": 0, "wheels": [], "torch": None, "machine": "x86_64", "python": "3.12"}
    out = Path(f"lap {HOSTILE}")
    assert kit.summary(out, {**info, "system": "Linux"}).endswith(f"on a laptop: sh 'lap {HOSTILE}/install.sh'")
    windows = kit.summary(Path("it’s $(x)"), {**info, "system": "Windows"})
    assert windows.endswith("on a laptop: powershell -ExecutionPolicy Bypass -File 'it’’s $(x)\\install.ps1'")
    assert kit.powershell_quote("a'b‘c") == "'a''b‘‘c'"
