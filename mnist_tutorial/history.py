"""The record of a run, epoch by epoch: what `fit` returns, plots draw and checkpoints store."""

from dataclasses import dataclass, field

METRICS = ("train_loss", "test_loss", "test_accuracy", "seconds")  # one list each, one entry per epoch


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
        for name, value in zip(METRICS, (train_loss, test_loss, test_accuracy, seconds), strict=True):
            getattr(self, name).append(value)

    def to_dict(self) -> dict[str, list[float]]:
        return {name: getattr(self, name) for name in METRICS}

    @classmethod
    def from_dict(cls, values: dict[str, list[float]]) -> "History":
        return cls(**{name: list(values[name]) for name in METRICS})
