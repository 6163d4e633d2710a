"""Notebooks under a bare `pytest` (or `pytest notebooks/`) run as under `make test` and `make notebooks`.

nbval's kernels inherit these, so the notebooks see what their committed outputs were made with: the
embedded sample, the CPU, plain progress lines, and no network. This file sits at the project's root rather
than in notebooks/, so that the learner's folder holds only lessons; pytest loads it for every test path
below it. An explicit setting in the environment (as `make test` gives) wins.
"""

import os

from tools.execute_notebooks import NOTEBOOK_ENV

for name, value in NOTEBOOK_ENV.items():
    os.environ.setdefault(name, value)
