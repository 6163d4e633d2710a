"""The playground's run in a thread of its own: fit()'s lines routed into the form, Stop and ■ ending it cleanly.

fit() takes KeyboardInterrupt as "stop here, keep the finished epochs"; both ways of stopping raise it.
"""

import contextlib
import signal
import sys
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


class LinesOfThread:
    """A stand-in for sys.stdout: what `thread` prints goes, line by line, to `sink`; other threads print as before."""

    def __init__(self, original: Any, thread: threading.Thread, sink: Callable[[str], None]) -> None:
        self.original, self.thread, self.sink = original, thread, sink
        self.partial = ""  # the start of a line not yet ended

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
def lines_to(sink: Callable[[str], None]) -> Iterator[None]:
    """Send what the current thread prints to `sink(line)` until the block ends."""
    original = sys.stdout
    sys.stdout = routed = LinesOfThread(original, threading.current_thread(), sink)
    try:
        yield
    finally:
        if routed.partial:
            sink(routed.partial)
        if sys.stdout is routed:  # leave it alone if someone replaced it in the meantime
            sys.stdout = original


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
