"""The lesson's settings, in one place: everything else reads its defaults from here."""

from pathlib import Path

BATCH_SIZE = 64
LR = 0.001
MOMENTUM = 0.9
NUM_EPOCHS = 10
LOG_EVERY = 200  # batches between the lesson's running-loss lines
SEED = 0
HIDDEN_SIZES = (128, 64)
NORMALIZE_MEAN = 0.5
NORMALIZE_STD = 0.5
EVAL_BATCH_SIZE = 10_000  # evaluation has no gradients to keep, so one large batch is fastest

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = PROJECT_ROOT / "data"
BUILD_DIR = PROJECT_ROOT / "build"

# Environment variables, read in exactly one place each (data.sources and train.progress).
OFFLINE_ENV = "MNIST_TUTORIAL_OFFLINE"  # "1": never touch the network
SOURCE_ENV = "MNIST_TUTORIAL_SOURCE"  # auto | full | sample
PROGRESS_ENV = "MNIST_TUTORIAL_PROGRESS"  # auto | bar | text | none
DOWNLOAD_TIMEOUT_S = 10.0
