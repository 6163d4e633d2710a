"""The teacher's page, JupyterHub's service at /services/room/: where each student is, everyone's notebooks as a zip.

The hub starts it (hub_config.py) and, through its OAuth, lets in only who holds access:services: the teacher, its
admin. A student's folder is theirs to shape, so each file is read through no link, and only up to READ_LIMIT bytes.
"""

import argparse
import asyncio
import contextlib
import html
import json
import os
import re
import stat
import tempfile
import urllib.request
import zipfile
from datetime import datetime
from pathlib import Path
from urllib.parse import urlparse

from jupyterhub.services.auth import HubOAuth, HubOAuthCallbackHandler, HubOAuthenticated
from tornado import web

from .accounts import RECORD_FILE, existing_space
from .hub_config import TEACHER

READ_LIMIT = 64 * 2**20  # bytes: far more than a notebook or 03's model.pt; a larger file is not read
MAX_NOTEBOOKS = 100  # per student, on the page and in the zip
CHECKPOINT = ("build", "03_training", "model.pt")  # where 03 saves the network, from the student's folder
STYLE = "body{font-family:sans-serif;margin:1.5rem}table{border-collapse:collapse}ul{margin:0;padding-left:1rem}"
STYLE += "th,td{border:1px solid #767676;padding:.3rem .6rem;text-align:left;vertical-align:top}"
STYLE += "td:last-child{max-width:30rem;overflow-wrap:anywhere}"  # an error with no spaces must not widen the table
COLUMNS = ("Student", "Server", "Last active", "Notebooks saved", "Self-checks, latest result", "03: test accuracy")
COLUMNS += ("Last error",)
ERROR_LENGTH = 100  # characters of an error's "name: value" on the page: enough to see what went wrong
ESCAPES = re.compile(r"\x1b\[[0-9;]*[A-Za-z]|[\x00-\x1f\x7f]")  # colours and control characters in a message


def read_no_links(space: Path, *parts: str) -> bytes | None:
    """The bytes of `space`/`parts` if each step is a folder or plain file, not a link, within READ_LIMIT; else None."""
    with contextlib.ExitStack() as opened:
        try:
            folder = open_no_link(opened, space, os.O_DIRECTORY)
            for part in parts[:-1]:
                folder = open_no_link(opened, part, os.O_DIRECTORY, folder)
            file = open_no_link(opened, parts[-1], os.O_NONBLOCK, folder)  # a FIFO there must not hang the page
            if not stat.S_ISREG(os.fstat(file).st_mode):
                return None
            with open(file, "rb", closefd=False) as reader:
                data = reader.read(READ_LIMIT + 1)
        except OSError:
            return None
    return data if len(data) <= READ_LIMIT else None


def open_no_link(opened: contextlib.ExitStack, name: str | Path, flags: int, folder: int | None = None) -> int:
    descriptor = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | flags, dir_fd=folder)
    opened.callback(os.close, descriptor)
    return descriptor


def notebooks_in(space: Path) -> dict[str, int]:
    """The notebooks directly in `space`, plain files only: name -> modification time (ns)."""
    try:
        with os.scandir(space) as entries:
            found = {
                entry.name: entry.stat(follow_symlinks=False).st_mtime_ns
                for entry in entries
                if entry.name.endswith(".ipynb") and entry.is_file(follow_symlinks=False)
            }
    except OSError:
        return {}
    return dict(sorted(found.items())[:MAX_NOTEBOOKS])


def latest_checks(space: Path) -> dict[str, dict]:
    """Each self-check's latest result in the student's record: name -> {"check", "ok", "notebook", "time"}."""
    entries = map(recorded, (read_no_links(space, RECORD_FILE) or b"").decode(errors="replace").splitlines())
    return {entry["check"]: entry for entry in entries if entry is not None}


