"""The data the lesson trains on: decoded images and labels, the lesson's transforms, and its loaders.

Two loaders serve the same batches. The lesson's DataLoader turns every image into a PIL image, then a tensor,
then normalises it, one at a time, every epoch: on a small CPU that costs far more than the network's own
arithmetic. TensorLoader does that work once, in one vectorised step (`normalize`), and each batch is just a
gather from a tensor that already sits on the training device. Same batches, same order, same numbers.
"""

import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset

from .datasets.idx import REDOWNLOAD, read_idx
from .datasets.sources import DataSource, find_file, resolve_source
from .datasets.specs import MAX_IMAGES, SPLIT_FILES, get_spec
from .defaults import BATCH_SIZE, EVAL_BATCH_SIZE, NORMALIZE_MEAN, NORMALIZE_STD, SEED
from .errors import DataError
from .settings import check_count

if TYPE_CHECKING:
    from torchvision import transforms

RESTORE_SAMPLE = "reinstall the course with pip, or in a checkout run `git checkout mnist_tutorial/datasets/sample`"


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


def normalize(images: torch.Tensor) -> torch.Tensor:
    """uint8 (N, 28, 28) -> float32 (N, 1, 28, 28), bitwise equal to ToTensor() + Normalize per image."""
    # The same operations in the same order as ToTensor (divide by 255) then Normalize (subtract the mean,
    # divide by the std), so every float is rounded identically. It runs on the CPU, as torchvision does:
    # CUDA divides by a number by multiplying with its reciprocal, which rounds differently.
    # In place after the one copy that .to() makes, so 60,000 images need 188 MB, not four times that.
    floats = images.unsqueeze(1).to(device="cpu", dtype=torch.float32, copy=True)
    return floats.div_(255).sub_(NORMALIZE_MEAN).div_(NORMALIZE_STD)


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


class TensorLoader:
    """Iterate (inputs, labels) batches from tensors resident on `device`, like a DataLoader.

    With `shuffle=True` each pass draws a fresh permutation from `generator` exactly as the DataLoader
    does with the same generator, so both yield the same batches in the same order; the last batch is
    smaller when the batch size does not divide the number of images, as in a DataLoader.
    """

    def __init__(
        self,
        images: torch.Tensor,
        labels: torch.Tensor,
        *,
        batch_size: int,
        shuffle: bool,
        generator: torch.Generator | None = None,
        device: str | torch.device = "cpu",
    ) -> None:
        check_count("batch_size", batch_size)
        if len(images) != len(labels):
            raise ValueError(f"{len(images)} images but {len(labels)} labels")
        self.inputs = normalize(images).to(device)
        self.labels = labels.to(device=device, dtype=torch.long)
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.generator = generator if generator is not None else torch.Generator().manual_seed(0)

    def __len__(self) -> int:
        """Number of batches per pass, the last one possibly partial."""
        return math.ceil(len(self.labels) / self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        # The permutation is drawn here, when the pass starts, as a DataLoader draws its own.
        return self._batches(self.permutation() if self.shuffle else None)

    def permutation(self) -> torch.Tensor:
        """The next pass's order of images, on the data's device. Advances the generator."""
        # A DataLoader first draws one number from the generator (a seed for worker processes), then
        # torch.randperm: doing the same keeps both loaders on the same shuffles from the same seed.
        torch.empty((), dtype=torch.int64).random_(generator=self.generator)
        return torch.randperm(len(self.labels), generator=self.generator).to(self.labels.device)

    def _finish_pass(self) -> None:
        # torch's RandomSampler draws a second, unused permutation once a pass is complete
        # (the `num_samples % n` leftover of its loop); drawing it too keeps the next epoch in step.
        torch.randperm(len(self.labels), generator=self.generator)

    def _batches(self, order: torch.Tensor | None) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        n, size = len(self.labels), self.batch_size
        if order is None:  # in order: slices are views, nothing is copied
            for start in range(0, n, size):
                yield self.inputs[start : start + size], self.labels[start : start + size]
            return
        yield from self._gather(order)
        self._finish_pass()

    def _gather(self, order: torch.Tensor) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """The batches of the images in `order`, one index_select per batch."""
        # index_select per batch: about 3x faster than inputs[batch] (advanced indexing), and faster than
        # permuting all 188 MB once per epoch (measured: 16 ms, 54 ms and 100 ms per 60k epoch).
        for batch in order.split(self.batch_size):
            yield self.inputs.index_select(0, batch), self.labels.index_select(0, batch)


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
    check_count("batch_size", batch_size)
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
