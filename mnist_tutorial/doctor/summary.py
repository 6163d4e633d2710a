"""`mnist-tutorial doctor --summary DIR`: the room's table from the reports the laptops wrote into DIR.

The reports come from a USB stick or a shared folder: each is read without following a link and only up to
MAX_REPORT_BYTES, and one that is not the doctor's report is named and skipped. What a report says is printed
on one line with unprintable characters replaced, so a planted report cannot drive the teacher's terminal.
"""

import json
import os
from pathlib import Path

from ..errors import ConfigError
from ..files import kind_from, kind_of, path_argument
from .checks import one_line
from .report import REPORT_DIR

SUMMARY = "--summary"  # how messages name the folder: this module speaks the command line's words
MAX_REPORT_BYTES = 256 * 1024  # a report is about 4 KB: a file this large is not one
HEADER = ("report", "verdict", "memory", "devices", "first fix")


def summary(folder: str | os.PathLike) -> bool:
    """Print one row per report in `folder` (the fix last: it is the long one), the skipped files, then the counts.

    True when there is at least one report and every report passed.
    """
    folder = path_argument(SUMMARY, folder)
    if not folder.is_dir():
        raise ConfigError(f"{SUMMARY} {folder} is not a folder: name the folder the laptops wrote with {REPORT_DIR}")
    rows, skipped = [], []
    for path in sorted(folder.glob("*.json")):
        try:
            rows.append(row(path.stem, read_report(path)))
        except ValueError as why:
            skipped.append(f"skipped {one_line(path.name)}: {why}")
    widths = [max(len(columns[i]) for columns in [HEADER, *rows]) for i in range(len(HEADER) - 1)]
    for *short, last in [HEADER, *rows]:
        print("  ".join(text.ljust(width) for text, width in zip(short, widths, strict=True)) + "  " + last)
    for line in skipped:
        print(line)
    passed = sum(columns[1] == "PASS" for columns in rows)
    print(f"{passed} PASS, {len(rows) - passed} FAIL, {len(skipped)} skipped")
    return bool(rows) and passed == len(rows)


def read_report(path: Path) -> dict:
    """The doctor's report at `path`, never through a link and at most MAX_REPORT_BYTES; ValueError says why not."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        with open(os.open(path, flags), "rb") as file:  # a FIFO opens at once, and is named by its status
            kind = kind_from(os.fstat(file.fileno()))
            data = b"" if kind else file.read(MAX_REPORT_BYTES + 1)
    except OSError as error:
        kind = kind_of(path)  # a link, which O_NOFOLLOW refused to open
        if not kind:
            raise ValueError(f"cannot be read ({one_line(error.strerror or error)})") from None
    if kind:
        raise ValueError(f"it is {kind}, not a report")
    if len(data) > MAX_REPORT_BYTES:
        raise ValueError(f"larger than {MAX_REPORT_BYTES // 1024} KB, not a report")
    try:
        found = json.loads(data)
    except (ValueError, RecursionError):  # RecursionError: JSON nested deeper than Python's stack
        raise ValueError("not JSON, not a report") from None
    if not is_report(found):
        raise ValueError("JSON, but not the doctor's report")
    return found


def is_report(found: object) -> bool:
    """Whether `found` has what the table reads: a verdict and a list of checks, each a name, status and detail."""
    fields = ("name", "status", "detail")
    return (
        isinstance(found, dict)
        and isinstance(found.get("passed"), bool)
        and isinstance(found.get("checks"), list)
        and all(isinstance(c, dict) and all(isinstance(c.get(f), str) for f in fields) for c in found["checks"])
    )


def row(name: str, found: dict) -> tuple[str, ...]:
    """A report's row: name, PASS or FAIL, the memory check's measurement, the devices that trained, the first fix."""
    checks = found["checks"]
    memory = next((c["detail"] for c in checks if c["name"] == "memory"), "not checked")
    devices = [c["name"][len("device ") :] for c in checks if c["name"].startswith("device ") and c["status"] == "ok"]
    first_fix = next((f"{c['name']}: {c['detail']}" for c in checks if c["status"] == "fix"), "-")
    verdict = "PASS" if found["passed"] else "FAIL"
    # The memory check's detail is its measurement, then (when low) ", below …" and the advice.
    columns = (name, verdict, memory.partition(",")[0], ", ".join(devices) or "none", first_fix)
    return tuple(one_line(text) for text in columns)
