"""Check the room from a kit with no network: build a small kit, start the room from it under `unshare -n`, sign in.

    python tools/kit_room_check.py [FOLDER] [--again]   (default FOLDER: build/kit-room-check; as root, on Linux)

What it does, printing each step's seconds:
1. builds a kit in FOLDER/kit with tools/kit.py, as `make wheelhouse` does (pip's own configuration, npm for the
   proxy), except torch and torchvision: the kit holds small stand-ins for them (version +standin, never installed),
   so that the check does not copy and install 3 GB of PyTorch;
2. links this environment's real torch, torchvision and what they alone need into FOLDER/torch-alone, and makes the
   room's environment FOLDER/room/.venv (from the system's Python, which every account can run) see that folder
   through a .pth file: torch comes from there; every other package the room installs comes from the kit;
3. in a network namespace with only loopback up, runs the kit's room.sh as a teacher would, waits for the room's
   announcement, signs a student in over HTTP (JupyterHub's login form, its OAuth into the student's server), lists
   their folder through their server, and signs the teacher in to the teacher's page;
4. closes the room with Ctrl-C (SIGINT) and removes the student account it made (only that one).
It fails with one line naming the step; the kit and the room's folder stay in FOLDER for a look.
"""

import argparse
import http.cookiejar
import importlib.metadata
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

sys.path.insert(0, str(Path(__file__).resolve().parent))
import kit

ROOT = Path(__file__).resolve().parent.parent
STAND_INS = ("torch", "torchvision")  # the kit holds stand-ins; the room's environment sees the real ones
STUDENT = "kitcheck"  # its account, room-kitcheck, is the only one this check removes
STUDENT_PASSWORD = "kit-check-room"
TEACHER_PASSWORD = "kit-check-teacher-password-32-chars"
SYSTEM_PYTHON = Path(f"/usr/bin/python{sys.version_info.major}.{sys.version_info.minor}")
INSIDE = "MNIST_TUTORIAL_ROOM_CHECK_INSIDE"
DEADLINE_S = 180  # a hang deadline: the room opens and a student's server starts in seconds


class CheckFailed(Exception):
    """A step of the check went wrong; the message says which and what was seen."""


def step(name: str, began: float) -> None:
    print(f"kit room check: {name} ({time.monotonic() - began:.1f} s)", flush=True)


