"""The hub's side of a student's space: a free seat, their server run as their own account (as root) after a hand-out.

As root with a memory cgroup controller, their server (and so their kernels) runs in a cgroup of their own limited
to `Spawner.mem_limit` (cgroups.py); JupyterHub's LocalProcessSpawner alone would only tell the server its limit.
"""

import pwd
from collections.abc import Callable
from pathlib import Path

from jupyterhub.spawner import LocalProcessSpawner, SimpleLocalProcessSpawner
from tornado import web

from ..defaults import ROOM_RECORD_ENV
from . import cgroups
from .accounts import RECORD_FILE, account_name, ensure_account, hand_out
from .capacity import refusal
from .hub_config import PAGE


class RoomFull(web.HTTPError):
    """A student beyond the room's seats: JupyterHub shows `jupyterhub_message` on their page."""

    def __init__(self, sentence: str) -> None:
        super().__init__(429, sentence)
        self.jupyterhub_message = sentence


def others_working(spawner) -> int:
    """How many other students' servers run or are starting (the teacher's are not counted)."""
    users = spawner.user.settings["users"].values()
    return sum(
        1
        for user in users
        if user.name != spawner.user.name and not user.admin
        for server in user.spawners.values()
        if server.active
    )


def landing(handler) -> str | None:
    """Where a person lands once signed in: the teacher on their page, with no server; a student (None) on theirs."""
    user = handler.current_user
    return f"{handler.base_url}services/{PAGE}/" if user is not None and user.admin else None


def prepare_from(practice: str, seats: int, memory_cgroups: str = "") -> Callable:
    """The hub's pre-spawn hook: a seat, the student's account (as root), their practice copies, record and cgroup."""

    def prepare(spawner) -> None:
        if (refused := refusal(spawner.user.admin, others_working(spawner), seats)) is not None:
            raise RoomFull(refused)  # before any account or process: nothing to undo
        if isinstance(spawner, StudentSpawner):
            account = ensure_account(spawner.user.name)
            home = Path(account.pw_dir)
            hand_out(Path(practice), home, (account.pw_uid, account.pw_gid))
            if memory_cgroups and spawner.mem_limit:
                spawner.memory_cgroup = cgroups.make_student_cgroup(
                    Path(memory_cgroups), account.pw_name, spawner.mem_limit
                )
        else:
            home = Path(spawner.home_dir)
            home.mkdir(parents=True, exist_ok=True)
            hand_out(Path(practice), home)
        spawner.environment = {**spawner.environment, ROOM_RECORD_ENV: str(home / RECORD_FILE)}

    return prepare


class StudentSpawner(LocalProcessSpawner):
    """A student's server, run as their own account `room-<name>` in its home, in their memory cgroup if any."""

    memory_cgroup: Path | None = None

    def make_preexec_fn(self, name: str):
        become_student = super().make_preexec_fn(account_name(name))
        cgroup = self.memory_cgroup

        def preexec() -> None:
            if cgroup is not None:
                cgroups.join(cgroup)  # still root here: as the student it could neither join nor leave
            become_student()

        return preexec

    def user_env(self, env: dict) -> dict:
        account = pwd.getpwnam(account_name(self.user.name))
        env.update(USER=account.pw_name, HOME=account.pw_dir, SHELL=account.pw_shell)
        return env


class SharedAccountSpawner(SimpleLocalProcessSpawner):
    """Without root: every student's server runs as the account that started the room, in a folder of its own."""