def recorded(line: str) -> dict | None:
    """One line of a student's record (selfcheck.verdicts.record), its time made local; None if it is not one."""
    try:
        entry = json.loads(line)
        entry["time"] = datetime.fromisoformat(str(entry["time"]).replace("Z", "+00:00")).astimezone()
    except (ValueError, RecursionError, TypeError, KeyError):  # a line the student wrote themselves
        return None
    well_formed = isinstance(entry.get("check"), str) and type(entry.get("ok")) is bool
    return entry if well_formed and isinstance(entry.get("notebook"), str | None) else None


def errors_in(notebook: bytes) -> list[str]:
    """Each error output saved in a notebook, as "name: value", in the order of its cells; [] if it is not one."""
    try:
        cells = json.loads(notebook).get("cells", [])
        found = [
            f"{output.get('ename')}: {output.get('evalue')}"
            for cell in cells
            for output in cell.get("outputs") or []
            if output.get("output_type") == "error"
        ]
    except (ValueError, RecursionError, AttributeError, TypeError):  # not a notebook, or one the student mangled
        return []
    return found


def last_error(space: Path, saved: dict[str, int]) -> str:
    """The error output of the notebook saved last that shows one: one line, cut short, with notebook and time."""
    for notebook, time in sorted(saved.items(), key=lambda item: item[1], reverse=True):
        if errors := errors_in(read_no_links(space, notebook) or b""):
            said = ESCAPES.sub("", errors[-1].splitlines()[0])  # "name: value" is never empty
            said = said if len(said) <= ERROR_LENGTH else said[: ERROR_LENGTH - 1] + "…"
            return f"{said} in {notebook} at {at(datetime.fromtimestamp(time / 1e9))}"
    return "none"


def training_of(space: Path) -> str:
    """03's test accuracy and verdict, from the model.pt in the student's folder, read with the course's checks."""
    saved = read_no_links(space, *CHECKPOINT)
    if saved is None:
        return "not saved yet"
    from ..checkpoint import load_checkpoint  # PyTorch: loaded once a student has saved 03's network, not before
    from ..errors import CheckpointError

    with tempfile.NamedTemporaryFile(suffix=".pt") as copy:
        copy.write(saved)
        copy.flush()
        try:
            state = load_checkpoint(copy.name)
        except CheckpointError:
            return f"{'/'.join(CHECKPOINT)} is not a checkpoint the course can read"
    accuracies = (state.get("history") or {}).get("test_accuracy") or []
    accuracy = f"{100 * accuracies[-1]:.2f}%" if accuracies else "no accuracy saved"
    return f"{accuracy} after {state.get('epoch', 0)} epochs: {state.get('verdict') or 'no verdict saved'}"


def hub_users() -> list[dict]:
    """Everyone who signed in, as JupyterHub's API describes them (name, server, last_activity), page by page."""
    auth = HubOAuth.instance()
    headers = {"Authorization": f"token {auth.api_token}", "Accept": "application/jupyterhub-pagination+json"}
    users, offset = [], 0
    while offset is not None:
        asked = urllib.request.Request(f"{auth.api_url}/users?offset={offset}", headers=headers)
        with urllib.request.urlopen(asked, timeout=10) as answer:  # raises on any answer but success
            listed = json.load(answer)
        users += listed["items"]
        offset = (listed["_pagination"].get("next") or {}).get("offset")
    return users


def at(moment: datetime) -> str:
    return moment.astimezone().strftime("%H:%M")


def row(user: dict, practice_times: dict[str, int], shared_homes: str | None) -> list[str]:
    """One student's cells, as text (escaped when the page is written)."""
    name = user["name"]
    active = user.get("last_activity")
    last = at(datetime.fromisoformat(active.replace("Z", "+00:00"))) if active else "never"
    server = "running" if user.get("server") else "stopped"
    space = existing_space(name, shared_homes)
    if space is None:
        return [name, server, last, "no folder yet", "", "", ""]
    saved = {  # hand_out kept the practice file's time: another one is a save
        notebook: time for notebook, time in notebooks_in(space).items() if time != practice_times.get(notebook)
    }
    checks = [
        f"{entry['check']} in {entry['notebook'] or 'a kernel'} at {at(entry['time'])}: "
        + ("Correct" if entry["ok"] else "Not yet")
        for entry in sorted(latest_checks(space).values(), key=lambda entry: entry["time"])
    ]
    saves = [f"{notebook} at {at(datetime.fromtimestamp(time / 1e9))}" for notebook, time in saved.items()]
    return [name, server, last, saves or ["none"], checks or ["none yet"], training_of(space), last_error(space, saved)]


