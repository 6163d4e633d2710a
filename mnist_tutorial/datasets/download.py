"""Download a dataset's four files from torchvision's mirrors, each kept only once its md5 matches.

Never a hang: `timeout` bounds the name lookup, the connection and each wait for data, `budget` the whole download
(under `source="auto"`, where the sample can take over); a mirror that failed is not asked again in this process.
Not torchvision's download_url, which writes into the file itself and waits without a timeout.
"""

import contextlib
import hashlib
import http.client
import os
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

from ..defaults import DOWNLOAD_TIMEOUT_S, OFFLINE_ENV
from ..errors import DataError
from ..files import atomic_path
from ..progress import bars_wanted
from .specs import DatasetSpec

AUTO_BUDGET_S = 30.0  # under source="auto", the longest a download may take in all before the sample takes over
FAILED: dict[str, str] = {}  # url -> why it failed, remembered for the rest of the process


def network_allowed() -> bool:
    """False when $MNIST_TUTORIAL_OFFLINE is set to anything but empty or 0."""
    return os.environ.get(OFFLINE_ENV, "") in ("", "0")


def download_files(
    spec: DatasetSpec, raw_dir: Path, *, timeout: float = DOWNLOAD_TIMEOUT_S, budget: float | None = None
) -> None:
    """Fetch the four .gz files into `raw_dir`; on failure, remove the folders this made."""
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
            if not (raw_dir / filename).is_file():
                download_one(spec, filename, md5, raw_dir / filename, timeout=timeout, deadline=deadline)
    except BaseException:
        for folder in created:
            with contextlib.suppress(OSError):
                folder.rmdir()  # only if still empty
        raise


def download_one(
    spec: DatasetSpec, filename: str, md5: str, target: Path, *, timeout: float, deadline: float | None = None
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
    fix = f"check your connection, or copy the four files into {target.parent}{spec.or_else}"
    raise DataError(f"could not download {filename} ({'; '.join(errors)}): {fix}")


def seconds_left(timeout: float, deadline: float | None) -> float:
    """`timeout`, cut short by `deadline`; a TimeoutError once the deadline has passed."""
    left = float("inf") if deadline is None else deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("timed out: the time allowed for the whole download ran out")
    return min(timeout, left)


def open_url(url: str | urllib.request.Request, timeout: float) -> Any:
    """urlopen, with `timeout` bounding the name lookup too (it runs in a thread we stop waiting for)."""
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
    """Stream `url` into `path` behind a progress bar; return the md5 of what was written.

    `timeout` bounds every wait (a stalled server); a download that trickles on for 60 times as long in all, or
    past `deadline`, is abandoned too.
    """
    from tqdm.auto import tqdm  # here, not at the top: in a notebook it loads the widgets

    deadline = min(deadline or float("inf"), time.monotonic() + 60 * timeout)
    digest, name, started, written = hashlib.md5(), url.rsplit("/", 1)[-1], time.monotonic(), 0
    with open_url(url, seconds_left(timeout, deadline)) as response, open(path, "wb") as out:
        size = int(response.headers.get("Content-Length") or 0) or None
        bar_options = {"unit": "B", "unit_scale": True, "unit_divisor": 1024, "disable": not bars_wanted(None)}
        with tqdm(total=size, desc=name, **bar_options) as bar:
            while chunk := response.read(1 << 16):
                seconds_left(timeout, deadline)
                digest.update(chunk)
                written += out.write(chunk)
                bar.update(len(chunk))
    if not bars_wanted(None):
        print(f"  {name}: {written / 1e6:.1f} MB in {time.monotonic() - started:.1f} s", flush=True)
    return digest.hexdigest()
