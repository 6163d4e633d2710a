"""widgets: the explorer, the playground and the drawing pad, driven through what their buttons and mouse call.

Widgets work without a front end (their messages go nowhere); tests/test_browser.py checks them in JupyterLab.
"""

import math
import time
from pathlib import Path

import pytest
import torch

from mnist_tutorial import NeuralNetwork, load_data
from mnist_tutorial.deploy.drawing import preprocess, rasterize
from mnist_tutorial.widgets import DigitPad, Playground, draw_digit, playground, prediction_explorer

PNG = b"\x89PNG"


@pytest.fixture
def verdicts() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Six images with labels 0,1,2,0,1,2 and probabilities that get images 1 and 4 wrong."""
    images = torch.arange(6, dtype=torch.uint8).view(6, 1, 1).expand(6, 28, 28).clone()
    labels = torch.tensor([0, 1, 2, 0, 1, 2])
    probabilities = torch.full((6, 3), 0.1)
    probabilities[torch.arange(6), torch.tensor([0, 2, 2, 0, 0, 2])] = 0.8
    return images, labels, probabilities


def test_the_explorer_captions_each_image_and_steps_through_the_mistakes(verdicts) -> None:
    explorer = prediction_explorer(*verdicts, class_names=("zero", "one", "two"))
    assert explorer.index == 0 and explorer.picture.png.startswith(PNG) and "2 of them" in explorer.note.value
    assert "true: <b>zero</b> · predicted: <b>zero</b> (80.0%): right" in explorer.caption.value
    assert "#c00" not in explorer.caption.value  # right: not in red
    assert explorer.show_next_mistake() == 1
    assert "true: <b>one</b> · predicted: <b>two</b>" in explorer.caption.value and "#c00" in explorer.caption.value
    explorer.next_button.click()
    assert explorer.index == 4
    assert explorer.show_next_mistake() == 1  # round again
    bundle = explorer._repr_mimebundle_()  # where it cannot be drawn, it names itself
    assert bundle["text/plain"] == "[Prediction explorer: run this cell in JupyterLab to use it]"
    assert "model_id" in bundle["application/vnd.jupyter.widget-view+json"]


def test_the_explorer_filters_by_true_class_takes_normalised_images_and_refuses_mismatched_inputs(verdicts) -> None:
    images, labels, probabilities = verdicts
    with pytest.raises(ValueError, match="as many"):
        prediction_explorer(images[:5], labels, probabilities)
    normalised = images.float().unsqueeze(1) / 127.5 - 1
    explorer = prediction_explorer(normalised, labels, torch.cat([probabilities, torch.zeros(6, 1)], dim=1))
    assert explorer.picture.png.startswith(PNG)
    explorer.filter.value = 2
    assert explorer.shown.tolist() == [2, 5] and explorer.slider.max == 1 and explorer.index == 2
    assert explorer.show_next_mistake() is None and "no mistakes" in explorer.note.value
    explorer.filter.value = 1
    explorer.slider.value = 1
    assert explorer.index == 4
    explorer.filter.value = 3  # a class without images
    assert explorer.index is None and explorer.slider.disabled and "no images" in explorer.caption.value
    assert explorer.show_next_mistake() is None
    explorer.filter.value = -1
    assert explorer.slider.max == 5 and explorer.index == 0


# ---------------------------------------------------------------------------------------------- playground


@pytest.fixture
def tiny_data(tiny_data_dir: Path):
    return load_data(source="full", data_dir=tiny_data_dir)


@pytest.mark.parametrize(
    ("field", "value", "label"),
    [
        ("lr", -1.0, "learning rate -1"),
        ("lr", 0.0, "learning rate 0"),
        ("momentum", 1.0, "momentum 1"),
        ("num_epochs", 0, "epochs 0"),
        ("hidden1", 0, "hidden layer 1 size 0"),
        ("hidden2", 100_000, "hidden layer 2 size 100000"),
    ],
)
def test_the_playground_refuses_bad_values_in_the_forms_words(tiny_data, field: str, value, label: str) -> None:
    form = playground(tiny_data, device="cpu")
    getattr(form, field).value = value
    form.train_button.click()
    assert form.model is None and not form.train_button.disabled  # nothing was trained
    assert "Refused: " + label in form.status.value and "--" not in form.status.value  # not the flags' names


def test_the_playground_starts_with_the_lesson_settings_trains_and_reports_the_test_accuracy(tiny_data, capsys) -> None:
    form = playground(tiny_data, device="cpu")
    assert isinstance(form, Playground)
    assert (form.lr.value, form.momentum.value, form.num_epochs.value) == (0.001, 0.9, 10)
    assert (form.hidden1.value, form.hidden2.value) == (128, 64)
    empty_plot = form.plot.png
    assert empty_plot.startswith(PNG)  # an empty plot until something is trained
    form.lr.value, form.num_epochs.value, form.hidden1.value, form.hidden2.value = 0.05, 2, 16, 8
    history = form.train()
    assert history is not None and history.epochs == 2 and not history.interrupted
    assert f"Test accuracy: <b>{100 * history.test_accuracy[-1]:.2f}%</b> after 2 epoch(s)" in form.status.value
    assert form.model.sizes == {"hidden1": 16, "hidden2": 8, "num_classes": 10}
    assert form.plot.png.startswith(PNG) and form.plot.png != empty_plot
    assert not form.train_button.disabled and form.stop_button.disabled
    # fit's lines land in the form, not in the cell: the run may be in a thread of its own
    assert [line.split(":")[0] for line in form.lines] == ["Epoch 1/2", "Epoch 2/2"]
    assert "Epoch 2/2" in form.printed.value and "Epoch" not in capsys.readouterr().out
    epoch_bar, batch_bar = (container.pbar for container in form.bars.children)
    assert (epoch_bar.n, epoch_bar.total) == (2, 2)
    assert batch_bar.n == batch_bar.total == math.ceil(len(tiny_data.train) / 64)
    assert batch_bar.desc.startswith("epoch 2")


def test_the_train_button_trains_in_a_thread_and_stop_ends_the_run(tiny_data) -> None:
    form = playground(tiny_data, device="cpu")
    form.num_epochs.value = 10_000
    form.train_button.click()
    assert form.thread is not None and form.train_button.disabled and not form.stop_button.disabled
    deadline = time.monotonic() + 60  # only catches a hang
    while (form.history is None or form.history.epochs < 2) and time.monotonic() < deadline:
        time.sleep(0.01)
    form.stop_button.click()
    form.thread.join(timeout=60)
    assert not form.thread.is_alive()
    assert form.history.interrupted and 2 <= form.history.epochs < 10_000 and "stopped early" in form.status.value
    assert form.lines[-1].startswith("Interrupted: keeping the model")  # fit's lines, from its thread, in the form
    assert not form.train_button.disabled and form.stop_button.disabled
    epoch_bar = form.bars.children[0].pbar
    assert epoch_bar.n == form.history.epochs and form.bars.children[0].children[1].bar_style == "danger"


def test_the_playground_reports_a_diverging_run(tiny_data) -> None:
    form = playground(tiny_data, device="cpu")
    form.lr.value, form.num_epochs.value = 1e9, 1
    assert form.train() is None
    assert "diverged" in form.status.value and "learning rate" in form.status.value
    assert not form.train_button.disabled


# ----------------------------------------------------------------------------------------------- drawing


@pytest.fixture
def model() -> NeuralNetwork:
    torch.manual_seed(0)
    return NeuralNetwork()


def test_a_stroke_gets_the_models_prediction_on_the_prepared_drawing(model) -> None:
    pad = draw_digit(model)
    assert isinstance(pad, DigitPad) and pad.probabilities is None and "Draw a digit" in pad.prediction.value
    pad.pen_down(140, 40)
    for y in range(40, 250, 15):
        pad.pen_move(140, y)
    pad.pen_up(140, 250)
    expected = model(preprocess(rasterize(pad.strokes, size=pad.size, width=pad.pen))).softmax(dim=1)[0]
    torch.testing.assert_close(pad.probabilities, expected, atol=1e-6, rtol=0)  # the same ops, another batch shape
    assert f"predicted: <b>{int(expected.argmax())}</b>" in pad.prediction.value
    assert pad.verdict.png.startswith(PNG) and "probability for each class" in pad.verdict.alt


def test_the_pen_draws_only_while_down_a_click_is_a_dot_and_clear_starts_again(model) -> None:
    pad = draw_digit(model, class_names=tuple("abcdefghij"))
    pad.pen_move(10, 10)
    pad.pen_up(10, 10)
    assert pad.strokes == [] and pad.probabilities is None
    assert pad.update() is None  # an empty canvas is not a digit
    pad.pen_down(30, 30)
    pad.pen_up(30, 30)
    assert pad.strokes == [[(30, 30)]] and pad.probabilities is not None
    pad.clear_button.click()
    assert pad.strokes == [] and pad.probabilities is None and "Draw a digit" in pad.prediction.value
