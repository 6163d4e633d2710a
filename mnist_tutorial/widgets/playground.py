"""The playground: a form that trains the lesson's network with other settings and reports the accuracy (05)."""

import contextlib
import html
import math
import signal
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import ipywidgets as widgets

from .. import defaults
from ..data import Data, load_data, make_loaders
from ..errors import ConfigError, TrainingDivergedError, in_words
from ..history import History
from ..model import NeuralNetwork
from ..plots import plot_loss
from ..settings import SETTINGS, Setting, check_settings
from ..train import fit, make_optimizer, pick_device, seed_everything
from .display import Picture, ShownAsText
from .live_plot import LivePlot

FORM = tuple(setting for setting in SETTINGS if setting.label)  # the settings the form offers, in its order
# Library argument -> the form's field: how the library's messages read in this form (`device` is the form's own).
FIELDS = {**{setting.name: setting.label for setting in FORM}, "device": "device"}


def in_form_words(message: str) -> str:
    """A library message with argument names replaced by the form's field names (`lr=10` -> learning rate 10)."""
    return in_words(message, FIELDS)


class Playground(ShownAsText, widgets.VBox):
    """A form (learning rate, momentum, epochs, hidden sizes) that trains a fresh network with Train, ends it with Stop.

    Trains on `data` (default: the embedded sample, so a run takes seconds) with progress bars and a live loss plot,
    then reports the test accuracy; values out of range are refused with a message. The button trains in a thread
    of its own, so the page stays responsive and Stop can end the run (JupyterLab 4.6 runs widget callbacks in a
    kernel subshell, where the interrupt button cannot reach). `form.train()` does the same from code.
    """

    SUMMARY = "Training playground"
    SHOWN_LINES = 12

    def __init__(self, data: Data | None = None, *, device: str | None = None, seed: int = defaults.SEED) -> None:
        self.data = data if data is not None else load_data(source="sample")
        self.device, self.seed = device, seed
        self.model: NeuralNetwork | None = None
        self.history: History | None = None
        self.thread: threading.Thread | None = None
        self.lines: list[str] = []  # what the last run printed
        self.stop_requested = threading.Event()
        fields = [field(setting) for setting in FORM]
        for setting, box in zip(FORM, fields, strict=True):
            setattr(self, setting.name, box)  # form.lr, form.num_epochs, ...
        self.train_button = widgets.Button(
            description="Train", button_style="primary", icon="play", tooltip="train a fresh network with these values"
        )
        self.stop_button = widgets.Button(
            description="Stop", icon="stop", disabled=True, tooltip="stop after this batch"
        )
        self.train_button.add_class("mnist-train")
        self.stop_button.add_class("mnist-stop")
        self.train_button.on_click(lambda _button: self.train(wait=False))
        self.stop_button.on_click(self.stop)
        self.plot = Picture()
        self.plot.show(plot_loss(History()))  # empty until trained
        data_size = f"{len(self.data.train):,} training and {len(self.data.test):,} test images"
        self.status = widgets.HTML(f"Set the values, then press Train: {data_size}.")
        self.status.add_class("mnist-playground-status")
        self.bars = widgets.VBox()  # an epoch bar and a batch bar while training
        self.printed = widgets.HTML()  # the last lines fit() printed
        form = widgets.VBox([*fields, widgets.HBox([self.train_button, self.stop_button])])
        super().__init__([widgets.HBox([form, self.plot]), self.status, self.bars, self.printed])
        self.add_class("mnist-playground")

    def settings(self) -> dict[str, Any]:
        """The form's values, checked: raises ConfigError naming the first bad one."""
        values = {setting.name: setting.type(getattr(self, setting.name).value) for setting in FORM}
        check_settings(values)
        return {**values, "device": pick_device(self.device)}

    def train(self, *, wait: bool = True) -> History | None:
        """Train a fresh network with the form's settings into .model and .history; returns the history.

        wait=False (the button) trains in a new thread, .thread, and returns None at once; so do refused settings.
        """
        if self.thread is not None and self.thread.is_alive():
            return None
        try:
            settings = self.settings()
        except ConfigError as error:
            self._say(f"Refused: {in_form_words(str(error))}", error=True)
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
        self.lines, self.printed.value = [], ""
        # Bars shown in the form, not in whichever cell output is current.
        epoch_bar = tqdm(total=settings["num_epochs"], desc="epochs", unit="epoch", display=False)
        batch_bar = tqdm(total=1, desc="epoch 1", unit="batch", display=False)
        self.bars.children = (epoch_bar.container, batch_bar.container)
        try:
            with interruptible():
                history = self._fit(settings, batch_bar, callbacks=[LivePlot(self.plot), counting_epochs(epoch_bar)])
        except TrainingDivergedError as error:
            self._say(f"Training diverged: {in_form_words(str(error))}", error=True)
            return None
        except Exception as error:  # in a thread nobody would see it: say it in the form
            self._say(f"Training failed: {type(error).__name__}: {html.escape(str(error))}", error=True)
            raise
        finally:
            batch_bar.close()  # short of its total (stopped, failed): stays, in red
            epoch_bar.close()
            self.train_button.disabled, self.stop_button.disabled = False, True
        if history.epochs == 0:
            self._say("Stopped before the first epoch ended: nothing learned yet.", error=True)
            return history
        stopped = " (stopped early)" if history.interrupted else ""
        self._say(
            f"Finished. Test accuracy: <b>{100 * history.test_accuracy[-1]:.2f}%</b> after {history.epochs} "
            f"epoch(s){stopped}, {time.perf_counter() - started:.1f} s. The model is in <code>.model</code>."
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
            log=self._print,  # fit's lines land in the form, not in whichever cell output is current
        )

    def _print(self, line: str) -> None:
        self.lines.append(line)
        shown = "\n".join(self.lines[-self.SHOWN_LINES :])
        self.printed.value = f'<pre style="margin:0; font-size:12px">{html.escape(shown)}</pre>'

    def _say(self, message: str, *, error: bool = False) -> None:
        # Every message names the state in words (Training, Stopping, Finished, Refused, diverged, failed,
        # Stopped): the red of an error is never the only sign of it.
        self.status.value = f'<span style="color:#c00">{message}</span>' if error else message


def field(setting: Setting) -> widgets.ValueWidget:
    """The form's box for one setting, at the lesson's value."""
    style = {"description_width": "130px"}
    if setting.type is int:
        return widgets.IntText(value=setting.default, description=setting.label, style=style)
    step = 10 ** math.floor(math.log10(setting.default))  # a nudge of the value's own size: 0.001 for lr, 0.1 momentum
    return widgets.FloatText(value=setting.default, description=setting.label, step=step, style=style)


# The run in a thread of its own: its bars in the form, and Stop and ■ ending it cleanly. fit() takes
# KeyboardInterrupt as "stop here, keep the finished epochs"; both ways of stopping raise it.


@contextlib.contextmanager
def interruptible() -> Iterator[None]:
    """Let the kernel's interrupt button raise KeyboardInterrupt here, in the main thread (ipykernel ignores
    SIGINT outside the handling of a message); in another thread the form's Stop button does that job."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


class StoppableBatches:
    """The training batches, counted on `bar`; once `stop` is set, the next batch raises KeyboardInterrupt."""

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


def counting_epochs(bar: Any) -> Callable[[History], None]:
    """A fit() callback that moves the epoch bar on and shows the epoch's loss beside it."""

    def epoch_done(history: History) -> None:
        bar.update(1)
        bar.set_postfix(loss=f"{history.train_loss[-1]:.3f}")

    return epoch_done


playground = Playground  # the name notebook 05 calls
