"""Notebooks under a bare `pytest` (or `pytest notebooks/`) run as under `make test`.

nbval's kernels inherit these, so the notebooks see what their committed outputs were made with: the
embedded sample, the CPU, plain progress lines, and no network.
"""

import os

from mnist_tutorial.defaults import DEVICE_ENV, OFFLINE_ENV, PROGRESS_ENV, SOURCE_ENV

os.environ.setdefault(OFFLINE_ENV, "1")
os.environ.setdefault(SOURCE_ENV, "sample")
os.environ.setdefault(DEVICE_ENV, "cpu")
os.environ.setdefault(PROGRESS_ENV, "text")
