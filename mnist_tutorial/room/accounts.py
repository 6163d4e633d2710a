"""Each student's space: an OS account of their own (as root) and their copies of the practice notebooks.

As The Littlest JupyterHub does, the room creates one system user per student, `room-<name>`, in a group of its
own, with a home only that user can open (spawners.py runs their servers as that user); `remove_accounts`
deletes them all.
"""

import grp
import os
import pwd
import subprocess
import time
from collections.abc import Iterable
from pathlib import Path

PREFIX = "room-"  # never a student's bare name: a student signing in as `root` must not become root
GROUP = "mnist-room"  # every account the room created, and only those: what remove_accounts deletes
PRACTICE_FILES = ("*.ipynb", "*.md")  # what make_student writes: the practice copies and the glossary
RECORD_FILE = ".selfchecks.jsonl"  # in each student's folder: their self-checks' results, for the teacher's page


def account_name(student: str) -> str:
    return PREFIX + student


def ensure_account(student: str) -> pwd.struct_passwd:
    """The student's OS account, created (home mode 0700) on their first sign-in."""
    name = account_name(student)
    try:
        account = pwd.getpwnam(name)
    except KeyError:
        subprocess.run(["groupadd", "--force", GROUP], check=True)
        subprocess.run(
            ["useradd", "--create-home", "--shell", "/bin/bash", "--groups", GROUP, "--comment", "mnist room", name],
            check=True,
            capture_output=True,
        )
        account = pwd.getpwnam(name)
        os.chmod(account.pw_dir, 0o700)  # Debian's useradd leaves homes readable by everyone
    if name not in grp.getgrnam(GROUP).gr_mem:
        raise PermissionError(f"{name} is an account this room did not create: it will not run a student's server")
    return account


def remove_accounts(students: Iterable[str] | None = None) -> list[str]:
    """Delete the accounts the room created (only `students`' if given), with their homes; return their names."""
    try:
        members = grp.getgrnam(GROUP).gr_mem
    except KeyError:
        return []
    wanted = members if students is None else [account_name(student) for student in students]
    removed = [name for name in wanted if name.startswith(PREFIX) and name in members]
    for name in removed:
        subprocess.run(["userdel", "--remove", name], check=True, capture_output=True)
    if set(members) <= set(removed):
        subprocess.run(["groupdel", GROUP], check=True, capture_output=True)
    return removed


def hand_out(practice: Path, home: Path, owner: tuple[int, int] | None = None) -> list[str]:
    """Copy each practice file missing from `home` into it, owned by `owner` (uid, gid); return the names copied.

    A file already there is the student's work and is kept; one they deleted comes back fresh at their next start.
    Creating with O_EXCL never follows a link a student left in its place. A copy keeps its practice file's time,
    so a later time says the student saved it (the teacher's page).
    """
    copied = []
    for source in sorted(path for pattern in PRACTICE_FILES for path in practice.glob(pattern)):
        try:
            target = os.open(home / source.name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        except FileExistsError:
            continue
        with os.fdopen(target, "wb") as file:
            if owner is not None:
                os.fchown(file.fileno(), *owner)
            file.write(source.read_bytes())
            file.flush()
            os.utime(file.fileno(), ns=(time.time_ns(), source.stat().st_mtime_ns))
        copied.append(source.name)
    return copied


def existing_space(student: str, shared_homes: str | None) -> Path | None:
    """The student's folder: `shared_homes` with their name (no root), else the home of the account the room made."""
    if shared_homes:
        return Path(shared_homes.format(username=student))
    try:
        account = pwd.getpwnam(account_name(student))
        made_by_the_room = account.pw_name in grp.getgrnam(GROUP).gr_mem
    except KeyError:
        return None
    return Path(account.pw_dir) if made_by_the_room else None
