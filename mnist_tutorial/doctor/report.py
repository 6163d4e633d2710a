"""`mnist-tutorial doctor`: the pre-flight. One `ok` or `fix: …` line per thing the course needs, then a verdict.

`--json` gives a report a teacher can collect from every laptop; `--report-dir DIR` also writes it to DIR/NAME.json
(`--name`, or the host's name and a suffix of this machine's own); `--run-notebook` runs a lesson end to end on the
sample too. It never downloads anything.
"""

import datetime
import hashlib
import json
import os
import platform
import re
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from ..errors import ConfigError, OutputError
from ..files import path_argument, refuse_planted, write_bytes_atomic, write_failure
from . import checks as machine
from . import jupyter_checks as jupyter
from .checks import Check, fix

REPORT_DIR = "--report-dir"  # how messages name `report_dir`: this module speaks the command line's words
NAME = "--name"
PLAIN_NAME = re.compile(r"\w[\w.-]{0,63}")  # a file name in any system: no folder, no space, not hidden


def run_checks(data_dir: Path | None, run_notebook: bool | Path, on_check: Callable[[Check], None]) -> list[Check]:
    """Every check in order (the environment, devices, data, JupyterLab, the notebook if asked); `on_check` sees
    each as it finishes. A step that breaks (a damaged install) is one `fix:` line, not a traceback."""
    steps = {
        "python": machine.check_python,
        "dependencies": machine.check_dependencies,
        "devices": machine.check_devices,
        "memory": machine.check_memory,
        "data source": lambda: machine.check_source(data_dir),
        "sample": machine.check_sample,
        "full MNIST": lambda: machine.check_full(data_dir),
        "disk": machine.check_disk,
        "mirrors": machine.check_mirrors,
        "jupyter-lab": jupyter.check_jupyterlab,
        "kernel": jupyter.check_kernel,
        "widget front ends": jupyter.check_widget_frontends,
    }
    if run_notebook is not False:
        steps["notebook"] = lambda: jupyter.check_notebook(None if run_notebook is True else Path(run_notebook))
    checks = []
    for name, step in steps.items():
        try:
            found = step()
        except Exception as error:
            found = fix(name, f"could not be checked ({type(error).__name__}: {error}): reinstall the course")
        for check in found if isinstance(found, list) else [found]:
            checks.append(check)
            on_check(check)
    return checks


def report(checks: list[Check]) -> dict:
    """A JSON-ready report of this machine and every check, with the verdict, for a teacher to collect."""
    fixes = sum(check.status == "fix" for check in checks)
    verdict = f"FAIL: {fixes} of {len(checks)} checks need a fix (the `fix:` lines above)"
    return {
        "passed": fixes == 0,
        "verdict": verdict if fixes else "PASS: the course will work here",
        "host": platform.node(),
        "platform": f"{platform.system()} {platform.release()} {platform.machine()}",
        "python": sys.version.split()[0],
        "executable": sys.executable,
        "time": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "checks": [{"name": c.name, "status": c.status, "detail": c.detail} for c in checks],
    }


def report_path(folder: str | os.PathLike, name: str | None = None) -> Path:
    """Where the report goes, folder/<name>.json, the folder made: checked before the checks run."""
    folder = path_argument(REPORT_DIR, folder)
    path = folder / f"{report_name(name)}.json"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OutputError(f"cannot create {REPORT_DIR} {folder}: {write_failure(error)}") from None
    refuse_planted(path, REPORT_DIR)
    return path


def report_name(name: str | None) -> str:
    """The student's `name`, checked, or else this host's name and a suffix of this machine's own.

    Cloned classroom machines share a host name; the suffix (from the network card's address) tells them apart,
    while a second run on one machine replaces its own report.
    """
    if name is None:
        host = re.sub(r"[^\w.-]", "_", platform.node()).strip("._") or "unnamed-host"
        return f"{host}-{hashlib.sha256(str(uuid.getnode()).encode()).hexdigest()[:6]}"
    if not PLAIN_NAME.fullmatch(name):
        raise ConfigError(
            f"{NAME} {name!r} is not a plain name: use up to 64 letters, digits, '-', '_' or '.', starting with a "
            f"letter or digit, with no folder and no space (for example {NAME} ana-07)"
        )
    return name


def doctor(
    *,
    as_json: bool = False,
    only_problems: bool = False,
    data_dir: Path | None = None,
    run_notebook: bool | Path = False,
    report_dir: str | os.PathLike | None = None,
    name: str | None = None,
) -> bool:
    """Run every check, print a line each (or, `as_json`, one JSON report), then the verdict; True if it passed.

    `only_problems` prints only the `fix:` and `note:` lines and the verdict (for a notebook's output).
    `run_notebook` (True, or a notebook's path) also runs a lesson end to end on the sample; the verdict then says
    how long the whole check took. `report_dir` also writes the JSON report to report_dir/<name>.json (report_name).
    """
    started = time.monotonic()
    if name is not None and report_dir is None:
        raise ConfigError(f"{NAME} names the report that {REPORT_DIR} writes: add {REPORT_DIR} DIR")
    report_at = report_path(report_dir, name) if report_dir is not None else None

    def show(check: Check) -> None:
        if not as_json and not (only_problems and check.status == "ok"):
            print(check.line, flush=True)

    found = report(run_checks(data_dir, run_notebook, on_check=show))
    if run_notebook is not False:
        seconds = time.monotonic() - started
        found["verdict"] += f" ({seconds:.0f} s in all)"
        found["seconds"] = round(seconds, 1)
    print(json.dumps(found, indent=2) if as_json else found["verdict"])
    if report_at is not None:
        try:  # atomically, replacing an earlier report of that name
            write_bytes_atomic(report_at, (json.dumps(found, indent=2) + "\n").encode(), argument=REPORT_DIR)
        except OutputError:  # a link or FIFO planted there while the checks ran, refused in its own words
            raise
        except OSError as error:
            raise OutputError(f"cannot write {report_at} in {REPORT_DIR}: {write_failure(error)}") from None
        print(f"Report written to {report_at}", file=sys.stderr if as_json else sys.stdout)
    return found["passed"]
