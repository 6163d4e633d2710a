"""Self-checks for the exercises of notebook 03 (training), and its verdict on a run.

`from mnist_tutorial.selfcheck import training as check`, then `check.batches_per_epoch(answer, ...)`.
"""

import copy
import itertools
import math
import pickle
from typing import Any

import torch
from torch import nn

from ..defaults import BATCH_SIZE, LR, MOMENTUM, NUM_EPOCHS
from .data import batches_per_epoch, training_bytes  # noqa: F401 (batches_per_epoch: 03 asks it too)
from .verdicts import YourTurn as YourTurn
from .verdicts import as_number, decimals, never_raises, unusable, verdict

CHANCE_LOSS = math.log(10)  # cross-entropy of even bets on 10 classes: what an untrained network scores
UNTRAINED_TOLERANCE = 0.15  # a fresh network's loss on a batch lies within this of ln 10
FLOORS = {"mnist": 0.87, "fashion": 0.75}  # test accuracy the lesson's settings pass after 10 epochs
PILED_UP = 10  # stored gradients this many times one batch's: zero_grad was skipped (after it: about 1)
AT_CHANCE = 0.2  # test accuracy below twice a guess's 10%: the network has learnt nothing usable
EXPLODED = 4  # a last epoch's mean loss above this many times ln 10: the steps blew the network up (fit's bound)
BARELY_STARTED = 0.75  # a last epoch's loss above this share of ln 10: the loss has hardly begun to fall


@never_raises
def untrained_loss(
    answer: object, *, train_set: object = None, seed: int | None = None, network: type[nn.Module] | None = None
) -> bool:
    """Check the loss measured for a network that has not been trained yet.

    With `train_set` and `seed`, the answer must be the very loss of `torch.manual_seed(seed); network()` (the
    learner's class, else the lesson's) on the first 64 training images in order: knowing ln 10 is not enough.
    """
    loss = as_number(answer)
    expected = fresh_loss(train_set, seed, network) if train_set is not None and seed is not None else None
    near = expected if expected is not None else CHANCE_LOSS
    shown = decimals(answer)
    # Rounded to the decimals typed, the answer is the measurement, and no longer ln 10 (which a guess would give).
    rounded = None not in (expected, loss, shown) and round(loss, shown) == round(near, shown)  # type: ignore[arg-type]
    # the fewest decimals (2 or more) that tell the measurement from ln 10
    needed = next((d for d in range(2, 7) if round(near, d) != round(CHANCE_LOSS, d)), 7)
    telling = rounded and shown >= needed  # type: ignore[operator]
    tolerance = 5e-4 if expected is not None else UNTRAINED_TOLERANCE
    if loss is not None and (abs(loss - near) < tolerance or telling):
        places = f"right, to {shown} decimals: " if abs(loss - near) >= 5e-4 and expected is not None else ""
        value = near if expected is not None else loss
        correct = f"{places}{value:.3f}, close to ln 10 = {CHANCE_LOSS:.3f}: even bets on 10 classes"
        return verdict(True, correct=correct, hint="")
    if loss is None:
        hint = unusable(answer, "a number, such as loss.item()")
    elif rounded:
        hint = f"close: give {needed} decimals, so that your measurement and ln 10 tell apart"
    elif expected is not None and abs(loss - CHANCE_LOSS) < 5e-4:
        hint = (
            "that is ln 10, what to expect; now measure it: your fresh network's loss on that batch is close, not equal"
        )
    elif abs(loss - 0.1) < 0.05:
        hint = "0.1 is the probability a fresh network gives each class: the loss is -ln of the true class's one"
    elif loss < CHANCE_LOSS - UNTRAINED_TOLERANCE:
        hint = "lower than a fresh network scores: did you measure a trained one? Create a new NeuralNetwork()"
    elif expected is not None and abs(loss - CHANCE_LOSS) < UNTRAINED_TOLERANCE:
        hint = (
            "close: seed first (torch.manual_seed(seed)), then NeuralNetwork(), and take the first 64 images in order"
        )
    else:
        hint = "higher than a fresh network scores: compute criterion(outputs, labels) on one batch of raw scores"
    return verdict(False, correct="", hint=hint)


