"""The record of a run, epoch by epoch: what `fit` returns, plots draw and checkpoints store."""

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

    def to_dict(self) -> dict[str, list[float]]:
        return {
            "train_loss": self.train_loss,
            "test_loss": self.test_loss,
            "test_accuracy": self.test_accuracy,
            "seconds": self.seconds,
        }

    @classmethod
    def from_dict(cls, values: dict[str, list[float]]) -> "History":
        return cls(**{key: list(values[key]) for key in cls().to_dict()})
