"""The pre-flight's data checks: which source resolves, the md5s of the sample and of full data, disk, mirrors.

None of them downloads anything: the mirrors are only asked for a file's headers, and only when network use
is allowed.
"""

import concurrent.futures
import os
import shutil
import urllib.request
from pathlib import Path

from .. import defaults
from ..datasets import download, sources
from ..datasets.checksums import md5_of_file, verify_full
from ..errors import DataError, TutorialError
from .checks import Check, fix, note, ok

SAMPLE_MANIFEST = sources.SAMPLE_DIR.parents[1] / "MD5SUMS"  # beside the sample: `md5sum -c` lines (MNIST/raw/...)
MIN_FREE_BYTES = 1 << 30  # full MNIST takes ~65 MB and a run's outputs ~1 MB; below 1 GiB saving soon fails
MIRROR_TIMEOUT_S = 3.0
REINSTALL = "reinstall the course (pip install --force-reinstall --no-deps mnist-tutorial; in a checkout: git checkout)"


def read_manifest(manifest: Path) -> dict[str, str]:
    """`md5sum` lines ("<md5>  <path>") as {file name: md5}."""
    entries = {}
    for line in manifest.read_text().splitlines():
        if line.strip():
            digest, name = line.split(maxsplit=1)
            entries[Path(name.strip().lstrip("*")).name] = digest
    return entries


def check_source(data_dir: Path | None = None) -> Check:
    """Which data `load_data()` would use here, with no download."""
    try:
        found = sources.resolve_source(data_dir=data_dir, download=False, verify=False)  # check_full verifies
    except TutorialError as error:
        return fix("data source", str(error))
    return ok("data source", f"{found.kind} ({'the embedded sample' if found.kind == 'sample' else 'full MNIST'})")


def check_sample(sample_dir: Path | None = None, manifest: Path | None = None) -> Check:
    """The embedded sample's four files are there and match the md5s shipped beside them."""
    sample_dir, manifest = sample_dir or sources.SAMPLE_DIR, manifest or SAMPLE_MANIFEST
    if not manifest.is_file():
        return fix("sample", f"its md5 list {manifest.name} is missing: {REINSTALL}")
    damaged = [
        name
        for name, digest in read_manifest(manifest).items()
        if not (sample_dir / name).is_file() or md5_of_file(sample_dir / name) != digest
    ]
    if damaged:
        return fix("sample", f"missing or damaged: {', '.join(damaged)}: {REINSTALL}")
    return ok("sample", "4 files, md5s match")


def check_full(data_dir: Path | None = None) -> Check:
    """Full MNIST, where present: the same files training would read, checked as training checks them."""
    spec = sources.get_spec("mnist")
    folder = sources.find_full(spec, Path(data_dir).expanduser() if data_dir is not None else defaults.DATA_DIR)
    if folder is None:
        return ok("full MNIST", "not downloaded (the sample stands in)")
    try:
        verify_full(spec, folder)
    except DataError as error:
        return fix("full MNIST", str(error))
    return ok("full MNIST", "4 files, md5s match")


def nearest_existing(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def check_disk(folders: tuple[Path, ...] | None = None, needed: int | None = None) -> Check:
    """Free space where data and outputs go."""
    folders, needed = folders or (defaults.DATA_DIR, defaults.BUILD_DIR), needed or MIN_FREE_BYTES
    free = min(shutil.disk_usage(nearest_existing(Path(folder))).free for folder in folders)
    if free < needed:
        return fix("disk", f"{free / 2**30:.1f} GiB free, the course needs {needed / 2**30:.0f} GiB: free some space")
    return ok("disk", f"{free / 2**30:.0f} GiB free")


def mirror_reachable(url: str, timeout: float) -> bool:
    """True when the server answers a HEAD request for `url` within `timeout` (name lookup included)."""
    request = urllib.request.Request(url, method="HEAD")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status < 400
    except Exception:  # any failure means "not reachable from here"
        return False


def check_mirrors(timeout: float = MIRROR_TIMEOUT_S) -> Check:
    """Whether any of torchvision's MNIST mirrors answers; never asked when network use is off."""
    if not download.network_allowed():
        return ok("mirrors", f"not checked: network use is off (${defaults.OFFLINE_ENV})")
    if os.environ.get(defaults.SOURCE_ENV) == "sample":
        return ok("mirrors", f"not checked: ${defaults.SOURCE_ENV}=sample never downloads")
    spec = sources.get_spec("mnist")
    first_file = spec.torchvision_class.resources[0][0]
    urls = [f"{mirror}{first_file}" for mirror in spec.torchvision_class.mirrors]
    pool = concurrent.futures.ThreadPoolExecutor(len(urls))
    futures = [pool.submit(mirror_reachable, url, timeout) for url in urls]
    done, _ = concurrent.futures.wait(futures, timeout=timeout + 1)  # a hung name lookup cannot hold us longer
    pool.shutdown(wait=False)
    reachable = [url for url, future in zip(urls, futures, strict=True) if future in done and future.result()]
    if reachable:
        return ok("mirrors", f"{len(reachable)} of {len(urls)} reachable")
    return note("mirrors", "none reachable: full MNIST cannot be downloaded here; the course uses the sample")
