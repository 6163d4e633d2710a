"""Interactive views for JupyterLab: a prediction explorer, a training playground and a drawing pad.

Each is an ipywidgets container: display it by leaving it as the last line of a cell. The logic they
run is the package's own (fit, make_loaders, NeuralNetwork, predict, plots, drawing.preprocess); the
widgets only gather input and show results. Their methods can be called directly too (that is how the
tests drive them), e.g. `explorer.show_next_mistake()`, `form.train()`, `pad.pen_down(x, y)`.
"""

import contextlib
import html
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any

import ipywidgets as widgets
import numpy as np
import torch
from ipycanvas import Canvas, hold_canvas

from . import defaults
from .data import Data, load_data, make_loaders
from .drawing import preprocess, rasterize, to_mnist_bytes
from .errors import ConfigError, TrainingDivergedError
from .evaluate import predict
from .experiment import check_training_args
from .model import NeuralNetwork
from .plots import plot_loss, plot_probabilities
from .progress import LivePlot, figure_png
from .train import History, fit, make_optimizer, seed_everything

# ---------------------------------------------------------------------------------------------- pictures

BLANK = np.zeros((28, 28), dtype=np.uint8)


def verdict_png(
    image: torch.Tensor | np.ndarray,
    probabilities: torch.Tensor,
    class_names: Sequence[str],
    *,
    label: int | None = None,
    title: str = "",
) -> bytes:
    """plots.plot_probabilities (the image beside its class probabilities) as PNG bytes for a widget."""
    figure = plot_probabilities(
        torch.as_tensor(np.asarray(image)), torch.as_tensor(probabilities), tuple(class_names), label=label, title=title
    )
    image_axes = figure.axes[0]
    image_axes.axis("on")  # a frame shows the 28x28 the network gets
    image_axes.set_xticks([])
    image_axes.set_yticks([])
    return figure_png(figure, dpi=80)


def _caption(true_name: str | None, predicted_name: str, confidence: float, prefix: str = "") -> str:
    """'true: 7 · predicted: 7 (98.1%)', in red when the prediction is wrong."""
    predicted = f"predicted: <b>{predicted_name}</b> ({confidence:.1%})"
    if true_name is None:
        return f"{prefix}{predicted}"
    color = "black" if true_name == predicted_name else "#c00"
    return f'<span style="color:{color}">{prefix}true: <b>{true_name}</b> · {predicted}</span>'


def _class_names(names: Sequence[str] | None, count: int) -> tuple[str, ...]:
    return tuple(names) if names is not None else tuple(str(index) for index in range(count))


class ShownAsText:
    """Mixin: the plain-text stand-in a front end shows where it cannot draw the widget.

    That is a static page (GitHub, nbviewer), a notebook not yet run in this session, or a terminal. The
    default would be the widget's repr, a wall of trait values; this names the widget and what to do.
    """

    SUMMARY = "an interactive widget"

    def _repr_mimebundle_(self, **kwargs: Any) -> dict:
        bundle = super()._repr_mimebundle_(**kwargs)
        bundle["text/plain"] = f"[{self.SUMMARY}: run this cell in JupyterLab to use it]"
        return bundle


# ---------------------------------------------------------------------------------- prediction explorer