def fresh_loss(train_set: object, seed: int, network: type[nn.Module] | None = None) -> float:
    """The loss of a freshly seeded `network()` (the lesson's by default) on the first 64 training images, in order."""
    from ..data import normalize  # the lesson's transform on a whole tensor: ToTensor() + Normalize, bit for bit
    from ..model import NeuralNetwork

    images = training_bytes(train_set)[:BATCH_SIZE]
    labels = getattr(train_set, "targets", None)
    labels = labels if isinstance(labels, torch.Tensor) else train_set.train.labels  # type: ignore[attr-defined]
    torch.manual_seed(seed)
    with torch.no_grad():
        model = (network or NeuralNetwork)()
        return nn.functional.cross_entropy(model(normalize(images)), labels[:BATCH_SIZE].long()).item()


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
    model: nn.Module | None = None,
    optimizer: torch.optim.Optimizer | None = None,
    train_loader: Any = None,
    epoch_losses: list[float] | None = None,
) -> str:
    """One sentence on a run's test accuracy (a fraction): as expected, or why not.

    With the learner's `model`, `optimizer` and `train_loader`, the reasons checked on them come first
    (a missing zero_grad, an optimizer of another network, a setting changed since); then those read off the
    settings.
    """
    floor = FLOORS.get(dataset, FLOORS["mnist"])
    where = f"{'above' if accuracy > floor else 'below'} {floor:.0%} after {epochs} epoch{'s' * (epochs != 1)}"
    if accuracy > floor:
        lesson = (lr, momentum, batch_size) == (LR, MOMENTUM, BATCH_SIZE) and epochs >= NUM_EPOCHS
        outcome = "as expected with the lesson's settings" if lesson else "your settings clear the bar"
        return f"{where}: {outcome}"
    found = []
    if model is not None and optimizer is not None:
        found = checked_causes(model, optimizer, train_loader, lr=lr, momentum=momentum, batch_size=batch_size)
    reason = found[0] if found else None
    exploded = bool(epoch_losses) and not epoch_losses[-1] < EXPLODED * CHANCE_LOSS  # a nan loss counts too
    if reason is None and exploded:
        reason = (
            f"with lr {lr:g} the loss exploded far above an untrained network's {CHANCE_LOSS:.2f}: the steps are far "
            "too large; see exercise 3"
        )
    reason = reason or reason_for_low_accuracy(accuracy, epochs=epochs, lr=lr, momentum=momentum, batch_size=batch_size)
    return f"{where}: {reason}"


def loss_trend(epoch_losses: list[float], accuracy: float) -> str:
    """What a run did, in words that hold on any CPU: stuck at chance, overshooting, barely started, or learning.

    The digits of a run at a large learning rate are chaotic (another CPU's rounding gives another run); its story
    is not: these are the checks that tell the stories of 03's learning rates apart with a wide margin.
    """
    if accuracy < AT_CHANCE:
        return "stuck at chance: the network answers no better than a guess"
    if any(later > earlier for earlier, later in itertools.pairwise(epoch_losses)):
        return "the loss falls, then climbs back up in later epochs: the steps overshoot"
    if epoch_losses[-1] > BARELY_STARTED * CHANCE_LOSS:
        return "the loss falls every epoch, but has barely started: the steps are tiny"
    return "the loss falls every epoch: the network learns"


def checked_causes(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    train_loader: Any,
    *,
    lr: float,
    momentum: float,
    batch_size: int,
) -> list[str]:
    """What went wrong with a learner's run, as far as the model, optimizer and loader show it."""
    causes = []
    ours = {id(p) for p in model.parameters()}
    held = [p for group in optimizer.param_groups for p in group["params"]]
    if not any(id(p) in ours for p in held):
        causes.append(
            "the optimizer holds another network's parameters (the model cell ran again after the optimizer "
            "cell), so your loop stepped the old network: run the optimizer cell again, then the loop"
        )
        return causes
    if optimizer.param_groups[0].get("momentum") and not optimizer.state:  # SGD keeps momentum once it has stepped
        causes.append(
            "your network's weights never moved: `optimizer.step()` is missing from your loop, so the gradients "
            "that backward() computed were never applied"
        )
        return causes
    piled = gradient_pile_up(model, train_loader)
    if piled is not None and piled > PILED_UP:
        causes.append(
            f"the gradients stored in your network are {piled:.0f} times one batch's: `optimizer.zero_grad()` is "
            "missing from your loop, so each step pushed along the sum of all the gradients so far (exercise 5)"
        )
    group = optimizer.param_groups[0]
    for name, value in (("lr", lr), ("momentum", momentum)):
        if group.get(name) != value:
            causes.append(
                f"your optimizer was made with {name}={group.get(name):g}, and the settings cell says {name}={value:g}:"
                " run the notebook again from the settings cell"
            )
    loader_batch = getattr(train_loader, "batch_size", batch_size)
    if loader_batch != batch_size:
        causes.append(
            f"your train_loader makes batches of {loader_batch}, and the settings cell says batch_size={batch_size}:"
            " run the notebook again from the settings cell"
        )
    return causes


