"""Accessibility: every figure described, every page clean under axe-core, the draw page usable by keyboard and touch.

- Every image output of every committed notebook (solutions included) carries alt text computed from its data,
  and the site's <img> elements carry the same sentence.
- axe-core (bundled by axe-playwright-python) finds no violation of WCAG 2.1 A and AA, nor of the landmark and
  heading rules, on any page of the site (the draw page before and after a prediction), in Chromium, offline.
- On the draw page the keyboard alone reaches a prediction, said in an aria-live region; a finger draws on a phone.
- The widgets: every control described, pictures with their sentence.
A teacher runs these with `pytest tests/test_accessibility.py` (docs/teaching.md).
"""

import base64
import html
import json
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import axe_violations, chromium
from PIL import Image

from mnist_tutorial import History, NeuralNetwork, load_data, plots
from mnist_tutorial.deploy.drawing import digit_strokes
from mnist_tutorial.widgets import draw_digit, playground, prediction_explorer
from mnist_tutorial.widgets.display import Picture
from tools import build_site

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
PAGES = [page for pages in build_site.plan(NOTEBOOKS, ROOT / "README.md") for page in pages]
COMMITTED = sorted(NOTEBOOKS.glob("*.ipynb")) + sorted(NOTEBOOKS.glob("solutions/*.ipynb"))


def alts(notebook: Path) -> list[str]:
    """The alt text of each image output, "" where it has none."""
    outputs = [o for cell in json.loads(notebook.read_text())["cells"] for o in cell.get("outputs", [])]
    return [
        (o.get("metadata", {}).get("image/png") or {}).get("alt", "")
        for o in outputs
        if "image/png" in o.get("data", {})
    ]


@pytest.mark.parametrize("notebook", COMMITTED, ids=lambda path: str(path.relative_to(NOTEBOOKS)))
def test_every_figure_carries_its_sentence_in_the_notebook_and_on_its_page(site: Path, notebook: Path) -> None:
    missing = [i for i, alt in enumerate(alts(notebook)) if not alt.strip()]
    assert not missing, f"{notebook.name}: image outputs {missing} have no alt text: display them with plots.show()"
    page = (site / notebook.relative_to(NOTEBOOKS).with_suffix(".html")).read_text()
    figures = [tag for tag in re.findall(r"<img\b[^>]*>", page) if 'src="data:image/png;base64,' in tag]
    shown = [html.unescape(next(iter(re.findall(r'\balt="([^"]*)"', tag)), "")) for tag in figures]
    assert shown == alts(notebook)  # every figure on the page, in order, with its sentence


# --- each figure's sentence, from its data ----------------------------------------------------------------------


def test_the_loss_plot_is_described_from_its_numbers() -> None:
    history = History()
    for train, test, accuracy in [(2.234, 1.1, 0.6), (0.9, 0.8, 0.8), (0.351, 0.37, 0.8925)]:
        history.add_epoch(train, test, accuracy, 1.0)
    assert plots.alt_text(plots.plot_loss(history)) == (
        "Training loss falls from 2.23 to 0.35 over 3 epochs while test accuracy rises from 60.00% to 89.25% "
        "(test loss ends at 0.37)."
    )


def test_the_confusion_matrix_is_described_by_its_commonest_mistakes() -> None:
    confusion = torch.diag(torch.tensor([90, 95, 80]))
    confusion[2, 1], confusion[0, 2] = 7, 1
    text = plots.alt_text(plots.plot_confusion(confusion, ("a", "b", "c")))
    assert "273 test images" in text and "265 (97.07%) on the diagonal" in text
    assert text.endswith("the commonest mistakes: c read as b (7 times), a read as c (1 time).")


def test_predictions_name_each_mistake() -> None:
    labels, predictions = torch.tensor([1, 2, 3, 4]), torch.tensor([1, 2, 5, 4])
    figure = plots.plot_predictions(torch.zeros(4, 28, 28), labels, predictions, tuple("0123456789"))
    assert "3 right, 1 wrong (a 3 read as 5" in plots.alt_text(figure)


def test_show_displays_the_figure_with_its_sentence(monkeypatch) -> None:
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda obj, **kwargs: shown.append((obj, kwargs)))
    figure = plots.plot_bars([3, 1], ("x", "y"), ylabel="images", title="Per class")
    plots.show(figure)
    assert shown == [(figure, {"metadata": {"image/png": {"alt": plots.alt_text(figure)}}})]
    assert plots.alt_text(figure).startswith("Per class: a bar chart of images for each class, x: 3, y: 1")


def test_the_clis_figures_carry_their_sentence(run_dir: Path) -> None:
    figures = json.loads((run_dir / "metrics.json").read_text())["figures"]
    assert set(figures) == {"loss.png", "predictions.png"}
    for name, text in figures.items():
        assert Image.open(run_dir / name).text["Description"] == text
    assert figures["loss.png"].startswith("Training loss falls from ")