def render(rows: list[list]) -> str:
    """The page: one table, a row per student, a cell's list as a bulleted list."""

    def cell(value: str | list[str]) -> str:
        if isinstance(value, str):
            return html.escape(value)
        return "<ul>" + "".join(f"<li>{html.escape(item)}</li>" for item in value) + "</ul>"

    head = "".join(f'<th scope="col">{column}</th>' for column in COLUMNS)
    body = "".join("<tr>" + "".join(f"<td>{cell(value)}</td>" for value in cells) + "</tr>" for cells in rows)
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>The room</title><style>{STYLE}</style></head><body><main><h1>The room</h1>"
        f"<p>{len(rows)} students at {at(datetime.now())}; reload the page to see more. "
        '<a href="collection.zip">Download everyone\'s notebooks (one zip, a folder per student)</a></p>'
        f"<table><caption>Each student who signed in</caption><thead><tr>{head}</tr></thead>"
        f"<tbody>{body}</tbody></table></main></body></html>"
    )


def students() -> list[dict]:
    return sorted((user for user in hub_users() if user["name"] != TEACHER), key=lambda user: user["name"])


class TeacherOnly(HubOAuthenticated, web.RequestHandler):
    """A page of the service; the hub's OAuth has checked the caller holds access:services (the teacher)."""

    def set_default_headers(self) -> None:
        self.set_header("Cache-Control", "no-store")  # the students' progress stays off shared disks and proxies


class Page(TeacherOnly):
    @web.authenticated
    def get(self) -> None:
        practice_times = notebooks_in(self.settings["practice"])
        self.write(render([row(user, practice_times, self.settings["shared_homes"]) for user in students()]))


class Collection(TeacherOnly):
    @web.authenticated
    async def get(self) -> None:
        self.set_header("Content-Type", "application/zip")
        when = datetime.now().strftime("%Y-%m-%d-%H%M")
        self.set_header("Content-Disposition", f'attachment; filename="room-notebooks-{when}.zip"')
        with tempfile.SpooledTemporaryFile(max_size=16 * 2**20) as archive:
            with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as collected:
                for user in students():
                    space = existing_space(user["name"], self.settings["shared_homes"])
                    for notebook in notebooks_in(space) if space else ():
                        if (data := read_no_links(space, notebook)) is not None:
                            collected.writestr(f"{user['name']}/{notebook}", data)
            archive.seek(0)
            while chunk := archive.read(2**20):
                self.write(chunk)
                await self.flush()


async def serve(options: argparse.Namespace) -> None:
    prefix = os.environ["JUPYTERHUB_SERVICE_PREFIX"]  # /services/room/
    app = web.Application(
        [
            (prefix, Page),
            (prefix + "collection.zip", Collection),
            (prefix + "oauth_callback", HubOAuthCallbackHandler),
            (prefix.rstrip("/"), web.RedirectHandler, {"url": prefix}),
        ],
        cookie_secret=os.urandom(32),
        practice=options.practice,
        shared_homes=options.shared_homes,
    )
    where = urlparse(os.environ["JUPYTERHUB_SERVICE_URL"])
    app.listen(where.port, where.hostname)
    await asyncio.Event().wait()  # until the hub stops the service


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="The room's page for the teacher; JupyterHub starts it.")
    parser.add_argument("--practice", type=Path, required=True, help="the practice copies handed out")
    parser.add_argument("--shared-homes", help="each student's folder, {username} in it (students share an account)")
    asyncio.run(serve(parser.parse_args(argv)))