def stand_in_wheel(folder: Path, name: str) -> None:
    """A wheel named `name`, version of this environment's +standin, holding nothing: it satisfies pip's download."""
    version = f"{importlib.metadata.version(name)}+standin"
    info = f"{name}-{version}.dist-info"
    with zipfile.ZipFile(folder / f"{name}-{version}-py3-none-any.whl", "w") as archive:
        archive.writestr(f"{info}/METADATA", f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
        archive.writestr(f"{info}/WHEEL", "Wheel-Version: 1.0\nGenerator: kit_room_check\nRoot-Is-Purelib: true\n")
        archive.writestr(f"{info}/RECORD", "")


def build_small_kit(out: Path) -> dict:
    """The kit, with stand-ins for torch and torchvision in its wheels before pip fills the rest."""
    (out / "wheels").mkdir(parents=True, exist_ok=True)
    for name in STAND_INS:
        stand_in_wheel(out / "wheels", name)
    return kit.build_kit(out, torch="default", with_data=False, room=True)


def closure(names: tuple[str, ...]) -> set[str]:
    """`names` and every distribution they need in this environment (extras asked for included), by canonical name."""
    found, todo = set(), [(name, frozenset()) for name in names]
    while todo:
        name, extras = todo.pop()
        name = canonicalize_name(name)
        if (name, extras) in found:
            continue
        found.add((name, extras))
        for text in importlib.metadata.distribution(name).requires or []:
            requirement = Requirement(text)
            marker = requirement.marker
            if marker is None or any(marker.evaluate({"extra": extra}) for extra in {"", *extras}):
                todo.append((requirement.name, frozenset(requirement.extras)))
    return {name for name, _ in found}


def link_torch_alone(folder: Path, kit_wheels: list[str]) -> list[str]:
    """Links in `folder` to torch, torchvision and what they need that the kit does not hold; returns their names."""
    held = {canonicalize_name(name.split("-")[0]) for name in kit_wheels if "+standin" not in name}
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    names = sorted(closure(STAND_INS) - held)
    for name in names:
        dist = importlib.metadata.distribution(name)
        for top in {Path(str(file)).parts[0] for file in dist.files or []} - {"..", "__pycache__"}:
            link = folder / top
            if not link.exists():
                link.symlink_to(Path(dist.locate_file(top)))
    return names


def make_room_environment(target: Path, torch_alone: Path) -> None:
    """FOLDER/.venv from the system's Python (every account can run it), seeing torch_alone through a .pth file."""
    shutil.rmtree(target, ignore_errors=True)
    subprocess.run([SYSTEM_PYTHON, "-m", "venv", target / ".venv"], check=True)
    site = next((target / ".venv" / "lib").glob("python*/site-packages"))
    (site / "torch-alone.pth").write_text(f"{torch_alone}\n")


class Browser:
    """A browser's cookies and redirects over HTTP: JupyterHub's login form and OAuth need no more."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def get(self, path: str) -> tuple[int, str, str]:
        with self.opener.open(self.base + path.lstrip("/"), timeout=30) as response:
            return response.status, response.url, response.read().decode(errors="replace")

    def sign_in(self, name: str, password: str) -> str:
        """Post the login form as a person would; returns the address it ended on."""
        _, _, page = self.get("hub/login")
        xsrf = re.search(r'name="_xsrf"\s+value="([^"]+)"', page)
        form = {"username": name, "password": password, **({"_xsrf": xsrf.group(1)} if xsrf else {})}
        data = urllib.parse.urlencode(form).encode()
        with self.opener.open(self.base + "hub/login", data=data, timeout=60) as response:
            return response.url


def wait_for(what: str, probe, deadline_s: float = DEADLINE_S):
    """`probe()`'s first answer other than None, tried every half second until `deadline_s`."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        try:
            found = probe()
        except OSError:
            found = None
        if found is not None:
            return found
        time.sleep(0.5)
    raise CheckFailed(f"{what}: nothing within {deadline_s} s")


def start_room(kit_folder: Path, target: Path) -> tuple[subprocess.Popen, list[str], str]:
    """room.sh as a teacher types it (sudo sh KIT/room.sh FOLDER ...); returns it, its lines and the students' URL."""
    command = ["sh", str(kit_folder / "room.sh"), str(target), "--password", STUDENT_PASSWORD]
    command += ["--teacher-password", TEACHER_PASSWORD, "--port", str(free_port())]
    env = {**kit.laptop_env(), "PYTHON": str(SYSTEM_PYTHON)}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(line.rstrip("\n") for line in process.stdout), daemon=True).start()

    def announced() -> str | None:
        if process.poll() is not None:
            raise CheckFailed(f"room.sh ended with exit status {process.returncode}: {' | '.join(lines[-5:])}")
        found = [re.search(r"Students open (\S+) ", line) for line in lines]
        return next((hit.group(1) for hit in found if hit), None)

    return process, lines, wait_for("the room's announcement", announced, 600)  # the first start installs


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def student_folder(url: str, notebooks: list[str]) -> list[str]:
    """Sign the student in and list their folder through their own server; check the practice copies are there."""
    student = Browser(url)
    student.sign_in(STUDENT, STUDENT_PASSWORD)

    def opened() -> str | None:  # JupyterLab's page, once their server runs: its OAuth gives the browser a cookie
        status, where, _ = student.get(f"user/{STUDENT}/lab")
        return where if status == 200 and urllib.parse.urlparse(where).path == f"/user/{STUDENT}/lab" else None

    wait_for("the student's server", opened)
    _, _, body = student.get(f"user/{STUDENT}/api/contents")
    names = sorted(item["name"] for item in json.loads(body)["content"])
    missing = sorted(set(notebooks) - set(names))
    if missing or any("solution" in name for name in names):
        raise CheckFailed(f"the student's folder holds {names}: missing {missing}, or a solution")
    return names


def teacher_page(url: str) -> str:
    """Sign the teacher in and open the teacher's page; returns its text."""
    teacher = Browser(url)
    teacher.sign_in("teacher", TEACHER_PASSWORD)
    status, _, page = teacher.get("services/room/")
    if status != 200 or STUDENT not in page:
        raise CheckFailed(f"the teacher's page answered {status} without the student {STUDENT}")
    return page


