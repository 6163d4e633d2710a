"""Self-checks for the exercises of notebook 03 (training), and its verdict on a run.

`from mnist_tutorial.selfcheck import training as check`, then `check.batches_per_epoch(answer, ...)`.
"""

import math

from ..defaults import BATCH_SIZE, LR, MOMENTUM, NUM_EPOCHS
from .common import as_number, never_raises, unusable, verdict
from .data import batches_per_epoch  # noqa: F401 (03 asks it too: one check, two notebooks)

CHANCE_LOSS = math.log(10)  # cross-entropy of even bets on 10 classes: what an untrained network scores
UNTRAINED_TOLERANCE = 0.15  # a fresh network's loss on a batch lies within this of ln 10
FLOORS = {"mnist": 0.87, "fashion": 0.75}  # test accuracy the lesson's settings pass after 10 epochs


@never_raises
def untrained_loss(answer: object) -> bool:
    """Check the loss measured for a network that has not been trained yet."""
    loss = as_number(answer)
    ok = loss is not None and abs(loss - CHANCE_LOSS) < UNTRAINED_TOLERANCE
    if loss is None:
        hint = unusable(answer, "a number, such as loss.item()")
    elif abs(loss - 0.1) < 0.05:
        hint = "0.1 is the probability a fresh network gives each class: the loss is -ln of the true class's one"
    elif loss < CHANCE_LOSS:
        hint = "lower than a fresh network scores: did you measure a trained one? Create a new NeuralNetwork()"
    else:
        hint = "higher than a fresh network scores: compute criterion(outputs, labels) on one batch of raw scores"
    correct = f"{loss:.3f}, close to ln 10 = {CHANCE_LOSS:.3f}: even bets on 10 classes" if ok else ""
    return verdict(ok, correct=correct, hint=hint)


@never_raises
def momentum_factor(answer: object, *, momentum: float = MOMENTUM) -> bool:
    """Check how many times lr × gradient a steady gradient's step grows to with `momentum`."""
    expected = 1 / (1 - momentum)
    factor = as_number(answer)
    ok = factor is not None and math.isclose(factor, expected, rel_tol=0.02)
    if factor is None:
        hint = unusable(answer, "a number")
    elif math.isclose(factor, momentum) or math.isclose(factor, 1 + momentum):
        hint = "that counts one or two steps: each step adds the gradient to 0.9 of the last, again and again"
    else:
        hint = f"add up 1 + {momentum} + {momentum}² + {momentum}³ + ...: a geometric series"
    correct = f"{expected:g} times: 1 + {momentum} + {momentum}² + ... = 1 / (1 - {momentum})"
    return verdict(ok, correct=correct, hint=hint)


def accuracy_verdict(
    accuracy: float,
    *,
    epochs: int,
    lr: float = LR,
    momentum: float = MOMENTUM,
    batch_size: int = BATCH_SIZE,
    dataset: str = "mnist",
) -> str:
    """One sentence on a run's test accuracy (a fraction): as expected, or why not, read off the settings."""
    floor = FLOORS.get(dataset, FLOORS["mnist"])
    where = f"{'above' if accuracy > floor else 'below'} {floor:.0%} after {epochs} epoch{'s' * (epochs != 1)}"
    if accuracy > floor:
        lesson = (lr, momentum, batch_size) == (LR, MOMENTUM, BATCH_SIZE) and epochs >= NUM_EPOCHS
        outcome = "as expected with the lesson's settings" if lesson else "your settings clear the bar"
        return f"{where}: {outcome}"
    reason = reason_for_low_accuracy(accuracy, epochs=epochs, lr=lr, momentum=momentum, batch_size=batch_size)
    return f"{where}: {reason}"


def reason_for_low_accuracy(accuracy: float, *, epochs: int, lr: float, momentum: float, batch_size: int) -> str:
    """The likeliest reason, from the settings, that a run ended below the bar."""
    if accuracy < 0.2 and lr > LR:
        return (
            f"with lr {lr:g} the first steps were so large that the ReLUs died: the network gives every image "
            "the same scores, stuck at chance (loss near 2.30); see exercise 3"
        )
    if lr > 10 * LR:
        return f"with lr {lr:g} the steps overshoot and the loss jumps around instead of settling; see exercise 3"
    if lr < LR:
        return f"with lr {lr:g} the steps are small, so the network has not got far yet; see exercise 3"
    if momentum < MOMENTUM:
        return f"momentum {momentum:g} takes smaller steps than the lesson's 0.9 at the same lr; see exercise 4"
    if epochs < NUM_EPOCHS:
        return f"{epochs} epochs are fewer than the lesson's {NUM_EPOCHS}: run the training cell again to go on"
    if batch_size > BATCH_SIZE:
        return f"batches of {batch_size} make fewer steps per epoch than the lesson's {BATCH_SIZE}: train longer"
    return "not what the lesson's settings give: restart the kernel and run the notebook from the top"