class PredictionExplorer(ShownAsText, widgets.VBox):
    """Step through test images with the model's verdict on each; see `prediction_explorer`."""

    SUMMARY = "Prediction explorer"

    def __init__(
        self,
        images: torch.Tensor,
        labels: torch.Tensor,
        probabilities: torch.Tensor,
        class_names: Sequence[str] | None = None,
    ) -> None:
        self.images = torch.as_tensor(images)
        self.labels = torch.as_tensor(labels).long().flatten()
        self.probabilities = torch.as_tensor(probabilities).float()
        if not (len(self.images) == len(self.labels) == len(self.probabilities)) or len(self.labels) == 0:
            raise ValueError(
                f"need as many images, labels and probability rows, at least one: got {len(self.images)}, "
                f"{len(self.labels)} and {len(self.probabilities)}"
            )
        self.class_names = _class_names(class_names, self.probabilities.shape[1])
        self.confidence, self.predictions = self.probabilities.max(dim=1)
        self.shown = torch.arange(len(self.labels))  # indices of the images the filter lets through

        self.filter = widgets.Dropdown(
            options=[("all classes", -1)] + [(f"true class {name}", i) for i, name in enumerate(self.class_names)],
            value=-1,
            description="show",
        )
        self.slider = widgets.IntSlider(value=0, min=0, max=len(self.labels) - 1, description="image")
        self.next_button = widgets.Button(description="next mistake", icon="forward", tooltip="next wrong prediction")
        self.next_button.add_class("mnist-next-mistake")
        self.caption = widgets.HTML()
        self.caption.add_class("mnist-explorer-label")
        self.note = widgets.HTML()
        self.picture = widgets.Image(format="png", layout={"align_self": "flex-start"})  # at its own size

        self.filter.observe(self._on_filter, names="value")
        self.slider.observe(self._on_slider, names="value")
        self.next_button.on_click(self.show_next_mistake)
        super().__init__(
            [
                widgets.HBox([self.filter, self.slider, self.next_button]),
                self.caption,
                self.picture,
                self.note,
            ]
        )
        self.add_class("mnist-explorer")
        self.render()

    @property
    def index(self) -> int | None:
        """The dataset index of the image on show (None when the filter lets nothing through)."""
        return int(self.shown[self.slider.value]) if len(self.shown) else None

    def render(self) -> None:
        """Show the selected image. Everything is computed first, so the views change together."""
        index = self.index
        if index is None:
            caption, note = "<i>no images of this class</i>", ""
            picture = verdict_png(BLANK, torch.zeros(len(self.class_names)), self.class_names)
        else:
            label, predicted = int(self.labels[index]), int(self.predictions[index])
            caption = _caption(
                self.class_names[label],
                self.class_names[predicted],
                float(self.confidence[index]),
                prefix=f"test image #{index}: ",
            )
            picture = verdict_png(
                self.images[index], self.probabilities[index], self.class_names, label=label, title=f"#{index}"
            )
            mistakes = int((self.predictions[self.shown] != self.labels[self.shown]).sum())
            note = (
                f"image {self.slider.value + 1} of {len(self.shown)} shown; "
                f"{mistakes} of them ({mistakes / len(self.shown):.1%}) predicted wrongly"
            )
        self.picture.value, self.note.value, self.caption.value = picture, note, caption

    def show_next_mistake(self, _button: Any = None) -> int | None:
        """Move to the next wrongly predicted image of the selection (wrapping round); its dataset index."""
        wrong = (self.predictions[self.shown] != self.labels[self.shown]).nonzero().flatten().tolist()
        if not wrong:
            self.note.value = "no mistakes among these images"
            return None
        position = next((p for p in wrong if p > self.slider.value), wrong[0])
        if position == self.slider.value:
            self.render()  # the only mistake is already on show
        self.slider.value = position
        return self.index

    def _on_filter(self, change: dict) -> None:
        chosen = change["new"]
        self.shown = torch.arange(len(self.labels)) if chosen == -1 else (self.labels == chosen).nonzero().flatten()
        self.slider.unobserve(self._on_slider, names="value")
        try:
            self.slider.value = 0
            self.slider.max = max(len(self.shown) - 1, 0)
            self.slider.disabled = len(self.shown) == 0
        finally:
            self.slider.observe(self._on_slider, names="value")
        self.render()

    def _on_slider(self, _change: dict) -> None:
        self.render()


def prediction_explorer(
    images: torch.Tensor,
    labels: torch.Tensor,
    probabilities: torch.Tensor,
    class_names: Sequence[str] | None = None,
) -> PredictionExplorer:
    """A widget to browse predictions: slider, "next mistake" button, filter by true class.

    images: (N, 28, 28) uint8 or (N, 1, 28, 28) normalised; labels: (N,) true classes; probabilities:
    (N, classes), e.g. from `evaluate.predict`. Shows the image, "true: 7 · predicted: 7 (98.1%)" and
    the probabilities as a bar chart.
    """
    return PredictionExplorer(images, labels, probabilities, class_names)


