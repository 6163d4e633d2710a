"""The playground's run in a thread of its own: its bars in the form, and Stop and ■ ending it cleanly.

fit() takes KeyboardInterrupt as "stop here, keep the finished epochs"; both ways of stopping raise it.
"""

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from typing import Any

from ..history import History


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
