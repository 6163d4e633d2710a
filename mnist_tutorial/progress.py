"""Training as it happens: tqdm's bars in a notebook, one plain line per epoch elsewhere (or as $MNIST_TUTORIAL_PROGRESS
says: nbval runs set text)."""

import os
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from .defaults import PROGRESS_ENV

if TYPE_CHECKING:
    from .history import History


def in_notebook() -> bool:
    """True inside a Jupyter kernel (JupyterLab, nbclient), False in a terminal or script."""
    shell = getattr(sys.modules.get("IPython"), "get_ipython", lambda: None)()
    return type(shell).__name__ == "ZMQInteractiveShell"


def progress_setting() -> str:
    """$MNIST_TUTORIAL_PROGRESS: auto (bars in a notebook, lines elsewhere), bar, text, or none (quiet)."""
    setting = os.environ.get(PROGRESS_ENV, "").strip().lower()
    return setting if setting in ("bar", "text", "none") else "auto"


def bars_wanted(enabled: bool | None) -> bool:
    """Explicit choice first, then $MNIST_TUTORIAL_PROGRESS, then: bars in a notebook."""
    if enabled is not None:
        return enabled
    setting = progress_setting()
    return in_notebook() if setting == "auto" else setting == "bar"


class Progress:
    """An epoch bar and a batch bar (tqdm.auto: widgets in a notebook), and a summary line per epoch.

    Leaving its `with` block closes both bars, however training ended (an interrupted one stays showing, in red).
    """

    def __init__(
        self, *, enabled: bool | None, num_epochs: int, start: int = 0, log: Callable[[str], None] = print
    ) -> None:
        self.enabled, self.log = bars_wanted(enabled), log
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
        for bar in (self.batch_bar, self.epoch_bar):
            if bar is not None:
                bar.close()
        self.batch_bar = self.epoch_bar = None

    def batches(self, loader: Iterable, epoch: int) -> Iterable:
        """`loader` itself, or with bars on, its batches counted on the batch bar."""
        return self._counted(loader, epoch) if self.enabled else loader

    def _counted(self, loader: Iterable, epoch: int) -> Iterator:
        # One batch bar for the whole run, reset each epoch: a notebook shows two bars, not one per epoch.
        total = len(loader) if hasattr(loader, "__len__") else None
        if self.batch_bar is None:
            self.batch_bar = self.tqdm(total=total, unit="batch", leave=False)
        self.batch_bar.reset(total=total)
        self.batch_bar.set_description(f"epoch {epoch}")
        for batch in loader:
            yield batch
            self.batch_bar.update(1)

    def epoch_done(self, history: "History") -> None:
        """Print the epoch's line; step the epoch bar."""
        if self.epoch_bar is not None:
            self.epoch_bar.update(1)
            self.epoch_bar.set_postfix(loss=f"{history.train_loss[-1]:.3f}")
        self.write(
            f"Epoch {history.epochs}/{self.num_epochs}: train loss {history.train_loss[-1]:.3f}, "
            f"test loss {history.test_loss[-1]:.3f}, test accuracy {history.test_accuracy[-1]:.2%} "
            f"({history.seconds[-1]:.1f} s)"
        )

    def write(self, line: str) -> None:
        """Print a line of the run's log: above the bars when they are on, rather than through them."""
        if self.epoch_bar is not None:
            self.tqdm.write(line)
        elif not self.quiet:
            self.log(line)
