"""Self-checks for the exercises of notebook 04 (evaluation), read off the learner's own confusion matrix.

`from mnist_tutorial.selfcheck import evaluation as check`, then `check.class_accuracy(answer, confusion, digit=3)`.
A confusion matrix has one row per true class and one column per predicted class.
"""

import torch

from .verdicts import YourTurn as YourTurn
from .verdicts import as_number, as_shape, close_to, never_raises, unusable, verdict

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
