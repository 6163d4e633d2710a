"""Where the images come from: full data on disk, a download, or the embedded sample, chosen in one place.

Order of precedence for the choice: the explicit `source` argument, then $MNIST_TUTORIAL_SOURCE, then
"auto" (full data if present, else a download if the network is allowed, else the embedded sample).
$MNIST_TUTORIAL_OFFLINE=1 forbids any network access; tests and CI set it.
"""

import contextlib
import hashlib
import http.client
import os
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from .defaults import DATA_DIR, DOWNLOAD_TIMEOUT_S, OFFLINE_ENV, SOURCE_ENV
from .errors import ConfigError, DataError
from .files import atomic_path

SOURCES = ("auto", "full", "sample")
SPLIT_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


@dataclass(frozen=True)
class DatasetSpec:
    """What differs between MNIST and Fashion-MNIST: names, folders, mirrors. The format is the same."""

    name: str
    title: str
    folder: str  # torchvision's folder name under the data dir, <data_dir>/<folder>/raw/, and its class name
    class_names: tuple[str, ...]
    system_dirs: tuple[Path, ...] = ()  # read-only copies a package manager may have installed

    @property
    def torchvision_class(self) -> type:
        """torchvision's class for this dataset, whose mirrors and md5s downloads use."""
        from torchvision import datasets  # here, not at the top: importing torchvision takes seconds

        return getattr(datasets, self.folder)


FASHION_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
DATASETS = {
    "mnist": DatasetSpec("mnist", "MNIST", "MNIST", tuple(str(d) for d in range(10))),
    "fashion": DatasetSpec(
        "fashion",
        "Fashion-MNIST",
        "FashionMNIST",
        FASHION_CLASSES,  # as torchvision.datasets.FashionMNIST.classes names them
        (Path("/usr/share/datasets/fashion-mnist"),),  # Debian: apt-get install dataset-fashion-mnist
    ),
}
SAMPLE_DIR = DATA_DIR / "sample" / "MNIST" / "raw"


@dataclass(frozen=True)
class DataSource:
    """A folder holding the four IDX files of one dataset, and how it was found."""

    dataset: str
    kind: str  # "full" or "sample"
    folder: Path

    @property
    def description(self) -> str:
        """Which data this is and where it lies, for the line every run prints."""
        title = DATASETS[self.dataset].title
        if self.kind == "sample":
            return f"the embedded sample of real {title} digits ({self.folder})"
        return f"full {title} ({self.folder})"


def get_spec(dataset: str) -> DatasetSpec:
    """The spec of `dataset` ("mnist" or "fashion"), or a ConfigError naming the choices."""
    if dataset not in DATASETS:
        raise ConfigError(f"unknown dataset {dataset!r}: choose one of {', '.join(DATASETS)}")
    return DATASETS[dataset]


def network_allowed() -> bool:
    """False when $MNIST_TUTORIAL_OFFLINE is set to anything but empty or 0."""
    return os.environ.get(OFFLINE_ENV, "") in ("", "0")


