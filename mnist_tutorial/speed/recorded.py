"""The GPU figures recorded by benchmarks/gpu_check.sh, as notebook 06 shows them (None: not yet run on a GPU)."""

import json
from importlib import resources
from typing import Any


def recorded_gpu_figures() -> dict[str, Any]:
    """When, on what and with which torch the GPU figures were recorded, and the seconds per epoch of each way."""
    return json.loads(resources.files(__package__).joinpath("recorded_gpu.json").read_text(encoding="utf-8"))
