"""The hub's side of a student's space: their server runs as their own account (as root), after a hand-out."""

import pwd
from collections.abc import Callable
from pathlib import Path

from jupyterhub.spawner import LocalProcessSpawner, SimpleLocalProcessSpawner

from ..defaults import ROOM_RECORD_ENV
from .accounts import RECORD_FILE, account_name, ensure_account, hand_out


def hand_out_from(practice: str) -> Callable:
    """The hub's pre-spawn hook: the student's account (as root), their missing practice copies, their record."""

    def prepare(spawner) -> None:
        if isinstance(spawner, StudentSpawner):
            account = ensure_account(spawner.user.name)
            home = Path(account.pw_dir)
            hand_out(Path(practice), home, (account.pw_uid, account.pw_gid))
        else:
            home = Path(spawner.home_dir)
            home.mkdir(parents=True, exist_ok=True)
            hand_out(Path(practice), home)
        spawner.environment = {**spawner.environment, ROOM_RECORD_ENV: str(home / RECORD_FILE)}

    return prepare


class StudentSpawner(LocalProcessSpawner):
    """A student's server, run as their own account `room-<name>` in its home."""

    def make_preexec_fn(self, name: str):
        return super().make_preexec_fn(account_name(name))

    def user_env(self, env: dict) -> dict:
        account = pwd.getpwnam(account_name(self.user.name))
        env.update(USER=account.pw_name, HOME=account.pw_dir, SHELL=account.pw_shell)
        return env


class SharedAccountSpawner(SimpleLocalProcessSpawner):
    """Without root: every student's server runs as the account that started the room, in a folder of its own."""
