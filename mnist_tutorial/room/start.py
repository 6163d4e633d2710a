"""Start and stop a room: JupyterHub and its proxy on this machine, from the configuration hub_config.py writes."""

import contextlib
import dataclasses
import importlib.util
import os
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterable
from pathlib import Path

from ..defaults import IDLE_MINUTES, PRACTICE_MARKER, STUDENT_MEMORY_GB
from ..errors import ConfigError, TutorialError
from . import accounts, cgroups
from .capacity import Capacity, capacity
from .hub_config import PAGE, TEACHER, write_config

STUDENT_PASSWORD_MIN, TEACHER_PASSWORD_MIN = 8, 32  # JupyterHub's SharedPasswordAuthenticator requires these
READABLE = "abcdefghjkmnpqrstuvwxyz23456789"  # a room password read aloud: no 0/o, 1/l/i
START_TIMEOUT_S = 60  # a hub not answering by then has failed; it usually answers in a few seconds
OWN_ACCOUNTS = (
    "Each student's server runs as an account of their own, so one student's code cannot open another's files "
    "(the room password still lets anyone sign in under any name: students keep to their own)."
)
SHARED_ACCOUNT = (
    "Not run as root: every student's server runs as this account, so students can open and change each other's "
    "files (run the room as root to give each student an account of their own)."
)


class RoomError(TutorialError, RuntimeError):
    """The room could not start: a missing program, or JupyterHub stopped; the message says which."""