def test_every_widget_control_is_described_and_the_pads_test_digit_needs_no_mouse() -> None:
    import ipywidgets as widgets

    sample = load_data(source="sample")
    images, labels = sample.test.images[:3], sample.test.labels[:3]
    probabilities = torch.full((3, 10), 0.05)
    probabilities[:, 7] = 0.55
    views = [prediction_explorer(images, labels, probabilities), draw_digit(NeuralNetwork(), examples=images)]
    shows_text = (widgets.HTML, widgets.Label, widgets.FloatProgress)  # not controls
    for view in [*views, playground(sample)]:
        for control in walk(view):
            # JupyterLab draws no view for a widget with a tooltip but no description (updateTooltip reads it).
            assert not control.tooltip or control.has_trait("description"), f"{control!r}: a tooltip it cannot show"
            assert not isinstance(control, widgets.Image), "an ipywidgets.Image has no alt text: use display.Picture"
            if isinstance(control, Picture):
                assert control.alt and 'alt="' in control.value, f"{type(view).__name__}: a picture, no sentence"
            elif isinstance(control, (widgets.Button, widgets.ValueWidget)) and not isinstance(control, shows_text):
                assert control.description, f"{type(view).__name__}: {control!r} has no label"
    explorer, pad = views
    explorer.show_next_mistake()
    assert ": wrong" in explorer.caption.value  # in words, not only in red
    assert pad.example_button.layout.display != "none" and "Show me a test digit" in pad.prediction.value
    pad.example_button.click()  # what Enter or Space on the focused button does (test_widgets: the same numbers)
    assert pad.strokes == digit_strokes(images[0]) and "predicted: <b>" in pad.prediction.value
    assert draw_digit(NeuralNetwork()).example_button.layout.display == "none"  # nothing to show: no button


def walk(widget) -> Iterator:
    yield widget
    for child in getattr(widget, "children", ()):
        yield from walk(child)


# --- pages in Chromium ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with chromium() as browser:
        yield browser


@pytest.fixture
def tab(browser) -> Iterator[object]:
    """A fresh page; its JavaScript errors, a request beyond file:// or a blocked resource fail the test."""
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    page.on("request", lambda request: request.url.startswith("file://") or page.errors.append(request.url))
    page.on("console", lambda message: "Content Security" not in message.text or page.errors.append(message.text))
    yield page
    assert page.errors == []
    page.close()


@pytest.mark.browser
@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.target)
def test_axe_finds_no_violation_on_any_page_offline(site: Path, tab, page) -> None:
    tab.goto((site / page.target).as_uri())
    assert axe_violations(tab) == []
    if page.source.suffix == ".ipynb":  # the shared stylesheet loaded: JupyterLab's look, cells shown
        assert tab.evaluate("getComputedStyle(document.querySelector('.jp-Cell')).display") != "none"


@pytest.mark.browser
def test_the_draw_page_passes_axe_and_the_keyboard_alone_reaches_a_prediction(site: Path, tab) -> None:
    tab.goto((site / "draw" / "index.html").as_uri())
    assert axe_violations(tab) == []
    for _ in range(10):  # Tab through the page until the button has the focus
        tab.keyboard.press("Tab")
        if tab.evaluate("document.activeElement.id") == "example":
            break
    else:
        pytest.fail("Tab never reached the 'Show me a test digit' button")
    tab.keyboard.press("Enter")
    assert axe_violations(tab) == []
    probabilities = tab.evaluate("mnistState.probabilities")
    assert tab.locator("#verdict").inner_text() == f"The network reads: {int(np.argmax(probabilities))}"
    spoken = tab.locator("#spoken")
    assert spoken.get_attribute("aria-live") == "polite" and "Most likely: " in spoken.inner_text()
    # the page drew the test digit as Python's digit_strokes does (test_export: and reads it as torch does)
    pixels = np.frombuffer(base64.b64decode(tab.evaluate("MNIST_MODEL.examples[0].pixels")), dtype=np.uint8)
    strokes = tab.evaluate("mnistState.strokes")
    assert strokes == [[list(point) for point in stroke] for stroke in digit_strokes(pixels)]
    tab.keyboard.press("Shift+Tab")  # back to Clear, and Space presses it
    assert tab.evaluate("document.activeElement.id") == "clear"
    tab.keyboard.press(" ")
    assert tab.evaluate("mnistState.strokes.length") == 0


@pytest.mark.browser
def test_a_finger_draws_on_a_phone(browser, site: Path) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True)
    tab = context.new_page()
    try:
        tab.goto((site / "draw" / "index.html").as_uri())
        box = tab.locator("#pad").bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390, f"the pad does not fit the phone: {box}"
        scroll = tab.evaluate("window.scrollY")
        cdp = context.new_cdp_session(tab)
        x = box["x"] + box["width"] / 2
        points = [{"x": x, "y": box["y"] + box["height"] * f, "id": 0} for f in (0.15, 0.3, 0.45, 0.6, 0.75, 0.85)]
        cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": points[:1]})
        for point in points[1:]:
            cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [point]})
        cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
        tab.wait_for_function("mnistState.probabilities !== null")
        strokes = tab.evaluate("mnistState.strokes")
        assert len(strokes) == 1 and len(strokes[0]) >= len(points) - 1, strokes
        assert tab.locator("#verdict").inner_text().startswith("The network reads: ")
        assert tab.evaluate("window.scrollY") == scroll  # the finger drew; it did not scroll the page
    finally:
        context.close()