def proxy_programs() -> list[str]:
    """Every running configurable-http-proxy's program and script, read from /proc (another room may run here)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            words = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        if any(word.endswith(b"/configurable-http-proxy") for word in words[:2]):
            found.append(" ".join(word.decode(errors="replace") for word in words[:2]))
    return found


def close(process: subprocess.Popen, lines: list[str]) -> None:
    """Ctrl-C to the room, as the teacher closes it; then remove the student's account (only it)."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            raise CheckFailed("the room did not close within 60 s of Ctrl-C") from None
    if os.geteuid() == 0 and shutil.which("userdel"):
        subprocess.run(["userdel", "--remove", f"room-{STUDENT}"], capture_output=True)


def not_from_the_kit(venv: Path, kit_wheels: list[str]) -> list[str]:
    """What the room's environment holds that no wheel of the kit is (venv's own pip and setuptools excepted)."""
    held = {(canonicalize_name(name.split("-")[0]), name.split("-")[1]) for name in kit_wheels}
    (site,) = (venv / "lib").glob("python*/site-packages")
    found = [(canonicalize_name(d.metadata["Name"]), d.version) for d in importlib.metadata.distributions(path=[site])]
    ensurepip = {"pip", "setuptools"}  # `python -m venv` puts its own there
    return sorted(f"{name} {version}" for name, version in set(found) - held if name not in ensurepip)


def inside(folder: Path) -> int:
    """Steps 3 and 4, in the network namespace."""
    info = json.loads((folder / "kit" / "KIT.json").read_text())
    began = time.monotonic()
    process, lines, url = start_room(folder / "kit", folder / "room")
    step(f"room.sh installed the course with the room from the kit and opened it at {url}", began)
    try:
        ours = [found for found in proxy_programs() if f"{folder / 'room' / 'proxy'}/" in found]
        if not ours:
            raise CheckFailed(f"no proxy from {folder / 'room' / 'proxy'} runs: {proxy_programs()}")
        step(f"the proxy is the kit's: {ours[0]}", began)
        others = not_from_the_kit(folder / "room" / ".venv", info["wheels"])
        if others:
            raise CheckFailed(f"the room's environment holds packages the kit does not: {', '.join(others)}")
        step("every package in the room's environment is a wheel of the kit (torch's, side-loaded, aside)", began)
        names = student_folder(url, info["notebooks"])
        step(f"{STUDENT} signed in; their server lists {len(names)} files: {', '.join(names)}", began)
        if os.geteuid() == 0:
            home = Path(f"/home/room-{STUDENT}")
            owner = {path.owner() for path in home.glob("*.ipynb")}
            step(f"their folder {home} (mode {home.stat().st_mode & 0o777:o}) is owned by {owner}", began)
        teacher_page(url)
        step("the teacher signed in and the teacher's page lists the student", began)
    finally:
        close(process, lines)
    step(f"the room closed: {lines[-1] if lines else 'no output'}", began)
    return 0


def outside(folder: Path, again: bool) -> int:
    """Steps 1 and 2 with this machine's network (`again`: kept from a run before), then 3 and 4 in a network
    namespace with only loopback."""
    if sys.platform != "linux" or os.geteuid() != 0 or not SYSTEM_PYTHON.is_file():
        raise CheckFailed(f"run it as root on Linux with {SYSTEM_PYTHON}: the room makes accounts, unshare needs root")
    began = time.monotonic()
    if not (again and (folder / "room" / ".venv").is_dir()):
        info = build_small_kit(folder / "kit")
        size = info["size_bytes"] / 1e6
        step(f"the kit: {len(info['wheels'])} wheels, proxy {info['room']['proxy']['version']}, {size:.0f} MB", began)
        names = link_torch_alone(folder / "torch-alone", info["wheels"])
        make_room_environment(folder / "room", folder / "torch-alone")
        step(f"torch alone, from this environment: {', '.join(names)}", began)
    command = kit.isolated([sys.executable, str(Path(__file__).resolve()), str(folder)])  # steps 3 and 4
    if command is None:
        raise CheckFailed("unshare -n does not work here")
    print("kit room check: in a network namespace with only loopback (unshare -n)", flush=True)
    return subprocess.run(command, env={**os.environ, INSIDE: "1"}).returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", type=Path, default=ROOT / "build" / "kit-room-check")
    parser.add_argument("--again", action="store_true", help="keep the kit and the room's folder of a run before")
    args = parser.parse_args(argv)
    folder = args.folder.resolve()
    try:
        return inside(folder) if os.environ.get(INSIDE) else outside(folder, args.again)
    except (CheckFailed, kit.KitError) as error:
        print(f"kit room check: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
