"""Self-checks for the exercises of notebook 04 (evaluation), read off the learner's own confusion matrix.

`from mnist_tutorial.selfcheck import evaluation as check`, then `check.class_accuracy(answer, confusion, digit=3)`.
A confusion matrix has one row per true class and one column per predicted class.
"""

import contextlib
import io
from datetime import datetime
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..checkpoint import load_checkpoint
from ..data import Data, make_loaders
from ..defaults import BATCH_SIZE, LR, MOMENTUM, NUM_EPOCHS
from ..errors import CheckpointError
from ..files import write_bytes_atomic
from ..train import fit, make_optimizer
from .verdicts import YourTurn as YourTurn
from .verdicts import as_number, as_shape, close_to, never_raises, too_rounded, unusable, verdict

PERCENT_TOLERANCE = 0.01  # an answer rounded to two decimals still counts


@never_raises
def class_accuracy(answer: object, confusion: torch.Tensor, *, digit: int) -> bool:
    """Check the test accuracy of one class, in percent, worked out from `confusion`."""
    right = confusion[digit, digit].item()
    expected = 100 * right / confusion[digit].sum().item()
    percent = as_number(answer)
    ok = percent is not None and close_to(percent, expected, answer=answer, tolerance=PERCENT_TOLERANCE)
    if percent is None:
        hint = unusable(answer, "a percentage, such as 93.5")
    elif too_rounded(percent, expected, answer=answer, min_decimals=1):
        hint = "close: give 1 decimal or more (the table above gives 2)"
    elif abs(100 * percent - expected) < PERCENT_TOLERANCE:
        hint = "that is a fraction: give it as a percentage (times 100)"
    elif abs(percent - 100 * right / max(confusion[:, digit].sum().item(), 1)) < PERCENT_TOLERANCE:
        hint = f"that divides by column {digit} (all predicted {digit}s): divide by row {digit}, the true {digit}s"
    else:
        hint = f"take the diagonal count of row {digit} and divide it by the total of row {digit}"
    return verdict(ok, correct=f"{expected:.2f}% of the true {digit}s were predicted as {digit}", hint=hint)


@never_raises
def most_confused_pair(answer: object, confusion: torch.Tensor) -> bool:
    """Check a (true digit, predicted digit) pair: the most frequent mistake in `confusion`."""
    mistakes = confusion.clone().fill_diagonal_(0)
    pair = as_shape(answer)  # a tuple of whole numbers, whatever container it came in
    classes = len(confusion)
    if pair is None or len(pair) != 2 or not all(0 <= digit < classes for digit in pair):
        hint = unusable(answer, f"two digits from 0 to {classes - 1} in a tuple: (true digit, predicted digit)")
        return verdict(False, correct="", hint=hint)
    ok = pair[0] != pair[1] and mistakes[pair].item() == mistakes.max().item()
    if ok:
        true_digit, predicted = pair
        correct = f"true {true_digit}s predicted as {predicted}: {mistakes[pair].item()} times, more than any other"
        return verdict(True, correct=correct, hint="")
    if pair[0] == pair[1]:
        hint = "the diagonal holds the right answers: look for the largest count off the diagonal"
    elif mistakes[pair[::-1]].item() == mistakes.max().item():
        hint = "the right digits in the wrong order: rows are the true digits, columns the predictions"
    else:
        hint = f"{mistakes[pair].item()} is not the largest count off the diagonal: look again (or use argmax)"
    return verdict(False, correct="", hint=hint)


@never_raises
def accuracy(correct: object, total: object, *, model: torch.nn.Module, test_loader: object) -> bool:
    """Check the learner's evaluation loop: `total` test images, `correct` of them predicted right, as counted anew."""
    recount, images = 0, 0
    with torch.no_grad():
        for inputs, labels in test_loader:  # type: ignore[attr-defined]
            recount += (model(inputs).argmax(dim=1) == labels).sum().item()
            images += len(labels)
    if not isinstance(total, int) or not isinstance(correct, int):
        hint = "count with whole numbers: total += labels.size(0) and correct += (predicted == labels).sum().item()"
    elif total != images:
        hint = f"`total` is {total}, but the loader holds {images} test images: add labels.size(0) for every batch"
    elif correct != recount:
        hint = f"`correct` is {correct}, but {recount} predictions are right: add (predicted == labels).sum().item()"
    else:
        hint = ""
    shown = f"`correct` and `total` agree with a recount of the {images:,} test images: accuracy is correct / total"
    return verdict(not hint, correct=shown, hint=hint)


