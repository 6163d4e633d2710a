"""Showing training as it happens: progress bars in a notebook, plain lines elsewhere, a live loss plot."""

import os
import sys
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from .defaults import PROGRESS_ENV

if TYPE_CHECKING:
    from .train import History


def in_notebook() -> bool:
    """True inside a Jupyter kernel (JupyterLab, nbclient), False in a terminal or script."""
    shell = getattr(sys.modules.get("IPython"), "get_ipython", lambda: None)()
    return type(shell).__name__ == "ZMQInteractiveShell"


def bars_wanted(enabled: bool | None) -> bool:
    """Explicit choice first, then $MNIST_TUTORIAL_PROGRESS (bar or text), then: bars in a notebook."""
    if enabled is not None:
        return enabled
    setting = os.environ.get(PROGRESS_ENV, "auto")
    if setting in ("bar", "text"):
        return setting == "bar"
    return in_notebook()


class Progress:
    """Epoch and batch progress bars (tqdm.auto: widgets in a notebook), plus a summary line per epoch."""

    def __init__(self, *, enabled: bool | None, num_epochs: int, start: int = 0) -> None:
        self.enabled = bars_wanted(enabled)
        self.epoch_bar = None
        if self.enabled:
            from tqdm.auto import tqdm

            self.tqdm = tqdm
            self.epoch_bar = tqdm(total=num_epochs, initial=start, desc="epochs", unit="epoch")
        self.num_epochs = num_epochs

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.epoch_bar is not None:
            self.epoch_bar.close()

    def batches(self, loader: Iterable, epoch: int) -> Iterable:
        if not self.enabled:
            return loader
        return self._batch_bar(loader, epoch)

    def _batch_bar(self, loader: Iterable, epoch: int) -> Iterator:
        # A generator so the bar is closed even when the loop stops early (interrupt, divergence).
        bar = self.tqdm(loader, desc=f"epoch {epoch}", unit="batch", leave=False)
        try:
            yield from bar
        finally:
            bar.close()

    def epoch_done(self, history: "History") -> None:
        epoch = history.epochs
        print(
            f"Epoch {epoch}/{self.num_epochs}: train loss {history.train_loss[-1]:.3f}, "
            f"test loss {history.test_loss[-1]:.3f}, test accuracy {history.test_accuracy[-1]:.2%} "
            f"({history.seconds[-1]:.1f} s)"
        )
        if self.epoch_bar is not None:
            self.epoch_bar.update(1)
            self.epoch_bar.set_postfix(loss=f"{history.train_loss[-1]:.3f}")


class LivePlot:
    """A loss plot that redraws in place after every epoch: pass it to fit(callbacks=[...])."""

    def __init__(self) -> None:
        self.handle = None

    def __call__(self, history: "History") -> None:
        from IPython.display import display

        from .plots import plot_loss

        figure = plot_loss(history)
        if self.handle is None:
            self.handle = display(figure, display_id=True)
        else:
            self.handle.update(figure)
