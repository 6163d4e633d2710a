"""The exported draw page in headless Chromium, opened from file://: the same numbers as Python, offline.

Strokes drawn with the mouse give the page the same 784 preprocessed numbers as drawing.preprocess, and its
plain-JavaScript network the same probabilities as torch (within 1e-4: another order of float32 sums). Chromium:
/usr/bin/chromium or $MNIST_TUTORIAL_CHROMIUM. A screenshot lands in build/screenshots/draw_page.png.
tests/test_accessibility.py checks the page with axe-core, the keyboard and a finger.
"""

import json
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from mnist_tutorial import load_data, load_model, normalize
from mnist_tutorial.deploy.drawing import preprocess, rasterize, to_mnist_bytes
from mnist_tutorial.deploy.export import export_model

pytestmark = pytest.mark.browser

SCREENSHOTS = Path(__file__).resolve().parent.parent / "build" / "screenshots"
CHROMIUM = Path(os.environ.get("MNIST_TUTORIAL_CHROMIUM", "/usr/bin/chromium"))
PEN, SIZE = 18, 280  # the page's pen width and canvas size, as in the JupyterLab pad
TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def page(run_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """The exported page open in Chromium; page.requests lists every URL it asked for, page.errors its errors."""
    if not CHROMIUM.is_file():
        pytest.fail(f"Chromium is not at {CHROMIUM}: apt-get install chromium, or set MNIST_TUTORIAL_CHROMIUM")
    from playwright.sync_api import sync_playwright

    folder = tmp_path_factory.mktemp("export") / "page"
    export_model(checkpoint=run_dir / "model.pt", out=folder)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]
        )
        tab = browser.new_page(viewport={"width": 900, "height": 700}, device_scale_factor=2)  # as on a phone
        tab.requests, tab.errors, tab.folder = [], [], folder
        tab.on("request", lambda request: tab.requests.append(request.url))
        tab.on("pageerror", lambda error: tab.errors.append(str(error)))
        tab.on("console", lambda message: message.type == "error" and tab.errors.append(message.text))
        tab.goto(folder.joinpath("index.html").as_uri())
        yield tab
        browser.close()


@pytest.fixture(scope="module")
def model(run_dir: Path) -> torch.nn.Module:
    return load_model(run_dir / "model.pt")


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


def test_the_pages_network_matches_torch_on_real_digits(page, model) -> None:
    inputs = normalize(load_data(source="sample").test.images[:300])
    script = "rows => { const layers = Network.load(MNIST_MODEL); return rows.map(x => Network.predict(layers, x)); }"
    got = np.array(page.evaluate(script, inputs.view(-1, 784).tolist()))
    with torch.no_grad():
        expected = model(inputs).softmax(dim=1).double().numpy()
    assert np.abs(got - expected).max() < TOLERANCE
    assert (got.argmax(axis=1) == expected.argmax(axis=1)).all()


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


def test_clear_empties_the_pad_and_the_bars(page) -> None:
    draw(page, ONE)
    page.click("#clear")
    assert page.evaluate("mnistState.strokes.length") == 0 and page.evaluate("mnistState.probabilities") is None
    assert page.locator("#bars li").count() == 10
    assert all(text == "" for text in page.locator("#bars .value").all_inner_texts())


def test_the_page_loads_only_its_own_files_and_shows_no_error(page) -> None:
    draw(page, SEVEN)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "draw_page.png"), full_page=True)
    folder = page.folder.as_uri() + "/"
    assert page.requests and all(url.startswith(folder) for url in page.requests), page.requests
    assert page.errors == []
    accuracy = json.loads((page.folder / "metadata.json").read_text())["test_accuracy"]
    assert f"{100 * accuracy:.2f}% test accuracy" in page.locator("#about").inner_text()