# -------------------------------------------------------------------------------------------- playground

# The shared check speaks in command-line flags; the form names its own fields.
FIELD_NAMES = {"--epochs": "epochs", "--lr": "learning rate", "--momentum": "momentum"}
MAX_HIDDEN = 4096


def check_hidden_sizes(hidden1: int, hidden2: int) -> None:
    for name, size, lesson in (
        ("hidden layer 1", hidden1, defaults.HIDDEN_SIZES[0]),
        ("hidden layer 2", hidden2, defaults.HIDDEN_SIZES[1]),
    ):
        if not 1 <= size <= MAX_HIDDEN:
            raise ConfigError(
                f"{name} size {size} is outside 1 to {MAX_HIDDEN}: pass one such as the lesson's {lesson}"
            )


@contextlib.contextmanager
def interruptible() -> Iterator[None]:
    """Let the kernel's interrupt button (■) raise KeyboardInterrupt here, which fit() catches.

    ipykernel ignores SIGINT outside the handling of a message, and only the main thread can receive it;
    in any other thread this does nothing (the playground's Stop button covers that case).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


class LinesOfThread:
    """A stand-in for sys.stdout: text printed by one thread goes, line by line, to `sink`; other threads
    print as before. It routes fit()'s lines into the form whichever thread trains."""

    def __init__(self, original: Any, thread: threading.Thread, sink: Any) -> None:
        self.original, self.thread, self.sink = original, thread, sink
        self.partial = ""

    def write(self, text: str) -> int:
        if threading.current_thread() is not self.thread:
            return self.original.write(text)
        *lines, self.partial = (self.partial + text).split("\n")
        for line in lines:
            self.sink(line)
        return len(text)

    def flush(self) -> None:
        if threading.current_thread() is not self.thread:
            self.original.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.original, name)


@contextlib.contextmanager
def lines_to(sink: Any) -> Iterator[None]:
    """Send what the current thread prints to `sink(line)` until the block ends."""
    original = sys.stdout
    routed = LinesOfThread(original, threading.current_thread(), sink)
    sys.stdout = routed
    try:
        yield
    finally:
        if routed.partial:
            sink(routed.partial)
        if sys.stdout is routed:
            sys.stdout = original


class StoppableBatches:
    """The training batches, counted on a progress bar; once `stop` is set, the next batch raises
    KeyboardInterrupt, which fit() takes as the interrupt button: it ends cleanly, keeping finished epochs."""

    def __init__(self, loader: Any, stop: threading.Event, bar: Any) -> None:
        self.loader, self.stop, self.bar = loader, stop, bar
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self) -> Iterator:
        self.epoch += 1
        self.bar.reset(total=len(self.loader))
        self.bar.set_description(f"epoch {self.epoch}")
        for batch in self.loader:
            if self.stop.is_set():
                raise KeyboardInterrupt
            yield batch
            self.bar.update(1)


def _in_form_words(message: str) -> str:
    for flag, field in FIELD_NAMES.items():
        message = message.replace(flag, field)
    return message


