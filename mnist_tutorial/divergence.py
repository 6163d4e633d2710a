"""Stopping a run that cannot recover: a loss that is not finite, or far above an untrained network's.

The rule: stop as soon as one batch's loss is NaN or infinite, or once the mean loss of the last
`WINDOW` batches exceeds `FACTOR` times ln(number of classes).

Why: a network that spreads its bets evenly over 10 classes scores ln 10 ≈ 2.30, whatever the labels, so
a freshly initialised network starts near it, and learning only goes below. Single batches spike far above
it without meaning much (measured on the embedded sample, seed 0: up to 35 at lr 0.3), so one batch proves
nothing; a mean over 10 batches does. lr 0.0001 to 0.1 never take it above 2.3. Between 0.2 and 0.9 the first
steps knock the ReLUs out and the network ends at chance (loss ≈ 2.31, accuracy ≈ 10%), some runs after a
10-batch mean of 5 to 6.5, which is a bad run but a finite one that the accuracy reports, some (0.6, 0.7,
0.9) after one beyond the limit, which stops them. lr 1 and more pass 100 within the first 10 batches
(lr 1e4: 3e32) and never come back. Four times chance, 9.2, lies well above every run that learns.
"""

import math
from collections import deque

from .errors import TrainingDivergedError

WINDOW = 10  # batches averaged before judging: one noisy batch must not stop a run
FACTOR = 4.0  # times the loss of an untrained network


class DivergenceCheck:
    """Call it after every step with the batch's loss; it raises TrainingDivergedError when the run diverged."""

    def __init__(self, *, lr: float, num_classes: int = 10, epoch: int = 1) -> None:
        self.lr = lr
        self.limit = FACTOR * math.log(num_classes)
        self.recent: deque[float] = deque(maxlen=WINDOW)
        self.epoch = epoch

    def __call__(self, batch: int, loss: float) -> None:
        self.recent.append(loss)
        if not math.isfinite(loss):
            self._stop(f"the loss became {loss}", batch)
        if len(self.recent) == WINDOW and sum(self.recent) / WINDOW > self.limit:
            mean = sum(self.recent) / WINDOW
            chance = self.limit / FACTOR
            self._stop(f"the loss grew to {mean:.3g}, far above an untrained network's {chance:.2f}", batch)

    def _stop(self, what: str, batch: int) -> None:
        raise TrainingDivergedError(
            f"{what} by epoch {self.epoch}, batch {batch}, with learning rate {self.lr:g}: training stopped, as it "
            f"cannot recover; try a smaller one, e.g. `lr={self.lr / 10:g}`"
        )
