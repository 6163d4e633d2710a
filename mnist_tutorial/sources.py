"""Where the images come from: full data on disk, a download, or the embedded sample, chosen in one place.

Order of precedence for the choice: the explicit `source` argument, then $MNIST_TUTORIAL_SOURCE, then
"auto" (full data if present, else a download if the network is allowed, else the embedded sample).
$MNIST_TUTORIAL_OFFLINE=1 forbids any network access; tests and CI set it.
"""

import hashlib
import http.client
import os
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from torchvision import datasets

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
    folder: str  # torchvision's folder name under the data dir: <data_dir>/<folder>/raw/
    torchvision_class: type
    class_names: tuple[str, ...]
    system_dirs: tuple[Path, ...] = ()  # read-only copies a package manager may have installed


DATASETS = {
    "mnist": DatasetSpec("mnist", "MNIST", "MNIST", datasets.MNIST, tuple(str(d) for d in range(10))),
    "fashion": DatasetSpec(
        "fashion",
        "Fashion-MNIST",
        "FashionMNIST",
        datasets.FashionMNIST,
        tuple(datasets.FashionMNIST.classes),
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
        title = DATASETS[self.dataset].title
        if self.kind == "sample":
            return f"the embedded sample of real {title} digits ({self.folder})"
        return f"full {title} ({self.folder})"


def get_spec(dataset: str) -> DatasetSpec:
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
    return all(find_file(folder, name) for pair in SPLIT_FILES.values() for name in pair)


def find_full(spec: DatasetSpec, data_dir: Path) -> Path | None:
    """The first folder holding all four files: <data_dir>/<folder>/raw, then system-wide copies."""
    for folder in (data_dir / spec.folder / "raw", *spec.system_dirs):
        if has_all_files(folder):
            return folder
    return None


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
    source = source or os.environ.get(SOURCE_ENV) or "auto"
    if source not in SOURCES:
        raise ConfigError(f"unknown data source {source!r}: choose one of {', '.join(SOURCES)}")
    data_dir = Path(data_dir) if data_dir is not None else DATA_DIR
    if data_dir.exists() and not data_dir.is_dir():
        raise DataError(f"data dir {data_dir} is a file, not a folder: pass --data-dir with a folder")
    if source == "sample":
        return sample_source(dataset)
    found = find_full(spec, data_dir)
    if found:
        return DataSource(dataset, "full", found)
    raw_dir = data_dir / spec.folder / "raw"
    if not (download and network_allowed()):
        if source == "full" or dataset != "mnist":
            reason = f"${OFFLINE_ENV} is set" if not network_allowed() else "downloading is turned off"
            raise DataError(
                f"full {spec.title} is not in {raw_dir} and {reason}: copy the four IDX files there"
                + (", or use --source sample" if dataset == "mnist" else "")
            )
        return sample_source(dataset)
    try:
        download_files(spec, raw_dir, timeout=timeout)
    except DataError as error:
        if source == "full" or dataset != "mnist":
            raise
        print(f"Download failed ({error}); using the embedded sample instead.")
        return sample_source(dataset)
    return DataSource(dataset, "full", raw_dir)


def sample_source(dataset: str) -> DataSource:
    if dataset != "mnist":
        raise ConfigError(
            f"there is no embedded sample of {get_spec(dataset).title}: use --source full "
            "(on Debian: apt-get install dataset-fashion-mnist)"
        )
    if not has_all_files(SAMPLE_DIR):
        raise DataError(f"the embedded sample is missing from {SAMPLE_DIR}: restore it with git checkout data/")
    return DataSource(dataset, "sample", SAMPLE_DIR)


def download_files(spec: DatasetSpec, raw_dir: Path, *, timeout: float = DOWNLOAD_TIMEOUT_S) -> None:
    """Fetch the four .gz files from torchvision's mirrors, checking each md5 before it is kept."""
    if not network_allowed():
        raise DataError(f"${OFFLINE_ENV} is set, so {spec.title} will not be downloaded: unset it")
    try:
        raw_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise DataError(f"cannot create {raw_dir}: {error.strerror}: pass a writable --data-dir") from None
    print(f"Downloading {spec.title} into {raw_dir} ...")
    for filename, md5 in spec.torchvision_class.resources:
        target = raw_dir / filename
        if not target.is_file():
            download_one(spec.torchvision_class.mirrors, filename, md5, target, timeout=timeout)


def download_one(mirrors: list[str], filename: str, md5: str, target: Path, *, timeout: float) -> None:
    """Try each mirror in turn; keep the first copy whose md5 matches."""
    errors = []
    for mirror in mirrors:
        url = f"{mirror}{filename}"
        try:
            with atomic_path(target) as tmp:
                digest = fetch(url, tmp, timeout=timeout)
                if digest != md5:
                    raise DataError(f"md5 mismatch for {url} (got {digest}, expected {md5})")
            return
        except (OSError, ValueError, http.client.HTTPException) as error:  # URLError, timeouts, DataError
            errors.append(f"{url}: {getattr(error, 'reason', error)}")
    raise DataError(
        f"could not download {filename} ({'; '.join(errors)}): check your connection, or use --source sample"
    )


def fetch(url: str, path: Path, *, timeout: float) -> str:
    """Stream `url` into `path` within `timeout` seconds overall; return the md5 of what was written."""
    deadline = time.monotonic() + timeout
    digest = hashlib.md5()
    with urllib.request.urlopen(url, timeout=timeout) as response, open(path, "wb") as out:
        while chunk := response.read(1 << 16):
            if time.monotonic() > deadline:
                raise TimeoutError(f"took longer than {timeout:g} s")
            digest.update(chunk)
            out.write(chunk)
    return digest.hexdigest()
