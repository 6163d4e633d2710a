"""What the course knows about each dataset it can train on: names, folders, classes, the size of a split.

MNIST and Fashion-MNIST share one format (four IDX files: train and test images and labels), so a dataset
is described by what differs between them.
"""

from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError

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

# The most images a split of MNIST or Fashion-MNIST holds: reading refuses files that claim more.
MAX_IMAGES = {"train": 60_000, "test": 10_000}


def get_spec(dataset: str) -> DatasetSpec:
    """The spec of `dataset` ("mnist" or "fashion"), or a ConfigError naming the choices."""
    if dataset not in DATASETS:
        raise ConfigError(f"unknown `dataset={dataset!r}`: choose one of {', '.join(DATASETS)}")
    return DATASETS[dataset]
