"""export: the network as ONNX (checked against torch with onnxruntime), its metadata, and the draw page.

The page, in headless Chromium from file:// and offline: strokes drawn with the mouse give it the same 784 numbers
as drawing.preprocess, and its plain-JavaScript network torch's probabilities (within 1e-4: float32 sums in another
order). Chromium: /usr/bin/chromium or $MNIST_TUTORIAL_CHROMIUM; a screenshot lands in build/screenshots/.
tests/test_accessibility.py checks the page with axe-core, the keyboard and a finger. The tests of metadata, the
command and the writing of the set stub the ONNX exporter (seconds a call): `fast_onnx`.
"""

import base64
import errno
import json
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import onnx
import onnxruntime
import pytest
import torch
from helpers import chromium

import mnist_tutorial.cli as cli
from mnist_tutorial import NeuralNetwork, load_data, load_model, normalize, save_checkpoint
from mnist_tutorial.deploy import export
from mnist_tutorial.deploy.drawing import preprocess, rasterize, to_mnist_bytes
from mnist_tutorial.deploy.export import PAGE_FILES, export_model

SCREENSHOTS = Path(__file__).resolve().parent.parent / "build" / "screenshots"
PEN, SIZE = 18, 280  # the page's pen width and canvas size, as in the JupyterLab pad
TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def exported(run_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("export") / "page"
    export_model(checkpoint=run_dir / "model.pt", out=out)
    return out


@pytest.fixture(scope="module")
def model(run_dir: Path) -> torch.nn.Module:
    return load_model(run_dir / "model.pt")


@pytest.fixture
def fast_onnx(monkeypatch) -> None:
    """model.onnx holds the metadata instead: another network (another accuracy) still gives other bytes."""
    monkeypatch.setattr(export, "onnx_bytes", lambda model, metadata: json.dumps(metadata).encode())


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def test_onnxruntime_and_the_pages_weights_agree_with_torch(model, exported: Path) -> None:
    test = load_data(source="sample").test
    inputs = normalize(test.images)
    with torch.no_grad():
        expected = model(inputs).softmax(dim=1).numpy()
    session = onnxruntime.InferenceSession(str(exported / "model.onnx"), providers=["CPUExecutionProvider"])
    got = softmax(session.run(["logits"], {"image": inputs.numpy()})[0].astype(np.float64))
    assert got.shape == (len(test), 10) and (got.argmax(axis=1) == expected.argmax(axis=1)).all()
    assert np.abs(got - expected).max() < 1e-5  # another runtime sums in another order
    for count in (1, 7):  # any batch size: one image, and an odd number of them
        assert np.abs(softmax(session.run(None, {"image": inputs[:count].numpy()})[0]) - expected[:count]).max() < 1e-5
    page = json.loads(re.search(r"const MNIST_MODEL = (\{.*\});", (exported / "model.js").read_text()).group(1))
    state = model.state_dict()  # the page's weights are the model's, bit for bit
    for layer in page["layers"]:
        for kind in ("weight", "bias"):
            decoded = np.frombuffer(base64.b64decode(layer[kind]), dtype="<f4")
            assert np.array_equal(decoded, state[f"{layer['name']}.{kind}"].numpy().ravel())
    assert [(layer["inputs"], layer["outputs"]) for layer in page["layers"]] == [(784, 128), (128, 64), (64, 10)]
    assert page["classNames"] == [str(d) for d in range(10)]


def test_the_onnx_file_is_valid_self_contained_and_named_and_the_metadata_says_what_it_needs(run_dir, exported):
    assert sorted(path.name for path in exported.iterdir()) == sorted(
        ["model.onnx", "metadata.json", "model.js", *PAGE_FILES]
    )  # no model.onnx.data beside it: the weights are inside
    model = onnx.load(str(exported / "model.onnx"))
    onnx.checker.check_model(model)
    (image,), (logits,) = model.graph.input, model.graph.output
    assert (image.name, logits.name) == ("image", "logits")
    dims = [d.dim_param or d.dim_value for d in image.type.tensor_type.shape.dim]
    assert dims[1:] == [1, 28, 28] and isinstance(dims[0], str)  # a named, dynamic batch dimension
    props = {p.key: json.loads(p.value) for p in model.metadata_props if p.key in ("normalization", "class_names")}
    assert props == {"normalization": {"mean": 0.5, "std": 0.5}, "class_names": [str(d) for d in range(10)]}
    metadata = read_metadata(exported)
    assert {key: metadata[key] for key in props} == props
    assert metadata["test_accuracy"] == json.loads((run_dir / "metrics.json").read_text())["test_accuracy"]
    assert metadata["input"]["name"] == "image" and metadata["output"]["name"] == "logits"
    assert metadata["trained_on"] == "MNIST (the embedded sample), 2 epochs"


def read_metadata(folder: Path) -> dict:
    return json.loads((folder / "metadata.json").read_text())


def test_without_metrics_the_accuracy_is_the_checkpoints_and_a_fashion_one_names_its_classes(tmp_path, fast_onnx):
    history = {"train_loss": [1.0], "test_loss": [1.0], "test_accuracy": [0.5], "seconds": [1.0]}
    save_checkpoint(tmp_path / "model.pt", model=NeuralNetwork(), dataset="fashion", history=history)
    export_model(checkpoint=tmp_path / "model.pt", out=tmp_path / "out")
    metadata = read_metadata(tmp_path / "out")
    assert metadata["class_names"][0] == "T-shirt/top" and metadata["class_names"][9] == "Ankle boot"
    assert metadata["test_accuracy"] == 0.5  # from the checkpoint's history, in the absence of metrics.json
    torch.save(NeuralNetwork().state_dict(), tmp_path / "weights.pt")  # a bare state dict: accuracy unknown
    export_model(checkpoint=tmp_path / "weights.pt", out=tmp_path / "bare")
    bare = read_metadata(tmp_path / "bare")
    assert bare["test_accuracy"] is None and bare["dataset"] == "mnist"


# ------------------------------------------------------------------------------------------- the command


main = cli.main


@pytest.mark.parametrize("problem", ["missing", "folder", "not_pytorch", "foreign", "out-a-file", "out-in-a-file"])
def test_a_bad_checkpoint_or_out_folder_is_one_line_and_exit_2(run_dir, tmp_path, capsys, problem) -> None:
    checkpoint, out, blocker = tmp_path / "model.pt", tmp_path / "out", tmp_path / "a-file"
    blocker.write_text("not a folder")
    if problem == "folder":
        checkpoint.mkdir()
    elif problem == "not_pytorch":
        checkpoint.write_text("hello")
    elif problem == "foreign":
        torch.save({"weights": torch.zeros(3)}, checkpoint)
    elif problem.startswith("out"):
        checkpoint, out = run_dir / "model.pt", blocker / "inside" if problem == "out-in-a-file" else blocker
    assert main(["export", "--checkpoint", str(checkpoint), "--out", str(out)]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and error.startswith("mnist-tutorial: error:") and "Traceback" not in error
    assert "--out" in error and "`" not in error if problem.startswith("out") else str(checkpoint) in error
    assert blocker.read_text() == "not a folder" and not (tmp_path / "out").exists()


# ------------------------------------------------------------------------------------------- the set as a whole


def contents(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in folder.iterdir()}


def test_the_command_writes_a_set_a_full_disk_mid_export_leaves_whole_and_a_planted_link_is_refused(
    tmp_path: Path, capsys, monkeypatch, fast_onnx
) -> None:
    first, second = tmp_path / "1.pt", tmp_path / "2.pt"  # other networks: an export of each differs in every file
    for accuracy, path in ((0.6, first), (0.7, second)):
        history = {"train_loss": [1.0], "test_loss": [1.0], "test_accuracy": [accuracy], "seconds": [1.0]}
        save_checkpoint(path, model=NeuralNetwork(), dataset="mnist", history=history)
    out = tmp_path / "page"
    assert main(["export", "--checkpoint", str(first), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"Wrote {out / 'model.onnx'} (" in printed and f"open {out / 'index.html'} in a browser" in printed
    before = contents(out)
    real_write, written = Path.write_bytes, []

    def fills_the_disk_on_the_second_file(path: Path, data: bytes) -> int:
        if path.parent == out:
            written.append(path)
            if len(written) == 2:
                raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(path, data)

    monkeypatch.setattr(Path, "write_bytes", fills_the_disk_on_the_second_file)
    assert main(["export", "--checkpoint", str(second), "--out", str(out)]) == 2
    assert capsys.readouterr().err == (
        f"mnist-tutorial: error: cannot write into --out folder {out}: the disk is full: free some disk space or "
        "write somewhere else\n"
    )
    assert contents(out) == before  # model.onnx, model.js and metadata.json all still the first network's
    monkeypatch.setattr(Path, "write_bytes", real_write)
    export_model(checkpoint=second, out=out)
    assert contents(out).keys() == before.keys()
    assert all(contents(out)[name] != before[name] for name in ("model.onnx", "model.js", "metadata.json"))
    before, victim = contents(out), tmp_path / "notes.txt"  # now a link planted in `out`: refused, its target kept
    victim.write_text("my notes\n")
    (out / "model.js").unlink()
    (out / "model.js").symlink_to(victim)
    assert main(["export", "--checkpoint", str(first), "--out", str(out)]) == 2
    assert capsys.readouterr().err == (
        f"mnist-tutorial: error: cannot write {out}/model.js: it is a symlink, not a file the course wrote: move it "
        "away or choose another --out\n"
    )
    assert victim.read_text() == "my notes\n" and contents(out) == {**before, "model.js": b"my notes\n"}


# ------------------------------------------------------------------------------------------- the page in Chromium


@pytest.fixture(scope="module")
def page(exported: Path) -> Iterator[object]:
    """The exported page open in Chromium; page.requests lists every URL it asked for, page.errors its errors."""
    with chromium() as browser:
        tab = browser.new_page(viewport={"width": 900, "height": 700}, device_scale_factor=2)  # as on a phone
        tab.requests, tab.errors, tab.folder = [], [], exported
        tab.on("request", lambda request: tab.requests.append(request.url))
        tab.on("pageerror", lambda error: tab.errors.append(str(error)))
        tab.on("console", lambda message: message.type == "error" and tab.errors.append(message.text))
        tab.goto(exported.joinpath("index.html").as_uri())
        yield tab


def draw(tab, strokes: list[list[tuple[float, float]]]) -> dict:
    """Draw `strokes` (fractions of the canvas) with the mouse; return what the page recorded and computed."""
    tab.click("#clear")
    box = tab.locator("#pad").bounding_box()
    for stroke in strokes:
        for index, (x, y) in enumerate(stroke):
            tab.mouse.move(box["x"] + x * box["width"], box["y"] + y * box["height"], steps=6 if index else 1)
            if index == 0:
                tab.mouse.down()
        tab.mouse.up()
    return tab.evaluate(
        "({strokes: mnistState.strokes, bytes: Array.from(mnistState.bytes), input: Array.from(mnistState.input),"
        " probabilities: mnistState.probabilities})"
    )


SEVEN = [[(0.2, 0.2), (0.8, 0.2), (0.45, 0.85)], [(0.35, 0.5), (0.65, 0.5)]]
ONE = [[(0.55, 0.15), (0.5, 0.85)]]
DOT_IN_A_CORNER = [[(0.95, 0.95)]]


@pytest.mark.browser
@pytest.mark.parametrize("strokes", [ONE, SEVEN, DOT_IN_A_CORNER], ids=["one", "seven", "dot"])
def test_the_page_computes_what_python_computes_for_the_same_strokes(page, model, strokes) -> None:
    state = draw(page, strokes)
    assert len(state["strokes"]) == len(strokes)
    ink = rasterize(state["strokes"], size=SIZE, width=PEN)
    assert state["bytes"] == to_mnist_bytes(ink).ravel().tolist()
    inputs = preprocess(ink)
    assert np.array_equal(np.array(state["input"], dtype=np.float32), inputs.numpy().ravel())  # bit for bit
    with torch.no_grad():
        expected = model(inputs).softmax(dim=1)[0].double().numpy()
    assert np.abs(np.array(state["probabilities"]) - expected).max() < TOLERANCE
    assert page.locator("#verdict").inner_text() == f"The network reads: {int(expected.argmax())}"


@pytest.mark.browser
def test_the_pages_network_matches_torch_on_real_digits(page, model) -> None:
    inputs = normalize(load_data(source="sample").test.images[:300])
    script = "rows => { const layers = Network.load(MNIST_MODEL); return rows.map(x => Network.predict(layers, x)); }"
    got = np.array(page.evaluate(script, inputs.view(-1, 784).tolist()))
    with torch.no_grad():
        expected = model(inputs).softmax(dim=1).double().numpy()
    assert np.abs(got - expected).max() < TOLERANCE
    assert (got.argmax(axis=1) == expected.argmax(axis=1)).all()


@pytest.mark.browser
def test_random_strokes_preprocess_identically_in_both(page) -> None:
    """The specification, not just the mouse: strokes anywhere, even off the canvas, of any length."""
    rng = np.random.default_rng(0)
    cases = [
        [
            (rng.uniform(-20, SIZE + 20, size=(int(rng.integers(1, 12)), 2)) * rng.uniform(0.05, 1)).tolist()
            for _ in range(rng.integers(1, 4))
        ]
        for _ in range(40)
    ]
    got = page.evaluate(
        f"cases => cases.map(s => Array.from(Preprocess.toMnistBytes(Preprocess.rasterize(s, {SIZE}, {PEN}), {SIZE})))",
        cases,
    )
    for strokes, page_bytes in zip(cases, got, strict=True):
        assert page_bytes == to_mnist_bytes(rasterize(strokes, size=SIZE, width=PEN)).ravel().tolist(), strokes


@pytest.mark.browser
def test_the_page_loads_only_its_own_files_shows_no_error_and_clears(page) -> None:
    draw(page, SEVEN)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "draw_page.png"), full_page=True)
    folder = page.folder.as_uri() + "/"
    assert page.requests and all(url.startswith(folder) for url in page.requests), page.requests
    assert page.errors == []
    accuracy = json.loads((page.folder / "metadata.json").read_text())["test_accuracy"]
    assert f"{100 * accuracy:.2f}% test accuracy" in page.locator("#about").inner_text()
    page.click("#clear")
    assert page.evaluate("mnistState.strokes.length") == 0 and page.evaluate("mnistState.probabilities") is None
    assert page.locator("#bars li").count() == 10
    assert all(text == "" for text in page.locator("#bars .value").all_inner_texts())
