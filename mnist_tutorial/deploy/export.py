"""The trained network outside PyTorch: an ONNX file for any runtime, and a web page that runs it offline (08).

`export_model(checkpoint=..., out=...)` writes model.onnx (input "image", float32 (batch, 1, 28, 28), normalised;
output "logits", (batch, 10)), metadata.json, and index.html with the files of deploy/web/ and model.js (the
weights): a page to draw a digit on that runs the network in plain JavaScript (network.js, read beside model.py;
far smaller than onnxruntime-web), from file:// and offline.
"""

import base64
import contextlib
import io
import json
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any, NamedTuple

import onnx
import torch

from ..checkpoint import load_checkpoint, model_from_checkpoint
from ..data import read_split
from ..datasets.sources import get_spec, sample_source
from ..defaults import NORMALIZE_MEAN, NORMALIZE_STD
from ..errors import OutputError, keywords_only
from ..files import path_argument, write_failure, write_files_atomic
from ..model import NeuralNetwork

FORMAT = "mnist-tutorial-export/1"
WEB = Path(__file__).resolve().parent / "web"  # the page's static files, shipped as package data
PAGE_FILES = ("index.html", "style.css", "preprocess.js", "network.js", "app.js")
INPUT_NAME, OUTPUT_NAME = "image", "logits"
PIXELS = "28x28 grey levels, 0 = background .. 255 = ink, then x = (pixel / 255 - mean) / std"
LOGITS = "raw scores (logits): softmax gives the probabilities"
PREPROCESSING = (
    "for a drawing: crop to the ink, scale the longer side to 20 pixels by area averaging, and centre by "
    "mass on pixel (14, 14) of a 28x28 image (mnist_tutorial/deploy/drawing.py; preprocess.js in the page)"
)


class Exported(NamedTuple):
    """The three main files export_model wrote."""

    onnx: Path
    metadata: Path
    page: Path


@keywords_only
def export_model(*, checkpoint: str | os.PathLike, out: str | os.PathLike) -> Exported:
    """Write model.onnx, metadata.json and the draw page (index.html and what it needs) into the folder `out`."""
    checkpoint, out = path_argument("checkpoint", checkpoint), path_argument("out", out)
    state = load_checkpoint(checkpoint)
    model = model_from_checkpoint(checkpoint, state).eval()
    metadata = describe(state)
    if out.exists() and not out.is_dir():
        raise OutputError(f"`out` {out} is a file, not a folder: choose a folder to export into")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OutputError(f"cannot create `out` folder {out} ({error.strerror or error}): choose another") from None
    files = {
        "model.onnx": onnx_bytes(model, metadata),
        "metadata.json": (json.dumps(metadata, indent=2) + "\n").encode(),
        "model.js": page_model_script(model, metadata).encode(),
        **{name: (WEB / name).read_bytes() for name in PAGE_FILES},
    }
    try:  # the set as a whole: each file written in full before any replaces its namesake, so none mixes two models
        write_files_atomic({out / name: data for name, data in files.items()}, argument="out")
    except OutputError:  # a link or FIFO planted in `out`, refused in its own words
        raise
    except OSError as error:
        raise OutputError(f"cannot write into `out` folder {out}: {write_failure(error)}") from None
    return Exported(out / "model.onnx", out / "metadata.json", out / "index.html")


def describe(state: dict[str, Any]) -> dict[str, Any]:
    """The metadata: what goes in and out of the network, its classes, and how well it did."""
    spec = get_spec(state.get("dataset", "mnist"))
    normalization = state.get("normalization") or {"mean": NORMALIZE_MEAN, "std": NORMALIZE_STD}
    # The run's own record: the checkpoint and metrics.json are written together, with the same accuracy and source.
    accuracy = ((state.get("history") or {}).get("test_accuracy") or [None])[-1]
    sample = " (the embedded sample)" if (state.get("settings") or {}).get("source") == "sample" else ""
    epochs = f", {state['epoch']} epochs" if state.get("epoch") else ""
    return {
        "format": FORMAT,
        "model": "model.onnx",
        "sizes": state["sizes"],
        "dataset": spec.name,
        "trained_on": f"{spec.title}{sample}{epochs}",
        "class_names": list(spec.class_names),
        "input": {"name": INPUT_NAME, "shape": ["batch", 1, 28, 28], "dtype": "float32", "pixels": PIXELS},
        "normalization": {"mean": float(normalization["mean"]), "std": float(normalization["std"])},
        "output": {"name": OUTPUT_NAME, "shape": ["batch", state["sizes"]["num_classes"]], "meaning": LOGITS},
        "test_accuracy": accuracy,
        "preprocessing": PREPROCESSING,
    }


def onnx_bytes(model: NeuralNetwork, metadata: dict[str, Any]) -> bytes:
    """The network as one self-contained ONNX file, any batch size, with the metadata in its properties."""
    example = torch.zeros(1, 1, 28, 28)
    # Hidden: the exporter's progress lines and its advice about its own options, which are not the reader's.
    with tempfile.TemporaryDirectory() as folder, contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        path = Path(folder) / "model.onnx"
        torch.onnx.export(
            model,
            (example,),
            str(path),
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}},
        )
        proto = onnx.load(str(path))  # newer exporters put the weights in a second file: load them in
    proto.doc_string = f"The mnist-tutorial network. Input: {PIXELS}. Output: logits; softmax gives probabilities."
    onnx.helper.set_model_props(
        proto, {key: json.dumps(metadata[key]) for key in ("class_names", "normalization", "test_accuracy")}
    )
    return proto.SerializeToString()


def page_model_script(model: NeuralNetwork, metadata: dict[str, Any]) -> str:
    """model.js: the page's copy of the network, weights as base64 little-endian float32, and what it shows."""
    layers = [
        {
            "name": name,
            "inputs": layer.in_features,
            "outputs": layer.out_features,
            "weight": as_base64(layer.weight),  # (outputs, inputs), row by row
            "bias": as_base64(layer.bias),
        }
        for name, layer in (("fc1", model.fc1), ("fc2", model.fc2), ("fc3", model.fc3))
    ]
    page = {
        "classNames": metadata["class_names"],
        "normalization": metadata["normalization"],
        "testAccuracy": metadata["test_accuracy"],
        "trainedOn": metadata["trained_on"],
        "layers": layers,
        "examples": test_examples(metadata["dataset"]),
    }
    # A script, not a JSON file: browsers refuse to fetch files next to a page opened from file://.
    return f"// Written by `mnist-tutorial export`: the network for app.js.\nconst MNIST_MODEL = {json.dumps(page)};\n"


def test_examples(dataset: str) -> list[dict[str, Any]]:
    """One test image of each class from the embedded sample, for the page's "Show me a test digit" (the way to a
    prediction with the keyboard alone); none for a dataset without a sample (the button then stays hidden)."""
    if dataset != "mnist":
        return []
    test = read_split(sample_source(dataset), "test")
    firsts = [int((test.labels == label).nonzero()[0]) for label in range(10)]
    pixels = [base64.b64encode(test.images[i].numpy().tobytes()).decode("ascii") for i in firsts]  # 784 bytes each
    return [{"label": int(test.labels[i]), "index": i, "pixels": p} for i, p in zip(firsts, pixels, strict=True)]


def as_base64(tensor: torch.Tensor) -> str:
    return base64.b64encode(tensor.detach().cpu().numpy().astype("<f4").tobytes()).decode("ascii")