def judged_network(checkpoint: Path, *, dataset: str) -> dict[str, Any] | None:
    """03's checkpoint, read with the course's checks, if it can be judged; else None. Says which, in one line."""
    shown = "/".join(checkpoint.parts[-3:])  # build/03_training/model.pt, wherever build/ is
    try:
        state = load_checkpoint(checkpoint) if checkpoint.is_file() else None
    except CheckpointError:
        state, problem = None, "cannot be read as a checkpoint"
    else:
        problem = "is missing (03 has not been run yet)"
    if state is not None and state.get("epoch", 0) < 1:
        state, problem = None, "holds no complete epoch (03 was stopped during its first)"
    elif state is not None and state.get("dataset", dataset) != dataset:
        state, problem = None, f"was trained on {state.get('dataset')!r}, not {dataset!r}"
    if state is None:
        print(f"{shown} {problem}: training the lesson's network here instead, as 03 does ({NUM_EPOCHS} epochs)")
        return None
    settings = state.get("settings") or {}
    when = datetime.fromtimestamp(checkpoint.stat().st_mtime).strftime("%Y-%m-%d %H:%M")
    labels = {"lr": "lr", "momentum": "momentum", "batch_size": "batch size"}
    how = ", ".join(f"{label} {settings[name]:g}" for name, label in labels.items() if name in settings)
    print(f"judging your network from 03 ({shown}, saved {when}): {state['epoch']} epochs, {how}")
    if isinstance(state.get("verdict"), str):
        print(f"03's verdict: {state['verdict']}")
    return state


def train_like_03(network: type[nn.Module], data: Data, *, seed: int, path: Path) -> Path:
    """Train `network()` with the lesson's settings, quietly, and save it at `path` as 03 does; returns `path`."""
    torch.manual_seed(seed)
    model = network()
    train_loader, test_loader = make_loaders(data, seed=seed)
    optimizer = make_optimizer(model)
    with contextlib.redirect_stdout(io.StringIO()):
        history = fit(model, train_loader, test_loader, num_epochs=NUM_EPOCHS, optimizer=optimizer, progress=False)
    if history.interrupted:  # fit returns on Ctrl-C: a part-trained network must not be saved as 03's whole run
        raise KeyboardInterrupt
    settings = {"lr": LR, "momentum": MOMENTUM, "batch_size": BATCH_SIZE, "dataset": data.source.dataset}
    state = {
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "epoch": NUM_EPOCHS,
        "settings": settings,
    }
    buffer = io.BytesIO()
    torch.save(state, buffer)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_bytes_atomic(path, buffer.getvalue())  # a stop mid-write leaves the previous file whole, or none
    return path


@never_raises
def loaded(model: nn.Module, checkpoint: Path) -> bool:
    """Check that `model` holds the checkpoint's weights and is in evaluation mode."""
    saved = load_checkpoint(checkpoint)["model_state"]
    ours = model.state_dict()
    if ours.keys() != saved.keys() or not all(torch.equal(ours[name], saved[name]) for name in ours):
        hint = "your model does not hold the saved weights: model.load_state_dict(torch.load(...)['model'])"
    elif model.training:
        hint = "your model is still in training mode: call model.eval() before judging it"
    else:
        hint = ""
    return verdict(not hint, correct="the saved weights, in evaluation mode", hint=hint)


def at_chance(predictions: torch.Tensor, class_names: tuple[str, ...]) -> str:
    """A sentence when a network gives nearly every image the same answer (a network at chance); else ''."""
    counts = torch.bincount(predictions, minlength=len(class_names))
    top = int(counts.argmax())
    if counts[top] < 0.9 * len(predictions):
        return ""
    share = f"{counts[top].item() / len(predictions):.0%}"
    return f"at chance: {share} of the images get the same answer, {class_names[top]}, whatever they show"
