"""Each student's memory limit: a memory cgroup of their own, under the cgroup the room was started in (as root).

cgroup v1 (`memory.limit_in_bytes`) and v2 (`memory.max`) alike. The room's cgroups live inside its own, named
`mnist-room-PORT`, so a room never touches a cgroup it did not make, and `remove` deletes them once empty.
"""

import contextlib
import os
from pathlib import Path

MOUNT = Path("/sys/fs/cgroup")
PREFIX = "mnist-room-"
V1_FILES = ("memory.limit_in_bytes", "memory.max_usage_in_bytes")  # the limit, the peak since the cgroup was made
V2_FILES = ("memory.max", "memory.peak")


def own_memory_cgroup() -> Path | None:
    """The memory cgroup this process runs in (v1's memory hierarchy, else v2's unified one), None without one."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if "memory" in controllers.split(","):
            return MOUNT / "memory" / path.lstrip("/")
    unified = [path for _, controllers, path in (line.split(":", 2) for line in lines) if controllers == ""]
    if unified and "memory" in read(MOUNT / "cgroup.controllers").split():
        return MOUNT / unified[0].lstrip("/")
    return None


def read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def files_of(cgroup: Path) -> tuple[str, str]:
    """The names of the limit's and the peak's files in `cgroup` (v1 or v2)."""
    return V1_FILES if (cgroup / V1_FILES[0]).exists() else V2_FILES


def make_room_cgroup(port: int) -> tuple[Path | None, str]:
    """The room's cgroup, made under this process's; else None and why memory cannot be limited here, in words."""
    if os.geteuid() != 0:
        return None, "the room is not run as root, and only root may limit each student's memory"
    own = own_memory_cgroup()
    if own is None:
        return None, "this system has no memory cgroup controller (Linux's way to limit a program's memory)"
    folder = own / f"{PREFIX}{port}"
    try:
        folder.mkdir(exist_ok=True)
        if files_of(folder) == V2_FILES:  # v2 hands the memory controller down only when asked
            (own / "cgroup.subtree_control").write_text("+memory")
            (folder / "cgroup.subtree_control").write_text("+memory")
    except OSError as error:
        with contextlib.suppress(OSError):
            folder.rmdir()
        return None, f"this system's memory cgroups cannot be written here ({error.strerror} on {own})"
    return folder, ""


def make_student_cgroup(room_cgroup: Path, name: str, limit_bytes: int) -> Path:
    """The student's cgroup, with its memory limit: every process started in it (their server, kernels) shares it."""
    cgroup = room_cgroup / name
    cgroup.mkdir(parents=True, exist_ok=True)  # parents: a --clean run while the room was open removed an empty one
    (cgroup / files_of(cgroup)[0]).write_text(str(limit_bytes))
    return cgroup


def join(cgroup: Path) -> None:
    """Move this process into `cgroup` (as root, before it becomes the student: they cannot leave it then)."""
    (cgroup / "cgroup.procs").write_text(str(os.getpid()))


def limit_of(cgroup: Path) -> int:
    return int(read(cgroup / files_of(cgroup)[0]).strip() or 0)


def peak_of(cgroup: Path) -> int:
    """The most memory the cgroup used (bytes; what its limit counts, page cache included), 0 if unknown."""
    value = read(cgroup / files_of(cgroup)[1]).strip()
    return int(value) if value.isdigit() else 0


def remove(room_cgroup: Path) -> list[Path]:
    """Delete a room's cgroup and its students', once no process is in them; return those still in use."""
    if not room_cgroup.is_dir():
        return []
    left = []
    for cgroup in [*(path for path in room_cgroup.iterdir() if path.is_dir()), room_cgroup]:
        try:
            cgroup.rmdir()  # a cgroup's files go with it; the kernel refuses while a process is in it
        except FileNotFoundError:
            pass
        except OSError:
            left.append(cgroup)
    return left


def remove_room_cgroups() -> list[Path]:
    """Delete every room's cgroups under this process's cgroup (`--clean`); return those still in use."""
    own = own_memory_cgroup()
    return [cgroup for room_cgroup in (own.glob(f"{PREFIX}*") if own else ()) for cgroup in remove(room_cgroup)]


def reset_peak(cgroup: Path) -> bool:
    """Start the cgroup's peak afresh (v1 only; benchmarks/bench_room.py); False where it cannot."""
    try:
        (cgroup / V1_FILES[1]).write_text("0")
    except OSError:
        return False
    return True
