"""The lesson's settings, in one place: everything else reads its defaults from here."""

import os
from pathlib import Path

DATASET = "mnist"
LOADER = "fast"  # tensors kept in memory; "lesson": torchvision's transforms and DataLoader, the same numbers
BATCH_SIZE = 64
LR = 0.001
MOMENTUM = 0.9
NUM_EPOCHS = 10
LOG_EVERY = 200  # batches between the lesson's running-loss lines
SAMPLE_LOG_EVERY = 50  # the same on the 8,000-image sample, whose 125 batches per epoch never reach 200
SEED = 0
NPROC = 1  # processes a run trains on (more: data-parallel, notebook 07)
HIDDEN_SIZES = (128, 64)
MAX_HIDDEN = 4096  # the largest layer the course builds: a checkpoint or form asking for more is refused
NORMALIZE_MEAN = 0.5
NORMALIZE_STD = 0.5
EVAL_BATCH_SIZE = 10_000  # evaluation has no gradients to keep, so one large batch is fastest

# CPU threads while training (None: PyTorch's one per core). At batch 64 each matrix product is tiny (~0.1 ms) and
# hands work to the other threads and waits: two save a quarter on idle cores, but while another program keeps a core
# busy each wait lasts a scheduler slice (4 s to 48 s per epoch; benchmarks/README.md). One thread also gives the same
# numbers whatever the core count, which changes how sums split.
CPU_THREADS = 1

# The workshop's room (docs/room.md). What one student needs: a kernel running 03 and then 05 with 03's kernel left
# open peaked at 1.11 GB in its cgroup (benchmarks/results/room-2026-12-06-quiet.json), rounded up with headroom. doctor
# warns a laptop below it; the room seats (available memory) / this many students and limits each to it.
STUDENT_MEMORY_GB = 1.5
# A room's server nobody used for this long is stopped (its files stay; signing in again starts it). An open
# JupyterLab tab keeps its server in use (it asks every few seconds), so this counts from a closed tab or laptop:
# long enough for a break, short enough that a student who left frees their seat before the session ends.
IDLE_MINUTES = 30

# Where files go: data/ and build/ in the checkout (pyproject.toml beside the package), else in the current folder;
# in the room (its spawner sets ROOM_RECORD_ENV) the current folder, each student's own, however it was installed.
ROOM_RECORD_ENV = "MNIST_TUTORIAL_ROOM_RECORD"  # set by the room only: the file a student's self-checks append to
PACKAGE_DIR = Path(__file__).resolve().parent
IN_CHECKOUT = (PACKAGE_DIR.parent / "pyproject.toml").is_file()
PROJECT_ROOT = PACKAGE_DIR.parent if IN_CHECKOUT and ROOM_RECORD_ENV not in os.environ else Path.cwd()
DATA_DIR = PROJECT_ROOT / "data"  # downloads of full data land here: what the lesson's root="./data" means
BUILD_DIR = PROJECT_ROOT / "build"  # checkpoints and figures the notebooks write
RUN_DIR = Path("runs/latest")  # where `mnist-tutorial train` writes, relative to where it runs
PRACTICE_MARKER = ".student-copy"  # tools/make_student.py writes it into each folder of practice copies
SAMPLE_ROOT = PACKAGE_DIR / "datasets" / "sample"  # the embedded sample, inside the package so that wheels carry it

# Environment variables, each read in one place (sources.py, train.py, progress.py; the room's above and in
# selfcheck/verdicts.py).
OFFLINE_ENV = "MNIST_TUTORIAL_OFFLINE"  # "1": never touch the network
SOURCE_ENV = "MNIST_TUTORIAL_SOURCE"  # auto | full | sample
PROGRESS_ENV = "MNIST_TUTORIAL_PROGRESS"  # auto | bar | text | none
DEVICE_ENV = "MNIST_TUTORIAL_DEVICE"  # auto | cpu | cuda | mps: `make test` pins cpu, as the committed outputs were
DOWNLOAD_TIMEOUT_S = 10.0
