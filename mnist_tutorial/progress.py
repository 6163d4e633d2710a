"""Showing training as it happens: progress bars in a notebook, plain lines elsewhere.

In JupyterLab the bars are tqdm's widgets (tqdm.auto picks them inside a kernel); in a terminal, under
nbconvert/nbval with MNIST_TUTORIAL_PROGRESS=text, or in CI, training prints one plain line per epoch.
"""

import os
import sys
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from .defaults import PROGRESS_ENV

if TYPE_CHECKING:
    from .history import History

PROGRESS_SETTINGS = ("auto", "bar", "text", "none")


def in_notebook() -> bool:
    """True inside a Jupyter kernel (JupyterLab, nbclient), False in a terminal or script."""
    shell = getattr(sys.modules.get("IPython"), "get_ipython", lambda: None)()
    return type(shell).__name__ == "ZMQInteractiveShell"


def progress_setting() -> str:
    """$MNIST_TUTORIAL_PROGRESS: auto (bars in a notebook, lines elsewhere), bar, text, or none (quiet)."""
    setting = os.environ.get(PROGRESS_ENV, "auto").strip().lower() or "auto"
    return setting if setting in PROGRESS_SETTINGS else "auto"


def bars_wanted(enabled: bool | None) -> bool:
    """Explicit choice first, then $MNIST_TUTORIAL_PROGRESS (bar, or text/none), then: bars in a notebook."""
    if enabled is not None:
        return enabled
    setting = progress_setting()
    if setting != "auto":
        return setting == "bar"
    return in_notebook()


class Progress:
    """An epoch bar and a batch bar (tqdm.auto: widgets in a notebook), plus a summary line per epoch.

    Use it as a context manager: leaving the block closes both bars, whether training finished, was
    interrupted (the bars stay visible, in red, where they stopped) or failed.
    """

    def __init__(self, *, enabled: bool | None, num_epochs: int, start: int = 0) -> None:
        self.enabled = bars_wanted(enabled)
        self.quiet = enabled is None and progress_setting() == "none"
        self.num_epochs = num_epochs
        self.epoch_bar: Any = None
        self.batch_bar: Any = None
        if self.enabled:
            from tqdm.auto import tqdm

            self.tqdm = tqdm
            self.epoch_bar = tqdm(total=num_epochs, initial=start, desc="epochs", unit="epoch")

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close both bars (idempotent). A bar short of its total is left showing, marked as stopped."""
        for bar in (self.batch_bar, self.epoch_bar):
            if bar is not None:
                bar.close()
        self.batch_bar = self.epoch_bar = None

    def batches(self, loader: Iterable, epoch: int) -> Iterable:
        """`loader`, counted on the batch bar when bars are on."""
        if not self.enabled:
            return loader
        return self._counted(loader, epoch)

    def _counted(self, loader: Iterable, epoch: int) -> Iterator:
        # One batch bar for the whole run, reset each epoch: a notebook shows two bars, not one per epoch.
        total = len(loader) if hasattr(loader, "__len__") else None
        if self.batch_bar is None:
            self.batch_bar = self.tqdm(total=total, desc=f"epoch {epoch}", unit="batch", leave=False)
        else:
            self.batch_bar.reset(total=total)
            self.batch_bar.set_description(f"epoch {epoch}")
        for batch in loader:
            yield batch
            self.batch_bar.update(1)

    def epoch_done(self, history: "History") -> None:
        line = (
            f"Epoch {history.epochs}/{self.num_epochs}: train loss {history.train_loss[-1]:.3f}, "
            f"test loss {history.test_loss[-1]:.3f}, test accuracy {history.test_accuracy[-1]:.2%} "
            f"({history.seconds[-1]:.1f} s)"
        )
        if self.epoch_bar is not None:
            self.epoch_bar.update(1)
            self.epoch_bar.set_postfix(loss=f"{history.train_loss[-1]:.3f}")
        self.write(line)

    def write(self, line: str) -> None:
        """Print a line of the run's log: above the bars when they are on, rather than through them."""
        if self.epoch_bar is not None:
            self.tqdm.write(line)
        elif not self.quiet:
            print(line)
