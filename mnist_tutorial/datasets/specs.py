"""What the course knows of each dataset it trains on: names, folders, classes, the size of a split."""

from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError

SPLIT_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
MAX_IMAGES = {"train": 60_000, "test": 10_000}  # the most a split holds: reading refuses files that claim more


@dataclass(frozen=True)
class DatasetSpec:
    """What differs between MNIST and Fashion-MNIST; both ship as the same four IDX files."""

    name: str
    title: str
    folder: str  # torchvision's class name, and its folder: <data_dir>/<folder>/raw/
    class_names: tuple[str, ...]
    or_else: str  # the other way to get this data, ending a message's fix
    system_dirs: tuple[Path, ...] = ()  # read-only copies a package manager may have installed

    @property
    def torchvision_class(self) -> type:
        """torchvision's class for this dataset, whose mirrors and md5s downloads use."""
        from torchvision import datasets  # here, not at the top: importing torchvision takes seconds

        return getattr(datasets, self.folder)


DATASETS = {
    "mnist": DatasetSpec("mnist", "MNIST", "MNIST", tuple("0123456789"), ', or use `source="sample"`'),
    "fashion": DatasetSpec(
        "fashion",
        "Fashion-MNIST",
        "FashionMNIST",
        ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
        " (on Debian: apt-get install dataset-fashion-mnist)",
        (Path("/usr/share/datasets/fashion-mnist"),),  # where that Debian package puts it
    ),
}


def get_spec(dataset: str) -> DatasetSpec:
    """The spec of `dataset` ("mnist" or "fashion"), or a ConfigError naming the choices."""
    if dataset not in DATASETS:
        raise ConfigError(f"unknown `dataset={dataset!r}`: choose one of {', '.join(DATASETS)}")
    return DATASETS[dataset]