class Playground(ShownAsText, widgets.VBox):
    """A form that trains the lesson's network with other settings; see `playground`.

    The Train button trains in a thread of its own, so the page stays responsive and Stop can end the run
    (in JupyterLab 4.6 widget callbacks run in a kernel subshell, where the interrupt button cannot reach).
    """

    SUMMARY = "Training playground"
    SHOWN_LINES = 12

    def __init__(self, data: Data, *, device: str = "auto", seed: int = defaults.SEED) -> None:
        self.data = data
        self.device = device
        self.seed = seed
        self.model: NeuralNetwork | None = None
        self.history: History | None = None
        self.thread: threading.Thread | None = None
        self.lines: list[str] = []  # what the last run printed
        self.stop_requested = threading.Event()
        style = {"description_width": "110px"}
        self.lr = widgets.FloatText(value=defaults.LR, description="learning rate", step=0.001, style=style)
        self.momentum = widgets.FloatText(value=defaults.MOMENTUM, description="momentum", step=0.1, style=style)
        self.epochs = widgets.IntText(value=defaults.NUM_EPOCHS, description="epochs", style=style)
        self.hidden1 = widgets.IntText(value=defaults.HIDDEN_SIZES[0], description="hidden layer 1", style=style)
        self.hidden2 = widgets.IntText(value=defaults.HIDDEN_SIZES[1], description="hidden layer 2", style=style)
        self.train_button = widgets.Button(description="Train", button_style="primary", icon="play")
        self.train_button.add_class("mnist-train")
        self.stop_button = widgets.Button(
            description="Stop", icon="stop", disabled=True, tooltip="stop after this batch"
        )
        self.stop_button.add_class("mnist-stop")
        self.status = widgets.HTML(
            f"Set the values, then press Train: {len(data.train):,} training and {len(data.test):,} test images."
        )
        self.status.add_class("mnist-playground-status")
        self.bars = widgets.VBox()  # an epoch bar and a batch bar while training
        self.printed = widgets.HTML()  # the last lines fit() printed
        self.plot = widgets.Image(format="png", value=figure_png(plot_loss(History())))  # empty until trained
        self.train_button.on_click(lambda _button: self.train(wait=False))
        self.stop_button.on_click(self.stop)
        fields = widgets.VBox(
            [
                self.lr,
                self.momentum,
                self.epochs,
                self.hidden1,
                self.hidden2,
                widgets.HBox([self.train_button, self.stop_button]),
            ]
        )
        super().__init__([widgets.HBox([fields, self.plot]), self.status, self.bars, self.printed])
        self.add_class("mnist-playground")

    def settings(self) -> dict[str, Any]:
        """The form's values, checked: raises ConfigError naming the first bad one."""
        values = {
            "lr": float(self.lr.value),
            "momentum": float(self.momentum.value),
            "num_epochs": int(self.epochs.value),
            "hidden1": int(self.hidden1.value),
            "hidden2": int(self.hidden2.value),
        }
        device = check_training_args(
            num_epochs=values["num_epochs"],
            batch_size=defaults.BATCH_SIZE,
            lr=values["lr"],
            momentum=values["momentum"],
            device=self.device,
            out=tempfile.gettempdir(),  # the form saves nothing; the check only needs a writable folder
        )
        check_hidden_sizes(values["hidden1"], values["hidden2"])
        return {**values, "device": device}

    def train(self, _button: Any = None, *, wait: bool = True) -> History | None:
        """Train a fresh network with the form's settings; the result is in .model and .history.

        wait=True (a call from code) trains here and returns the history; wait=False (the button) trains
        in a new thread, .thread, and returns None at once. Refused settings return None either way.
        """
        if self.thread is not None and self.thread.is_alive():
            return None
        try:
            settings = self.settings()
        except ConfigError as error:
            self._say(f"Refused: {_in_form_words(str(error))}", error=True)
            return None
        self.stop_requested.clear()
        self.train_button.disabled, self.stop_button.disabled = True, False
        self._say("Training …")
        if wait:
            return self._run(settings)
        self.thread = threading.Thread(target=self._run, args=(settings,), name="mnist-playground", daemon=True)
        self.thread.start()
        return None

    def stop(self, _button: Any = None) -> None:
        """Ask the run to end after the current batch (what the Stop button does)."""
        self.stop_requested.set()
        self.stop_button.disabled = True
        self._say("Stopping after this batch …")

    def _run(self, settings: dict[str, Any]) -> History | None:
        from tqdm.notebook import tqdm

        started = time.perf_counter()
        self.lines = []
        self.printed.value = ""
        epoch_bar = tqdm(total=settings["num_epochs"], desc="epochs", unit="epoch", display=False)
        batch_bar = tqdm(total=1, desc="epoch 1", unit="batch", display=False)
        self.bars.children = (epoch_bar.container, batch_bar.container)

        def epoch_done(history: History) -> None:
            epoch_bar.update(1)
            epoch_bar.set_postfix(loss=f"{history.train_loss[-1]:.3f}")

        try:
            with lines_to(self._print), interruptible():
                history = self._fit(settings, batch_bar, callbacks=[LivePlot(self.plot), epoch_done])
        except TrainingDivergedError as error:
            self._say(f"Training diverged: {_in_form_words(str(error))}", error=True)
            return None
        except Exception as error:  # in a thread nobody would see it: say it in the form
            self._say(f"Training failed: {type(error).__name__}: {html.escape(str(error))}", error=True)
            raise
        finally:
            batch_bar.close()  # short of its total (stopped, failed): stays, in red
            epoch_bar.close()
            self.train_button.disabled, self.stop_button.disabled = False, True
        seconds = time.perf_counter() - started
        if history.epochs == 0:
            self._say("Stopped before the first epoch ended: nothing learned yet.", error=True)
        else:
            stopped = " (stopped early)" if history.interrupted else ""
            self._say(
                f"Test accuracy: <b>{100 * history.test_accuracy[-1]:.2f}%</b> after {history.epochs} "
                f"epoch(s){stopped}, {seconds:.1f} s. The model is in <code>.model</code>."
            )
        return history

    def _fit(self, settings: dict[str, Any], batch_bar: Any, callbacks: list) -> History:
        seed_everything(self.seed)
        device = settings["device"]
        model = NeuralNetwork(hidden1=settings["hidden1"], hidden2=settings["hidden2"]).to(device)
        train_loader, test_loader = make_loaders(self.data, device=device, seed=self.seed)
        self.model, self.history = model, History()
        return fit(
            model,
            StoppableBatches(train_loader, self.stop_requested, batch_bar),
            test_loader,
            num_epochs=settings["num_epochs"],
            optimizer=make_optimizer(model, lr=settings["lr"], momentum=settings["momentum"]),
            device=device,
            history=self.history,
            progress=False,  # the form has its own bars
            callbacks=callbacks,
        )

    def _print(self, line: str) -> None:
        self.lines.append(line)
        shown = "\n".join(self.lines[-self.SHOWN_LINES :])
        self.printed.value = f'<pre style="margin:0; font-size:12px">{html.escape(shown)}</pre>'

    def _say(self, message: str, *, error: bool = False) -> None:
        self.status.value = f'<span style="color:#c00">{message}</span>' if error else message