def find_file(folder: Path, name: str) -> Path | None:
    """The file `name` in `folder`, uncompressed or gzipped, if either exists."""
    for candidate in (folder / name, folder / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


def has_all_files(folder: Path) -> bool:
    """True when `folder` holds the four IDX files; a folder that cannot be read is an error, not "no"."""
    try:
        return all(find_file(folder, name) for pair in SPLIT_FILES.values() for name in pair)
    except PermissionError:
        raise DataError(
            f"cannot read {folder} (permission denied): fix its permissions or pass another --data-dir"
        ) from None


def find_full(spec: DatasetSpec, data_dir: Path) -> Path | None:
    """The first folder holding all four files: <data_dir>/<folder>/raw, then system-wide copies."""
    for folder in (data_dir / spec.folder / "raw", *spec.system_dirs):
        if has_all_files(folder):
            return folder
    return None


def check_data_dir(data_dir: Path) -> None:
    """Refuse a data dir that is a file, lies inside a file, or cannot be read, before looking in it."""
    try:
        if data_dir.exists() and not data_dir.is_dir():
            raise DataError(f"data dir {data_dir} is a file, not a folder: pass --data-dir with a folder")
        blocker = next((parent for parent in data_dir.parents if parent.is_file()), None)
        if blocker is not None:
            raise DataError(f"data dir {data_dir} cannot exist, as {blocker} is a file: check --data-dir")
        readable = not data_dir.is_dir() or os.access(data_dir, os.R_OK | os.X_OK)
    except PermissionError:
        readable = False
    if not readable:
        raise DataError(
            f"cannot read data dir {data_dir} (permission denied): fix its permissions or pass another --data-dir"
        )


def resolve_source(
    *,
    dataset: str = "mnist",
    source: str | None = None,
    data_dir: str | os.PathLike | None = None,
    download: bool = True,
    timeout: float = DOWNLOAD_TIMEOUT_S,
) -> DataSource:
    """Decide which data to use, downloading full data if allowed and needed."""
    spec = get_spec(dataset)
    origin = "" if source else f" (from ${SOURCE_ENV})"
    source = source or os.environ.get(SOURCE_ENV) or "auto"
    if source not in SOURCES:
        raise ConfigError(f"unknown data source {source!r}{origin}: choose one of {', '.join(SOURCES)}")
    data_dir = Path(data_dir) if data_dir is not None else DATA_DIR
    check_data_dir(data_dir)
    if source == "sample":
        return sample_source(dataset)
    found = find_full(spec, data_dir)
    if found:
        return DataSource(dataset, "full", found)
    raw_dir = data_dir / spec.folder / "raw"
    fallback = source == "auto" and dataset == "mnist"
    if not (download and network_allowed()):
        if fallback:
            return sample_source(dataset)
        reason = f"${OFFLINE_ENV} is set" if not network_allowed() else "downloading is turned off"
        raise DataError(f"full {spec.title} is not in {raw_dir} and {reason}: {missing_data_fix(spec, raw_dir)}")
    try:
        download_files(spec, raw_dir, timeout=timeout)
    except DataError as error:
        if not fallback:
            raise
        print(f"Download failed ({error}); using the embedded sample instead.")
        return sample_source(dataset)
    return DataSource(dataset, "full", raw_dir)


def missing_data_fix(spec: DatasetSpec, raw_dir: Path) -> str:
    """What to do when full data is absent and cannot be downloaded."""
    if spec.name == "mnist":
        return f"copy the four IDX files into {raw_dir}, unset ${OFFLINE_ENV} to download them, or use --source sample"
    return f"copy the four IDX files into {raw_dir} (on Debian: apt-get install dataset-fashion-mnist)"


def sample_source(dataset: str) -> DataSource:
    """The embedded sample (MNIST only), after checking that it is all there."""
    if dataset != "mnist":
        raise ConfigError(
            f"there is no embedded sample of {get_spec(dataset).title}: use --source full "
            "(on Debian: apt-get install dataset-fashion-mnist)"
        )
    if not has_all_files(SAMPLE_DIR):
        raise DataError(f"the embedded sample is missing from {SAMPLE_DIR}: restore it with `git checkout data/sample`")
    return DataSource(dataset, "sample", SAMPLE_DIR)


def download_files(spec: DatasetSpec, raw_dir: Path, *, timeout: float = DOWNLOAD_TIMEOUT_S) -> None:
    """Fetch the four .gz files from torchvision's mirrors, keeping each only once its md5 matches.

    Folders this creates are removed again if the download fails, so a failure leaves nothing behind.
    """
    if not network_allowed():
        raise DataError(f"${OFFLINE_ENV} is set, so {spec.title} will not be downloaded: unset it to download")
    created = [folder for folder in (raw_dir, *raw_dir.parents) if not folder.exists()]
    try:
        raw_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise DataError(f"cannot create {raw_dir} ({error.strerror}): pass a writable --data-dir") from None
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


def download_one(spec: DatasetSpec, filename: str, md5: str, target: Path, *, timeout: float) -> None:
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
    fix = "check your connection" + (", or use --source sample" if spec.name == "mnist" else "")
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