def gradient_pile_up(model: nn.Module, train_loader: Any) -> float | None:
    """How many times larger the gradients stored in `model` are than one batch's: about 1 after zero_grad.

    The batch is the dataset's first images, in order, so the learner's shuffling is left untouched.
    """
    stored = [p.grad for p in model.parameters()]
    batch = first_batch(train_loader)
    if batch is None or any(grad is None for grad in stored):
        return None
    probe = copy.deepcopy(model)
    probe.zero_grad()
    inputs, labels = batch
    nn.functional.cross_entropy(probe(inputs.view(-1, 784)), labels).backward()
    fresh = torch.sqrt(sum(p.grad.pow(2).sum() for p in probe.parameters()))
    total = torch.sqrt(sum(grad.pow(2).sum() for grad in stored))
    return (total / fresh).item() if fresh > 0 else None


def first_batch(train_loader: Any) -> tuple[torch.Tensor, torch.Tensor] | None:
    """The first `batch_size` training images and labels, in order, from a DataLoader or a TensorLoader."""
    size = getattr(train_loader, "batch_size", None) or BATCH_SIZE
    if hasattr(train_loader, "inputs"):
        return train_loader.inputs[:size], train_loader.labels[:size]
    dataset = getattr(train_loader, "dataset", None)
    if dataset is None or len(dataset) == 0:
        return None
    pairs = [dataset[i] for i in range(min(size, len(dataset)))]
    return torch.stack([image for image, _ in pairs]), torch.tensor([int(label) for _, label in pairs])


def reason_for_low_accuracy(accuracy: float, *, epochs: int, lr: float, momentum: float, batch_size: int) -> str:
    """The likeliest reason, from the settings, that a run ended below the bar."""
    if accuracy < AT_CHANCE and lr > LR:
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
    return (
        "not what the lesson's settings give: compare your loop cell with the lesson's five lines (zero_grad, "
        "forward, loss, backward, step)"
    )


@never_raises
def loss_and_optimizer(criterion: object, optimizer: object, model: nn.Module, *, lr: float, momentum: float) -> bool:
    """Check the lesson's loss and optimizer: CrossEntropyLoss, and SGD over `model`'s parameters with lr, momentum."""
    ours = {id(p) for p in model.parameters()}
    if not isinstance(criterion, nn.CrossEntropyLoss):
        hint = f"`criterion` is {type(criterion).__name__}: the lesson's loss is nn.CrossEntropyLoss()"
    elif not isinstance(optimizer, torch.optim.SGD):
        hint = f"`optimizer` is {type(optimizer).__name__}: the lesson's is optim.SGD(model.parameters(), ...)"
    elif {id(p) for group in optimizer.param_groups for p in group["params"]} != ours:
        hint = "the optimizer does not hold this `model`'s parameters: pass model.parameters(), after the model cell"
    elif (optimizer.param_groups[0]["lr"], optimizer.param_groups[0]["momentum"]) != (lr, momentum):
        group = optimizer.param_groups[0]
        hint = f"the optimizer has lr={group['lr']:g}, momentum={group['momentum']:g}: pass lr=lr, momentum=momentum"
    else:
        hint = ""
    correct = f"cross-entropy loss, and SGD over the network's parameters with lr={lr:g}, momentum={momentum:g}"
    return verdict(not hint, correct=correct, hint=hint)


@never_raises
def saved(checkpoint: object, *, model: nn.Module, epochs: int) -> bool:
    """Check 03's checkpoint: a dict with the model's state_dict (as it is now), the optimizer's, epoch and settings."""
    try:
        state = torch.load(checkpoint, weights_only=True)  # type: ignore[arg-type]
    except pickle.UnpicklingError:
        hint = "the file holds more than tensors (torch.save(model)?): save model.state_dict() inside a dict"
        return verdict(False, correct="", hint=hint)
    missing = [
        key for key in ("model", "optimizer", "epoch", "settings") if not isinstance(state, dict) or key not in state
    ]
    if missing:
        return verdict(False, correct="", hint=f"the saved dict lacks {', '.join(map(repr, missing))}: save all four")
    ours = model.state_dict()
    weights = state["model"]
    if not isinstance(weights, dict) or weights.keys() != ours.keys():
        hint = "'model' is not your model's state_dict: save model.state_dict()"
    elif not all(torch.equal(weights[name], ours[name]) for name in ours):
        hint = "the saved weights are not your model's as they are now: save right after training"
    elif state["epoch"] != epochs:
        hint = f"'epoch' is {state['epoch']!r}, but your network has trained {epochs}: save len(epoch_losses)"
    else:
        hint = ""
    return verdict(not hint, correct=f"your network after {epochs} epochs, its optimizer and settings", hint=hint)
