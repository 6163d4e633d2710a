"""The pre-flight's data checks: which source resolves, the sample's and full data's md5s, disk, mirrors.

None downloads: a mirror is only asked for a file's headers, and only where network use is allowed."""

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

SAMPLE_MANIFEST = sources.SAMPLE_DIR.parents[1] / "MD5SUMS"  # `md5sum -c` lines, beside the sample
MIN_FREE_GIB = 1  # full MNIST takes ~65 MB and a run's outputs ~1 MB; below 1 GiB saving soon fails
MIRROR_TIMEOUT_S = 3.0


def read_manifest(manifest: Path) -> dict[str, str]:
    """`md5sum` lines ("<md5>  <path>") as {file name: md5}."""
    lines = (line.split(maxsplit=1) for line in manifest.read_text().splitlines() if line.strip())
    return {Path(name.strip().lstrip("*")).name: digest for digest, name in lines}


def check_source(data_dir: Path | None = None) -> Check:
    """Which data `load_data()` would use here, with no download (check_full checks the md5s)."""
    try:
        found = sources.resolve_source(data_dir=data_dir, download=False, verify=False)
    except TutorialError as error:
        return fix("data source", str(error))
    return ok("data source", f"{found.kind} ({'the embedded sample' if found.kind == 'sample' else 'full MNIST'})")


def check_sample(sample_dir: Path = sources.SAMPLE_DIR) -> Check:
    """The embedded sample's four files are there and match the md5s shipped beside them."""
    if not SAMPLE_MANIFEST.is_file():
        return fix("sample", f"its md5 list {SAMPLE_MANIFEST.name} is missing: {sources.RESTORE_SAMPLE}")
    damaged = [
        name
        for name, digest in read_manifest(SAMPLE_MANIFEST).items()
        if not (sample_dir / name).is_file() or md5_of_file(sample_dir / name) != digest
    ]
    if damaged:
        return fix("sample", f"missing or damaged: {', '.join(damaged)}: {sources.RESTORE_SAMPLE}")
    return ok("sample", "4 files, md5s match")


def check_full(data_dir: Path | None = None) -> Check:
    """Full MNIST, where present: the files training would read, checked as training checks them."""
    spec = sources.get_spec("mnist")
    folder = sources.find_full(spec, Path(data_dir).expanduser() if data_dir is not None else defaults.DATA_DIR)
    if folder is None:
        return ok("full MNIST", "not downloaded (the sample stands in)")
    try:
        verify_full(spec, folder)
    except DataError as error:
        return fix("full MNIST", str(error))
    return ok("full MNIST", "4 files, md5s match")


def check_disk() -> Check:
    """Free space where data and outputs go (measured at the nearest folder that exists)."""
    free = []
    for folder in (defaults.DATA_DIR, defaults.BUILD_DIR):
        while not folder.exists() and folder != folder.parent:
            folder = folder.parent
        free.append(shutil.disk_usage(folder).free / 2**30)
    if min(free) < MIN_FREE_GIB:
        return fix("disk", f"{min(free):.1f} GiB free, the course needs {MIN_FREE_GIB} GiB: free some space")
    return ok("disk", f"{min(free):.0f} GiB free")


def mirror_reachable(url: str, timeout: float) -> bool:
    """Whether the server answers a HEAD request for `url` within `timeout`, name lookup included."""
    try:
        with download.open_url(urllib.request.Request(url, method="HEAD"), timeout) as response:
            return response.status < 400
    except Exception:  # any failure means "not reachable from here"
        return False


def check_mirrors(timeout: float = MIRROR_TIMEOUT_S) -> Check:
    """Whether any of torchvision's MNIST mirrors answers; never asked when network use is off."""
    if not download.network_allowed():
        return ok("mirrors", f"not checked: network use is off (${defaults.OFFLINE_ENV})")
    if os.environ.get(defaults.SOURCE_ENV) == "sample":
        return ok("mirrors", f"not checked: ${defaults.SOURCE_ENV}=sample never downloads")
    mnist = sources.get_spec("mnist").torchvision_class
    urls = [f"{mirror}{mnist.resources[0][0]}" for mirror in mnist.mirrors]
    with concurrent.futures.ThreadPoolExecutor(len(urls)) as pool:  # at once: `timeout` in all, not per mirror
        reachable = sum(pool.map(lambda url: mirror_reachable(url, timeout), urls))
    if reachable:
        return ok("mirrors", f"{reachable} of {len(urls)} reachable")
    return note("mirrors", "none reachable: full MNIST cannot be downloaded here; the course uses the sample")
