"""The data the lesson trains on: decoded images and labels, the lesson's transforms, and its loaders."""

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset

from .dataset_specs import MAX_IMAGES, SPLIT_FILES, get_spec
from .defaults import BATCH_SIZE, EVAL_BATCH_SIZE, NORMALIZE_MEAN, NORMALIZE_STD, SEED
from .errors import ConfigError, DataError
from .fast_loader import TensorLoader
from .idx import REDOWNLOAD, read_idx
from .sources import DataSource, find_file, resolve_source

if TYPE_CHECKING:
    from torchvision import transforms

RESTORE_SAMPLE = "reinstall the course with pip, or in a checkout run `git checkout mnist_tutorial/sample`"


@dataclass
class Split:
    """One split of a dataset as decoded bytes. images: (N, 28, 28) uint8; labels: (N,) int64."""

    images: torch.Tensor
    labels: torch.Tensor

    def __len__(self) -> int:
        return len(self.labels)


@dataclass
class Data:
    """Both splits, where they came from, and the names of the classes."""

    train: Split
    test: Split
    source: DataSource
    class_names: tuple[str, ...]


def read_split(source: DataSource, split: str) -> Split:
    """Decode one split's two IDX files and check that they agree with each other."""
    paths = [find_file(source.folder, name) for name in SPLIT_FILES[split]]
    if None in paths:
        raise DataError(f"{source.folder} lacks the {split} files {SPLIT_FILES[split]}: check `data_dir`")
    fix = RESTORE_SAMPLE if source.kind == "sample" else REDOWNLOAD
    images = read_idx(paths[0], max_items=MAX_IMAGES[split], item_shape=(28, 28), fix=fix)
    labels = read_idx(paths[1], max_items=MAX_IMAGES[split], item_shape=(), fix=fix)
    if len(images) == 0:
        raise DataError(f"{paths[0]} holds no images: {fix}")
    if labels.dim() != 1 or len(labels) != len(images):
        raise DataError(
            f"{paths[1]} holds {labels.numel()} labels but {paths[0]} holds {len(images)} images: "
            + ('delete both so they are downloaded again, or use `source="sample"`' if fix == REDOWNLOAD else fix)
        )
    if len(labels) and int(labels.max()) > 9:
        raise DataError(f"{paths[1]} holds label {int(labels.max())}, outside 0-9, so it is not a label file: {fix}")
    return Split(images, labels.long())


def load_data(
    *,
    dataset: str = "mnist",
    source: str | None = None,
    data_dir: str | os.PathLike | None = None,
    download: bool = True,
) -> Data:
    """Find, decode and check both splits, and say which data is in use."""
    found = resolve_source(dataset=dataset, source=source, data_dir=data_dir, download=download)
    data = Data(read_split(found, "train"), read_split(found, "test"), found, get_spec(dataset).class_names)
    print(f"Data: {found.description}: {len(data.train):,} training and {len(data.test):,} test images")
    return data


def lesson_transform() -> "transforms.Compose":
    """The lesson's preprocessing: bytes 0..255 -> floats 0..1 -> -1..1, per image, shape (1, 28, 28)."""
    from torchvision import transforms  # here, not at the top: importing torchvision takes seconds

    return transforms.Compose([transforms.ToTensor(), transforms.Normalize((NORMALIZE_MEAN,), (NORMALIZE_STD,))])


class ImageDataset(Dataset):
    """Images as torchvision's MNIST class serves them: one PIL image through the transform per item."""

    def __init__(self, split: Split, transform: "transforms.Compose | None" = None) -> None:
        self.split = split
        self.transform = transform or lesson_transform()

    def __len__(self) -> int:
        return len(self.split)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        image = Image.fromarray(self.split.images[index].numpy())
        return self.transform(image), int(self.split.labels[index])


def make_loaders(
    data: Data,
    *,
    batch_size: int = BATCH_SIZE,
    fast: bool = True,
    device: str | torch.device = "cpu",
    seed: int = SEED,
    num_workers: int = 0,
) -> tuple[DataLoader | TensorLoader, DataLoader | TensorLoader]:
    """Shuffled training batches and in-order test batches, the lesson's way or the fast way.

    Both ways yield (inputs, labels) with inputs of shape (batch, 1, 28, 28), normalised identically.
    `num_workers=0` because worker processes hang in notebooks on macOS and Windows.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ConfigError(f"`batch_size={batch_size!r}` is not a positive whole number: pass 1 or more")
    generator = torch.Generator().manual_seed(seed)
    if fast:
        train_loader = TensorLoader(
            data.train.images,
            data.train.labels,
            batch_size=batch_size,
            shuffle=True,
            generator=generator,
            device=device,
        )
    else:
        train_loader = DataLoader(
            ImageDataset(data.train),
            batch_size=batch_size,
            shuffle=True,
            generator=generator,
            num_workers=num_workers,
        )
    return train_loader, make_test_loader(data, fast=fast, device=device, num_workers=num_workers)


def make_test_loader(
    data: Data, *, fast: bool = True, device: str | torch.device = "cpu", num_workers: int = 0
) -> DataLoader | TensorLoader:
    """The test images in order, in one large batch (evaluation keeps no gradients)."""
    if fast:
        images, labels = data.test.images, data.test.labels
        return TensorLoader(images, labels, batch_size=EVAL_BATCH_SIZE, shuffle=False, device=device)
    return DataLoader(ImageDataset(data.test), batch_size=EVAL_BATCH_SIZE, shuffle=False, num_workers=num_workers)
