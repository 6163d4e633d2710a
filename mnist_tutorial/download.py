"""Downloading a dataset's four files from torchvision's mirrors, checked by md5, leaving nothing half-done."""

import contextlib
import hashlib
import http.client
import os
import time
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING

from .defaults import DOWNLOAD_TIMEOUT_S, OFFLINE_ENV
from .errors import DataError
from .files import atomic_path

if TYPE_CHECKING:
    from .sources import DatasetSpec


def network_allowed() -> bool:
    """False when $MNIST_TUTORIAL_OFFLINE is set to anything but empty or 0."""
    return os.environ.get(OFFLINE_ENV, "") in ("", "0")


def download_files(spec: "DatasetSpec", raw_dir: Path, *, timeout: float = DOWNLOAD_TIMEOUT_S) -> None:
    """Fetch the four .gz files from torchvision's mirrors, keeping each only once its md5 matches.

    Folders this creates are removed again if the download fails, so a failure leaves nothing behind.
    """
    if not network_allowed():
        raise DataError(f"${OFFLINE_ENV} is set, so {spec.title} will not be downloaded: unset it to download")
    created = [folder for folder in (raw_dir, *raw_dir.parents) if not folder.exists()]
    try:
        raw_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise DataError(f"cannot create {raw_dir} ({error.strerror}): pass a writable `data_dir`") from None
    print(f"Downloading {spec.title} into {raw_dir} ...")
    try:
        for filename, md5 in spec.torchvision_class.resources:
            target = raw_dir / filename
            if not target.is_file():
                download_one(spec, filename, md5, target, timeout=timeout)
    except BaseException:
        for folder in created:
            with contextlib.suppress(OSError):
                folder.rmdir()  # only if still empty
        raise


def download_one(spec: "DatasetSpec", filename: str, md5: str, target: Path, *, timeout: float) -> None:
    """Try each mirror in turn; keep the first copy whose md5 matches."""
    errors = []
    for mirror in spec.torchvision_class.mirrors:
        url = f"{mirror}{filename}"
        try:
            with atomic_path(target) as tmp:
                digest = fetch(url, tmp, timeout=timeout)
                if digest != md5:
                    raise DataError(f"md5 {digest}, expected {md5}")
            return
        except (OSError, ValueError, http.client.HTTPException) as error:  # URLError, timeouts, DataError
            errors.append(f"{url}: {getattr(error, 'reason', None) or error}")
    fix = "check your connection" + (', or use `source="sample"`' if spec.name == "mnist" else "")
    raise DataError(f"could not download {filename} ({'; '.join(errors)}): {fix}")


def fetch(url: str, path: Path, *, timeout: float) -> str:
    """Stream `url` into `path`; return the md5 of what was written.

    `timeout` bounds connecting and every wait for data (a stalled server); a download that trickles
    on for more than 60 times as long in all is abandoned too.
    """
    deadline = time.monotonic() + 60 * timeout
    digest = hashlib.md5()
    with urllib.request.urlopen(url, timeout=timeout) as response, open(path, "wb") as out:
        while chunk := response.read(1 << 16):
            if time.monotonic() > deadline:
                raise TimeoutError(f"took longer than {60 * timeout:g} s")
            digest.update(chunk)
            out.write(chunk)
    return digest.hexdigest()
