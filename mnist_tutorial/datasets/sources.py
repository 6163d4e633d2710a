"""Which images a run uses, chosen in one place: full data on disk, a download, or the embedded sample.

The choice: the `source` argument, else $MNIST_TUTORIAL_SOURCE, else "auto" (full data if present, else a download
if the network is allowed, else the sample). $MNIST_TUTORIAL_OFFLINE=1 forbids any network access; tests set it.
"""

import os
from dataclasses import dataclass
from pathlib import Path

from ..defaults import DATA_DIR, DOWNLOAD_TIMEOUT_S, OFFLINE_ENV, SAMPLE_ROOT, SOURCE_ENV
from ..errors import ConfigError, DataError
from ..files import path_argument
from .checksums import verify_full
from .download import AUTO_BUDGET_S, download_files, network_allowed
from .specs import DATASETS, SPLIT_FILES, DatasetSpec, get_spec

SOURCES = ("auto", "full", "sample")
SAMPLE_DIR = SAMPLE_ROOT / "MNIST" / "raw"
RESTORE_SAMPLE = (
    "reinstall the course (pip install --force-reinstall --no-deps mnist-tutorial; in a checkout: "
    "git checkout mnist_tutorial/datasets/sample)"
)


@dataclass(frozen=True)
class DataSource:
    """A folder holding the four IDX files of one dataset, and how it was found."""

    dataset: str
    kind: str  # "full" or "sample"
    folder: Path

    @property
    def root(self) -> Path:
        """The folder to pass as torchvision's `root=`: it holds <folder>/raw/ (for system-wide copies, the folder)."""
        return self.folder.parent.parent if self.folder.name == "raw" else self.folder

    @property
    def description(self) -> str:
        """Which data this is and where, for the line every run prints (relative to the project, so outputs travel)."""
        title = DATASETS[self.dataset].title
        if self.kind == "sample":
            return f"the embedded sample of real {title} digits"
        try:
            return f"full {title} ({self.folder.resolve().relative_to(DATA_DIR.resolve().parent)})"
        except ValueError:  # not under the project's data folder
            return f"full {title} ({self.folder})"


def find_file(folder: Path, name: str) -> Path | None:
    """The file `name` in `folder`, uncompressed or gzipped, if either exists."""
    return next((path for path in (folder / name, folder / f"{name}.gz") if path.is_file()), None)


def has_all_files(folder: Path) -> bool:
    """Whether `folder` holds the four IDX files; a folder that cannot be read is an error, not "no"."""
    try:
        return all(find_file(folder, name) for pair in SPLIT_FILES.values() for name in pair)
    except PermissionError:
        fix = "fix its permissions or pass another `data_dir`"
        raise DataError(f"cannot read {folder} (permission denied): {fix}") from None


def find_full(spec: DatasetSpec, data_dir: Path) -> Path | None:
    """The first folder holding all four files: <data_dir>/<folder>/raw, then system-wide copies."""
    return next((f for f in (data_dir / spec.folder / "raw", *spec.system_dirs) if has_all_files(f)), None)


def check_data_dir(data_dir: Path) -> None:
    """Refuse a data dir that is a file, lies inside a file, or cannot be read, before looking in it."""
    try:
        folders = (data_dir, *data_dir.parents)
        blocker = next((folder for folder in folders if folder.exists() and not folder.is_dir()), None)
        readable = not data_dir.is_dir() or os.access(data_dir, os.R_OK | os.X_OK)
    except PermissionError:
        blocker, readable = None, False
    if blocker == data_dir:
        raise DataError(f"`data_dir={data_dir}` is a file, not a folder: pass a folder as `data_dir`")
    if blocker is not None:
        raise DataError(f"`data_dir={data_dir}` cannot exist, as {blocker} is a file: check `data_dir`")
    if not readable:
        fix = "fix its permissions or pass another `data_dir`"
        raise DataError(f"cannot read the data folder {data_dir} (permission denied): {fix}")


def resolve_source(
    *,
    dataset: str = "mnist",
    source: str | None = None,
    data_dir: str | os.PathLike | None = None,
    download: bool = True,
    timeout: float = DOWNLOAD_TIMEOUT_S,
    verify: bool = True,
) -> DataSource:
    """Decide which data to use, downloading full data if allowed and needed; `verify` checks its md5s."""
    spec = get_spec(dataset)
    origin = "" if source else f" (from ${SOURCE_ENV})"
    source = source or os.environ.get(SOURCE_ENV) or "auto"
    if source not in SOURCES:
        raise ConfigError(f"unknown `source={source!r}`{origin}: choose one of {', '.join(SOURCES)}")
    data_dir = path_argument("data_dir", data_dir) if data_dir is not None else DATA_DIR
    check_data_dir(data_dir)
    if source == "sample":
        return sample_source(dataset)
    found = find_full(spec, data_dir)
    raw_dir = found or data_dir / spec.folder / "raw"
    fallback = source == "auto" and dataset == "mnist"
    if found is None:
        if not (download and network_allowed()):
            if fallback:
                return sample_source(dataset)
            reason = f"${OFFLINE_ENV} is set" if not network_allowed() else "downloading is turned off"
            unset = f", unset ${OFFLINE_ENV} to download them" if dataset == "mnist" else ""
            fix = f"copy the four IDX files into {raw_dir}{unset}{spec.or_else}"
            raise DataError(f"full {spec.title} is not in {raw_dir} and {reason}: {fix}")
        try:
            download_files(spec, raw_dir, timeout=timeout, budget=AUTO_BUDGET_S if fallback else None)
        except DataError as error:
            if not fallback:
                raise
            print(f"Download failed ({error}); using the embedded sample instead.")
            return sample_source(dataset)
    if verify:
        verify_full(spec, raw_dir)
    return DataSource(dataset, "full", raw_dir)


def sample_source(dataset: str) -> DataSource:
    """The embedded sample (MNIST only), after checking that it is all there."""
    if dataset != "mnist":
        spec = get_spec(dataset)
        raise ConfigError(f'there is no embedded sample of {spec.title}: use `source="full"`{spec.or_else}')
    if not has_all_files(SAMPLE_DIR):
        raise DataError(f"the embedded sample is missing from {SAMPLE_DIR}: {RESTORE_SAMPLE}")
    return DataSource(dataset, "sample", SAMPLE_DIR)
