"""Downloading a dataset's four files from torchvision's mirrors, checked by md5, leaving nothing half-done.

Downloads never hang: `timeout` bounds the name lookup, the connection and every wait for data; `budget`
bounds the whole download (resolve_source passes AUTO_BUDGET_S under `source="auto"`, where the sample can
take over). A mirror that failed is not asked again for that file in the same process.
"""

import contextlib
import hashlib
import http.client
import os
import threading
import time
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..defaults import DOWNLOAD_TIMEOUT_S, OFFLINE_ENV
from ..errors import DataError
from ..files import atomic_path
from ..progress import bars_wanted

if TYPE_CHECKING:
    from .specs import DatasetSpec

AUTO_BUDGET_S = 30.0  # under source="auto", the longest a download may take in all before the sample takes over
FAILED: dict[str, str] = {}  # url -> why it failed, remembered for the rest of the process


def network_allowed() -> bool:
    """False when $MNIST_TUTORIAL_OFFLINE is set to anything but empty or 0."""
    return os.environ.get(OFFLINE_ENV, "") in ("", "0")


def download_files(
    spec: "DatasetSpec", raw_dir: Path, *, timeout: float = DOWNLOAD_TIMEOUT_S, budget: float | None = None
) -> None:
    """Fetch the four .gz files from torchvision's mirrors, keeping each only once its md5 matches.

    `budget`: seconds for the whole download (None: no limit beyond `timeout` per step). Folders this
    creates are removed again if the download fails, so a failure leaves nothing behind.
    """
    if not network_allowed():
        raise DataError(f"${OFFLINE_ENV} is set, so {spec.title} will not be downloaded: unset it to download")
    created = [folder for folder in (raw_dir, *raw_dir.parents) if not folder.exists()]
    try:
        raw_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise DataError(f"cannot create {raw_dir} ({error.strerror}): pass a writable `data_dir`") from None
    limit = f" (at most {budget:g} s, then the sample takes over)" if budget is not None else ""
    print(f"Downloading {spec.title} into {raw_dir}{limit} ...", flush=True)
    deadline = None if budget is None else time.monotonic() + budget
    try:
        for filename, md5 in spec.torchvision_class.resources:
            target = raw_dir / filename
            if not target.is_file():
                download_one(spec, filename, md5, target, timeout=timeout, deadline=deadline)
    except BaseException:
        for folder in created:
            with contextlib.suppress(OSError):
                folder.rmdir()  # only if still empty
        raise


def download_one(
    spec: "DatasetSpec", filename: str, md5: str, target: Path, *, timeout: float, deadline: float | None = None
) -> None:
    """Try each mirror in turn, skipping those that already failed; keep the first copy whose md5 matches."""
    errors = []
    for mirror in spec.torchvision_class.mirrors:
        url = f"{mirror}{filename}"
        if url in FAILED:
            errors.append(f"{url}: {FAILED[url]} (earlier in this session)")
            continue
        try:
            with atomic_path(target) as tmp:
                digest = fetch(url, tmp, timeout=timeout, deadline=deadline)
                if digest != md5:
                    raise DataError(f"md5 {digest}, expected {md5}")
            return
        except (OSError, ValueError, http.client.HTTPException) as error:  # URLError, timeouts, DataError
            FAILED[url] = str(getattr(error, "reason", None) or error)
            errors.append(f"{url}: {FAILED[url]}")
    fix = f"check your connection, or copy the four files into {target.parent}" + (
        ', or use `source="sample"`' if spec.name == "mnist" else " (on Debian: apt-get install dataset-fashion-mnist)"
    )
    raise DataError(f"could not download {filename} ({'; '.join(errors)}): {fix}")


def seconds_left(timeout: float, deadline: float | None) -> float:
    """`timeout`, cut short by `deadline`; a TimeoutError once the deadline has passed."""
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("timed out: the time allowed for the whole download ran out")
    return min(timeout, left)


def open_url(url: str, timeout: float) -> Any:
    """urlopen, with `timeout` bounding the name lookup too (the lookup runs in a thread we stop waiting for)."""
    outcome: dict[str, Any] = {}
    lock = threading.Lock()

    def attempt() -> None:
        try:
            response = urllib.request.urlopen(url, timeout=timeout)
        except BaseException as error:
            response, outcome["error"] = None, error
        with lock:
            if outcome.get("abandoned") and response is not None:
                response.close()  # answered too late: nobody will read it
            outcome["response"] = response

    thread = threading.Thread(target=attempt, name=f"open {url}", daemon=True)
    thread.start()
    thread.join(timeout)
    with lock:
        if "response" not in outcome:
            outcome["abandoned"] = True
            raise TimeoutError(f"timed out: no answer within {timeout:g} s (name lookup and connection)")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["response"]


def fetch(url: str, path: Path, *, timeout: float, deadline: float | None = None) -> str:
    """Stream `url` into `path` behind a progress bar with the size; return the md5 of what was written.

    `timeout` bounds the lookup, connecting and every wait for data (a stalled server); a download that
    trickles on for more than 60 times as long in all, or past `deadline`, is abandoned too.
    """
    deadline = min(deadline or float("inf"), time.monotonic() + 60 * timeout)
    digest = hashlib.md5()
    name = url.rsplit("/", 1)[-1]
    started, written = time.monotonic(), 0
    with open_url(url, seconds_left(timeout, deadline)) as response, open(path, "wb") as out:
        size = int(response.headers.get("Content-Length") or 0) or None
        with download_bar(name, size) as bar:
            while chunk := response.read(1 << 16):
                seconds_left(timeout, deadline)
                digest.update(chunk)
                written += out.write(chunk)
                bar.update(len(chunk))
    if not bars_wanted(None):
        print(f"  {name}: {written / 1e6:.1f} MB in {time.monotonic() - started:.1f} s", flush=True)
    return digest.hexdigest()


def download_bar(name: str, size: int | None) -> Any:
    """A tqdm bar in bytes, like the course's other bars (a widget in a notebook); a silent stand-in otherwise."""
    if bars_wanted(None):
        from tqdm.auto import tqdm

        return tqdm(total=size, desc=name, unit="B", unit_scale=True, unit_divisor=1024)
    return contextlib.nullcontext(_NoBar())


class _NoBar:
    def update(self, count: int) -> None:
        pass
