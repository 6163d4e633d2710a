"""The record of a run, epoch by epoch: what `fit` returns, plots draw and checkpoints store."""

import math
from dataclasses import dataclass, field


@dataclass
class History:
    """Per-epoch record of a run: mean training loss, test loss and accuracy, training seconds."""

    train_loss: list[float] = field(default_factory=list)
    test_loss: list[float] = field(default_factory=list)
    test_accuracy: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    interrupted: bool = False

    @property
    def epochs(self) -> int:
        return len(self.train_loss)

    def add_epoch(self, train_loss: float, test_loss: float, test_accuracy: float, seconds: float) -> None:
        """Record one finished epoch."""
        self.train_loss.append(train_loss)
        self.test_loss.append(test_loss)
        self.test_accuracy.append(test_accuracy)
        self.seconds.append(seconds)

    def to_dict(self) -> dict[str, list[float]]:
        return {
            "train_loss": self.train_loss,
            "test_loss": self.test_loss,
            "test_accuracy": self.test_accuracy,
            "seconds": self.seconds,
        }

    @classmethod
    def of_loop(cls, train_loss: list[float], test_accuracy: float) -> "History":
        """The record of a hand-written loop: its epochs' losses, and the test accuracy measured once at the end.

        Epochs it did not test hold NaN, so every list keeps one entry per epoch.
        """
        untested = [math.nan] * max(len(train_loss) - 1, 0)
        tested = [*untested, test_accuracy] if train_loss else []
        return cls(list(train_loss), [math.nan] * len(train_loss), tested, [math.nan] * len(train_loss))

    @classmethod
    def from_dict(cls, values: dict[str, list[float]]) -> "History":
        return cls(**{key: list(values[key]) for key in cls().to_dict()})