@dataclasses.dataclass
class Room:
    """A running room: its address, its passwords and the JupyterHub process (stop() ends it and all it started)."""

    url: str
    students_password: str
    teacher_password: str
    folder: Path
    own_accounts: bool
    public: bool
    process: subprocess.Popen
    started_in_s: float
    capacity: Capacity | None = None
    memory_cgroups: Path | None = None  # each student's cgroup is in it; None: memory not limited, for `unlimited`
    unlimited: str = ""  # why memory is not limited per student
    idle_minutes: float = IDLE_MINUTES

    def announcement(self) -> str:
        """What the teacher reads once the room is open, in plain words."""
        where = "the room's network" if self.public else "this machine only (--public opens it to the room's network)"
        lines = [
            f"The room is open on {where}.",
            f"Students open {self.url} and sign in with a name of their own and the room password: "
            f"{self.students_password}",
            f"The teacher signs in at {self.url}hub/admin as {TEACHER} with the password: {self.teacher_password}",
            f"The teacher's page, who is where and everyone's notebooks as one zip: {self.url}services/{PAGE}/",
            *([self.capacity.line()] if self.capacity else []),
            (
                f"Each student's server and kernels may use {self.capacity.per_student_gb:g} GB of memory: a kernel "
                "that needs more is stopped, and the student sees it restart."
                if self.memory_cgroups and self.capacity
                else f"Memory is not limited per student: {self.unlimited or 'not asked'}."
            ),
            f"A server nobody used for {self.idle_minutes:g} minutes is stopped; the student's files stay.",
            OWN_ACCOUNTS if self.own_accounts else SHARED_ACCOUNT,
            "Ctrl-C closes the room; "
            + (
                "each student's work stays in /home/room-NAME until `mnist-tutorial room --clean` removes them all."
                if self.own_accounts
                else f"each student's work stays in {self.folder / 'students'}/NAME."
            ),
        ]
        return "\n".join(lines)

    def stop(self) -> None:
        """Stop JupyterHub, which stops every student's server and the proxy; kill what is left after 30 s."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        if self.memory_cgroups is not None:
            cgroups.remove(self.memory_cgroups)  # what is still in use (a stray process) goes at --clean

    def __enter__(self) -> "Room":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def start(
    *,
    folder: Path,
    practice: Path,
    students_password: str | None = None,
    teacher_password: str | None = None,
    public: bool = False,
    port: int = 8000,
    python: Path = Path(sys.executable),
    students: int | None = None,
    idle_minutes: float = IDLE_MINUTES,
) -> Room:
    """Start a room whose state (configuration, database, log) lives in `folder`, handing out `practice`'s copies.

    `practice`: a folder of practice copies written by tools/make_student.py (`make student`), never the solutions.
    `python`: the Python (with the course and JupyterHub) that students' servers run. Passwords left out are generated.
    `students`: the most students at once (default: what this machine's memory holds, STUDENT_MEMORY_GB each).
    `idle_minutes`: a student's server unused for that long is stopped, their files kept.
    """
    if not (practice / PRACTICE_MARKER).is_file():
        raise ConfigError(f"`practice` must be a folder written by `make student`; {practice} is not one")
    students_password = students_password or "".join(secrets.choice(READABLE) for _ in range(10))
    teacher_password = teacher_password or secrets.token_urlsafe(24)  # 32 characters
    check_passwords(students_password, teacher_password)
    if students is not None and students < 1:
        raise ConfigError(f"`students` must be at least 1, not {students}")
    if not idle_minutes > 0:
        raise ConfigError(f"`idle_minutes` must be more than 0, not {idle_minutes}")
    if not port_is_free(port):
        raise ConfigError(f"`port` {port} is taken on this machine: choose another")
    import psutil

    seats = capacity(psutil.virtual_memory().available, STUDENT_MEMORY_GB, students)
    own_accounts = os.geteuid() == 0
    closed = closed_to_others(Path(python)) if own_accounts else None
    if closed is not None:
        raise ConfigError(
            f"Students' accounts cannot run `python` {python}: {closed} is closed to other accounts; install the "
            "course where every account can read it (a virtual environment under /opt, say)"
        )
    proxy = required_programs()
    folder = Path(folder).resolve()
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    memory_cgroups, unlimited = cgroups.make_room_cgroup(port)
    config = write_config(
        folder,
        students_password=students_password,
        teacher_password=teacher_password,
        public=public,
        ports=(port, free_port(), free_port(), free_port()),
        practice=Path(practice).resolve(),
        own_accounts=own_accounts,
        proxy=proxy,
        python=Path(python),
        seats=seats.students,
        memory_limit=round(STUDENT_MEMORY_GB * 1e9),
        memory_cgroups=memory_cgroups,
        idle_minutes=idle_minutes,
    )
    began = time.monotonic()
    with open(folder / "jupyterhub.log", "ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "jupyterhub", "-f", str(config)],
            cwd=folder,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stop() can end whatever it leaves behind
        )
    host = address() if public else "127.0.0.1"
    room = Room(
        f"http://{host}:{port}/",
        students_password,
        teacher_password,
        folder,
        own_accounts,
        public,
        process,
        0,
        seats,
        memory_cgroups,
        unlimited,
        idle_minutes,
    )
    try:
        wait_until_ready(room, port)
    except BaseException:  # Ctrl-C too: a room that did not open leaves nothing running
        room.stop()
        raise
    room.started_in_s = time.monotonic() - began
    return room


def clean(students: Iterable[str] | None = None) -> list[str]:
    """Remove the student accounts a room made (every one, or `students`'), with their homes, and the memory cgroups
    no process uses (as root); return the accounts' names."""
    if os.geteuid() != 0:
        return []  # without root the room created no account
    cgroups.remove_room_cgroups()
    try:
        return accounts.remove_accounts(students)
    except subprocess.CalledProcessError as error:  # userdel refuses an account whose programs still run
        said = error.stderr.decode(errors="replace").strip()
        raise RoomError(f"Could not remove the students' accounts ({said}): close the room first") from error


def required_programs() -> str:
    """The proxy's path, once JupyterHub (and, as root, useradd) are known to be here."""
    if importlib.util.find_spec("jupyterhub") is None:
        raise RoomError("The room needs JupyterHub: install the course with pip install 'mnist-tutorial[room]'")
    proxy = shutil.which("configurable-http-proxy")
    if proxy is None:
        raise RoomError(
            "The room needs configurable-http-proxy on PATH: apt-get install node-configurable-http-proxy, "
            "or npm install configurable-http-proxy (make room does it)"
        )
    if os.geteuid() == 0 and shutil.which("useradd") is None:
        raise RoomError("Run as root, the room creates an account per student with useradd, which is not on PATH")
    return proxy


def check_passwords(students_password: str, teacher_password: str) -> None:
    if len(students_password) < STUDENT_PASSWORD_MIN:
        raise ConfigError(f"`students_password` needs at least {STUDENT_PASSWORD_MIN} characters")
    if len(teacher_password) < TEACHER_PASSWORD_MIN:
        raise ConfigError(
            f"`teacher_password` needs at least {TEACHER_PASSWORD_MIN} characters (JupyterHub's rule for the "
            "admin); leave it out and the room makes one"
        )
    if students_password == teacher_password:
        raise ConfigError("`students_password` and `teacher_password` must differ")


def closed_to_others(program: Path) -> Path | None:
    """The first folder on the way to `program` (links followed) that other accounts cannot enter, else None."""
    real = program.resolve()
    for folder in reversed(real.parents):
        if not folder.stat().st_mode & stat.S_IXOTH:
            return folder
    return None if real.stat().st_mode & stat.S_IXOTH else real


def port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the proxy does: a room just closed frees it
        try:
            probe.bind(("", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    """A port on loopback that nothing listens on now (for the hub and the proxy's API)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def address() -> str:
    """This machine's address on the room's network (a UDP socket's route: nothing is sent)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("10.255.255.255", 1))
            return probe.getsockname()[0]
        except OSError:
            return socket.gethostname()


def wait_until_ready(room: Room, port: int) -> None:
    """Return once the hub answers through the proxy; raise if it exits or does not answer in time."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if room.process.poll() is not None:
            break
        health = f"http://127.0.0.1:{port}/hub/health"
        with contextlib.suppress(urllib.error.URLError, ConnectionError), urllib.request.urlopen(health, timeout=2):
            return  # urlopen raises on any answer but success
        time.sleep(0.2)
    log = (room.folder / "jupyterhub.log").read_text(errors="replace").strip().splitlines()
    last = log[-1].strip() if log else "none"
    raise RoomError(f"JupyterHub did not start; its last words: {last} (see {room.folder / 'jupyterhub.log'})")