def playground(data: Data | None = None, *, device: str = "auto") -> Playground:
    """A form (learning rate, momentum, epochs, hidden sizes) with Train and Stop buttons.

    Trains a fresh network on `data` (default: the embedded sample, so a run takes seconds) with progress
    bars and a live loss plot, then reports the test accuracy. Values out of range are refused with a
    message. `form.train()` does the same from code and returns the history.
    """
    return Playground(data if data is not None else load_data(source="sample"), device=device)


# -------------------------------------------------------------------------------------------- drawing pad


SEEN = "what the network sees"


class DigitPad(ShownAsText, widgets.VBox):
    """A canvas to draw a digit on with the mouse, and the model's live verdict; see `draw_digit`."""

    SUMMARY = "Drawing pad"

    UPDATE_EVERY_S = 0.4  # while the pen moves, re-predict at most this often (each update takes ~0.1 s)

    def __init__(
        self, model: torch.nn.Module, class_names: Sequence[str] | None = None, *, size: int = 280, pen: int = 18
    ) -> None:
        self.model = model
        self.class_names = _class_names(class_names, 10)
        self.size = size
        self.pen = pen
        self.strokes: list[list[tuple[float, float]]] = []
        self.pen_is_down = False
        self.last_update = 0.0
        self.probabilities: torch.Tensor | None = None

        self.canvas = Canvas(width=size, height=size)
        self.canvas.layout.border = "2px solid #888"
        self.canvas.layout.width = f"{size}px"
        self.canvas.layout.height = f"{size}px"
        self.canvas.add_class("mnist-draw-canvas")
        self.canvas.line_width = pen
        self.canvas.line_cap = "round"
        self.canvas.line_join = "round"
        self.canvas.stroke_style = "black"
        self.canvas.on_mouse_down(self.pen_down)
        self.canvas.on_mouse_move(self.pen_move)
        self.canvas.on_mouse_up(self.pen_up)
        self.canvas.on_mouse_out(self.pen_up)
        self.canvas.on_touch_start(lambda touches: self.pen_down(*touches[0]))
        self.canvas.on_touch_move(lambda touches: self.pen_move(*touches[0]))
        self.canvas.on_touch_end(lambda touches: self.pen_up())
        self.canvas.on_client_ready(self.redraw)  # the canvas keeps no drawing of its own: repaint each new view

        self.clear_button = widgets.Button(description="Clear", icon="eraser")
        self.clear_button.add_class("mnist-draw-clear")
        self.clear_button.on_click(self.clear)
        self.prediction = widgets.HTML()
        self.prediction.add_class("mnist-draw-prediction")
        self.verdict = widgets.Image(format="png")  # what the network is given, and what it makes of it
        super().__init__(
            [
                widgets.HBox([self.canvas, self.verdict], layout={"align_items": "center"}),
                widgets.HBox([self.clear_button, self.prediction]),
            ]
        )
        self.add_class("mnist-draw")
        self.clear()

    def pen_down(self, x: float, y: float) -> None:
        self.pen_is_down = True
        self.strokes.append([(x, y)])
        self.canvas.fill_style = "black"
        self.canvas.fill_circle(x, y, self.pen / 2)

    def redraw(self) -> None:
        """Paint the white page and every stroke so far."""
        with hold_canvas():
            self.canvas.clear()
            self.canvas.fill_style = "white"
            self.canvas.fill_rect(0, 0, self.size, self.size)
            self.canvas.fill_style = "black"
            for stroke in self.strokes:
                self.canvas.fill_circle(stroke[0][0], stroke[0][1], self.pen / 2)
                if len(stroke) > 1:
                    self.canvas.stroke_lines(stroke)

    def pen_move(self, x: float, y: float) -> None:
        if not self.pen_is_down:
            return
        x0, y0 = self.strokes[-1][-1]
        self.strokes[-1].append((x, y))
        self.canvas.stroke_line(x0, y0, x, y)
        if time.perf_counter() - self.last_update > self.UPDATE_EVERY_S:
            self.update()

    def pen_up(self, x: float | None = None, y: float | None = None) -> None:
        if self.pen_is_down:
            self.pen_is_down = False
            self.update()

    def clear(self, _button: Any = None) -> None:
        self.strokes = []
        self.pen_is_down = False
        self.probabilities = None
        self.redraw()
        self.prediction.value = "Draw a digit in the box (hold the mouse button down)."
        self.verdict.value = verdict_png(BLANK, torch.zeros(len(self.class_names)), self.class_names, title=SEEN)

    def update(self) -> torch.Tensor | None:
        """Preprocess the drawing like MNIST, predict, and show the result; returns the probabilities."""
        self.last_update = time.perf_counter()
        ink = rasterize(self.strokes, size=self.size, width=self.pen)
        if not ink.any():
            return None
        inputs = preprocess(ink)
        device = next(self.model.parameters()).device
        probabilities, _ = predict(self.model, [(inputs, torch.zeros(1, dtype=torch.long))], device=device)
        self.probabilities = probabilities[0]
        confidence, predicted = self.probabilities.max(dim=0)
        self.prediction.value = _caption(None, self.class_names[int(predicted)], float(confidence))
        self.verdict.value = verdict_png(to_mnist_bytes(ink), self.probabilities, self.class_names, title=SEEN)
        return self.probabilities


def draw_digit(model: torch.nn.Module, class_names: Sequence[str] | None = None) -> DigitPad:
    """A canvas to draw a digit with the mouse; the prediction updates as you draw. Clear starts over.

    The drawing is prepared like MNIST (drawing.preprocess) before the model sees it; the 28x28 image
    it gets is shown beside the canvas.
    """
    return DigitPad(model, class_names)
