"""Figures for the course: each function returns a matplotlib Figure carrying a sentence computed from its data.

`show(figure)` displays it with that sentence as alt text (what a screen reader speaks); `save_figure` and
`figure_png` write it into the PNG. Colours are Okabe and Ito's, and what colour marks is also written or drawn.
"""

import io
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure

from .files import atomic_path

if TYPE_CHECKING:
    from .history import History

# Okabe & Ito (2008), "Color Universal Design": distinct for deuteranopia, protanopia and tritanopia.
BLUE, ORANGE, GREEN, VERMILLION, GREY = "#0072B2", "#E69F00", "#009E73", "#D55E00", "#767676"
ALT = "mnist_tutorial_alt"  # the attribute of a Figure that holds its alt text


def show(figure: Figure, alt: str | None = None) -> None:
    """Display `figure` in the notebook with its alt text (its own sentence unless `alt` is given)."""
    from IPython.display import display

    display(figure, metadata=alt_metadata(alt or alt_text(figure)))


def alt_metadata(text: str) -> dict:
    """The display metadata that gives a PNG output its alt text (JupyterLab and the site read it)."""
    return {"image/png": {"alt": text}}


def alt_text(figure: Figure) -> str:
    text = getattr(figure, ALT, "")
    if not text:
        raise ValueError("this figure has no alt text: draw it with mnist_tutorial.plots, or pass show(figure, alt=)")
    return text


def _finish(figure: Figure, alt: str) -> Figure:
    figure.tight_layout()
    # Closed, so that a notebook shows the figure once: when the cell displays it.
    plt.close(figure)
    setattr(figure, ALT, alt)
    return figure


def _trend(first: float, last: float, digits: int, unit: str = "") -> str:
    if round(first, digits) == round(last, digits):
        return f"stays at {last:.{digits}f}{unit}"
    verb = "rises" if last > first else "falls"
    return f"{verb} from {first:.{digits}f}{unit} to {last:.{digits}f}{unit}"


def loss_alt(history: "History") -> str:
    """E.g. "Training loss falls from 2.23 to 0.35 over 10 epochs while test accuracy rises from ... to 89.25%."."""
    epochs = history.epochs
    if epochs == 0:
        return "An empty plot of loss and test accuracy per epoch: no epoch has been trained yet."
    accuracy = [100 * a for a in history.test_accuracy]
    if epochs == 1:
        return (
            f"After 1 epoch, training loss is {history.train_loss[0]:.2f}, test loss {history.test_loss[0]:.2f} "
            f"and test accuracy {accuracy[0]:.2f}%."
        )
    return (
        f"Training loss {_trend(history.train_loss[0], history.train_loss[-1], 2)} over {epochs} epochs "
        f"while test accuracy {_trend(accuracy[0], accuracy[-1], 2, '%')} (test loss ends at "
        f"{history.test_loss[-1]:.2f})."
    )


def plot_loss(history: "History") -> Figure:
    """Training and test loss per epoch, with test accuracy on a second axis."""
    figure, ax = plt.subplots(figsize=(6, 3.5))
    epochs = range(1, history.epochs + 1)
    ax.plot(epochs, history.train_loss, "o-", color=BLUE, label="train loss")
    ax.plot(epochs, history.test_loss, "s--", color=ORANGE, label="test loss")
    ax.set(xlabel="epoch", ylabel="cross-entropy loss", xlim=(0.5, max(history.epochs, 1) + 0.5))
    accuracy_axis = ax.twinx()
    accuracy = [100 * a for a in history.test_accuracy]
    accuracy_axis.plot(epochs, accuracy, "^:", color=GREEN, label="test accuracy")
    accuracy_axis.set_ylabel("test accuracy (%) ▲", color=GREEN)
    lines = ax.get_lines() + accuracy_axis.get_lines()
    ax.legend(lines, [line.get_label() for line in lines], loc="center right")
    return _finish(figure, loss_alt(history))


def images_alt(titles: Sequence[str], *, wrong: Sequence[bool] | None = None, columns: int = 8) -> str:
    """E.g. "32 images in 4 rows of 8, titled 5, 0, 4, ...; the 3 marked wrong have bold titles."."""
    count = len(titles)
    rows = -(-count // columns)
    grid = f"{rows} rows of {columns}" if rows > 1 else "one row"
    marked = sum(bool(w) for w in wrong or [])
    if count > 1 and len(set(titles)) == 1:
        text = f"{count} images in {grid}, each titled {titles[0]}"
    else:
        text = f"{count} images in {grid}, titled " + ", ".join(titles)
    if marked == count and count:
        return text + "; all are mistakes."
    return text + (f"; the {marked} marked wrong have bold titles." if marked else ".")


def plot_images(
    images: torch.Tensor,
    titles: list[str],
    *,
    wrong: list[bool] | None = None,
    columns: int = 8,
    alt: str | None = None,
) -> Figure:
    """A grid of 28x28 images (uint8 or normalised) with a title each; `wrong` ones in bold vermillion; `alt` the
    sentence where the caller knows better what the images are (default: the titles)."""
    rows = -(-len(images) // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(1.3 * columns, 1.5 * rows), squeeze=False)
    for index, ax in enumerate(axes.flat):
        ax.axis("off")
        if index < len(images):
            ax.imshow(images[index].reshape(28, 28).cpu().numpy(), cmap="gray_r")
            is_wrong = bool(wrong and wrong[index])
            style = {"color": VERMILLION, "fontweight": "bold"} if is_wrong else {"color": "black"}
            ax.set_title(titles[index], fontsize=9, **style)
    return _finish(figure, alt or images_alt(titles, wrong=wrong, columns=columns))


def _a(name: str) -> str:
    # "a 7", "an 8", "an Ankle boot": the article a reader would say.
    return f"an {name}" if name[:1].lower() in "8aeiou" or name in ("11", "18") else f"a {name}"


def predictions_alt(labels: Sequence[int], predictions: Sequence[int], class_names: Sequence[str]) -> str:
    """E.g. "32 test images titled with the network's prediction: 30 right, 2 wrong (a 4 read as 9, ...)."."""
    mistakes = [(t, p) for t, p in zip(labels, predictions, strict=True) if t != p]
    text = f"{len(labels)} test images titled with the network's prediction: {len(labels) - len(mistakes)} right"
    if not mistakes:
        return text + ", none wrong."
    listed = ", ".join(f"{_a(class_names[t])} read as {class_names[p]}" for t, p in mistakes)
    return text + f", {len(mistakes)} wrong ({listed}; their titles give the true class in brackets)."


def plot_predictions(
    images: torch.Tensor,
    labels: torch.Tensor,
    predictions: torch.Tensor,
    class_names: tuple[str, ...],
    columns: int = 8,
) -> Figure:
    """Images titled "predicted (true)"; mistakes in bold vermillion."""
    titles, wrong = [], []
    for label, prediction in zip(labels.tolist(), predictions.tolist(), strict=True):
        wrong.append(label != prediction)
        mark = f" ({class_names[label]})" if label != prediction else ""
        titles.append(f"{class_names[prediction]}{mark}")
    alt = predictions_alt(labels.tolist(), predictions.tolist(), class_names)
    return plot_images(images, titles, wrong=wrong, columns=columns, alt=alt)


def confusion_alt(confusion: torch.Tensor, class_names: Sequence[str], *, shown: int = 3) -> str:
    """E.g. "Confusion matrix of 1,000 test images: 893 (89.30%) on the diagonal; the commonest mistakes ..."."""
    counts = confusion.cpu().long()
    total, right = int(counts.sum()), int(counts.diagonal().sum())
    off = counts.clone()
    off.fill_diagonal_(0)
    order = off.flatten().argsort(descending=True, stable=True)[:shown].tolist()
    size = counts.shape[1]
    mistakes = [(i // size, i % size) for i in order if off.flatten()[i] > 0]
    text = (
        f"Confusion matrix of {total:,} test images, true class by row and predicted class by column: "
        f"{right:,} ({100 * right / max(total, 1):.2f}%) on the diagonal"
    )
    if not mistakes:
        return text + ", no mistakes."
    listed = ", ".join(
        f"{class_names[t]} read as {class_names[p]} ({int(off[t, p])} {'time' if off[t, p] == 1 else 'times'})"
        for t, p in mistakes
    )
    return text + f"; the commonest mistakes: {listed}."


def _ink_for(rgba: Sequence[float]) -> str:
    # Black or white text, whichever stands out more from the cell's colour (WCAG relative luminance).
    def linear(c: float) -> float:
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    luminance = 0.2126 * linear(rgba[0]) + 0.7152 * linear(rgba[1]) + 0.0722 * linear(rgba[2])
    return "black" if (luminance + 0.05) / 0.05 >= 1.05 / (luminance + 0.05) else "white"


def plot_confusion(confusion: torch.Tensor, class_names: tuple[str, ...]) -> Figure:
    """The confusion matrix with counts in each cell: the diagonal in blue, the mistakes in orange on a scale of
    their own, so that a mistake made 5 times is as visible beside 900 right answers as it is in the numbers."""
    counts = confusion.cpu().numpy()
    size = len(class_names)
    diagonal = np.eye(size, dtype=bool)
    figure, ax = plt.subplots(figsize=(6.5, 5.8))
    blues, oranges = plt.get_cmap("Blues"), plt.get_cmap("Oranges")
    off_max = max(int(counts[~diagonal].max()) if size > 1 else 0, 1)
    diag_max = max(int(counts[diagonal].max()), 1)
    colours = np.ones((size, size, 4))
    for row in range(size):
        for column in range(size):
            count = int(counts[row, column])
            if row == column:
                colours[row, column] = blues(0.3 + 0.6 * count / diag_max)
            elif count:
                colours[row, column] = oranges(0.15 + 0.65 * count / off_max)
            if count:
                ink = _ink_for(colours[row, column])
                ax.text(column, row, str(count), ha="center", va="center", fontsize=8, color=ink)
    ax.imshow(colours)
    ax.set_xticks(range(size), class_names, rotation=45, ha="right")
    ax.set_yticks(range(size), class_names)
    ax.set(xlabel="predicted", ylabel="true")
    ax.set_title(f"right: diagonal, blue · mistakes: orange, darkest = {off_max}", fontsize=9)
    return _finish(figure, confusion_alt(confusion, class_names))


def _numbers(values: Sequence[float]) -> list[str]:
    # Whole numbers as such (counts); otherwise every value with one decimal, so that 96.0 reads like 96.4.
    if all(float(v).is_integer() for v in values):
        return [f"{int(v):,}" for v in values]
    return [f"{v:.1f}" for v in values]


def bars_alt(values: Sequence[float], class_names: Sequence[str], *, ylabel: str, title: str = "") -> str:
    """E.g. "Images per class: a bar chart of training images for each class, 0: 790, 1: 905, ...; highest 1 ..."."""
    values = [float(v) for v in values]
    shown = _numbers(values)
    listed = ", ".join(f"{name}: {text}" for name, text in zip(class_names, shown, strict=True))
    high, low = values.index(max(values)), values.index(min(values))
    head = f"{title}: a" if title else "A"
    return (
        f"{head} bar chart of {ylabel} for each class, {listed}; highest {class_names[high]} "
        f"({shown[high]}), lowest {class_names[low]} ({shown[low]})."
    )


def plot_bars(values: list[float], class_names: tuple[str, ...], *, ylabel: str, title: str = "") -> Figure:
    """One bar per class: class counts, per-class accuracy, or predicted probabilities."""
    figure, ax = plt.subplots(figsize=(6, 2.8))
    ax.bar(range(len(values)), [float(v) for v in values], color=BLUE)
    ax.set_xticks(range(len(class_names)), class_names, rotation=30 if len(class_names[0]) > 2 else 0)
    ax.set(ylabel=ylabel, title=title)
    return _finish(figure, bars_alt(values, class_names, ylabel=ylabel, title=title))


def probabilities_alt(
    probabilities: torch.Tensor, class_names: Sequence[str], *, label: int | None = None, title: str = ""
) -> str:
    """E.g. "test image 3: a 5, beside the network's probabilities: it reads 3 (52.1%), then 5 (45.0%)."."""
    values = torch.as_tensor(probabilities).tolist()
    head = f"{title}, beside" if title else "An image beside"
    if not any(values):
        return f"{head} the network's probability for each class: nothing to predict yet."
    order = sorted(range(len(values)), key=lambda i: -values[i])
    best, second = order[0], order[1]
    text = f"{head} the network's probability for each class: it reads {class_names[best]} ({values[best]:.1%})"
    if label is not None and label != best:
        return text + f", wrongly; the true class {class_names[label]} gets {values[label]:.1%}."
    return text + f", then {class_names[second]} ({values[second]:.1%})."


def plot_probabilities(
    image: torch.Tensor,
    probabilities: torch.Tensor,
    class_names: tuple[str, ...],
    *,
    label: int | None = None,
    title: str = "",
) -> Figure:
    """One image beside its class probabilities: the predicted class in blue, or vermillion if wrong, with the true
    one hatched in green; both bars are also named above them."""
    figure, (image_ax, bar_ax) = plt.subplots(1, 2, figsize=(7, 2.6), gridspec_kw={"width_ratios": [1, 2.6]})
    image_ax.imshow(image.reshape(28, 28).cpu().numpy(), cmap="gray_r")
    image_ax.axis("off")
    image_ax.set_title(title, fontsize=10)
    values = probabilities.tolist()
    predicted = values.index(max(values))
    bars = bar_ax.bar(range(len(values)), values, color=GREY)
    if any(values):
        marks = {predicted: "predicted"}
        if label is None or label == predicted:
            bars[predicted].set_color(BLUE)
        else:
            bars[predicted].set_color(VERMILLION)
            bars[label].set_color(GREEN)
            bars[label].set_hatch("//")
            marks[label] = "true"
        for index, word in marks.items():
            bar_ax.text(index, min(values[index], 0.85) + 0.04, word, ha="center", fontsize=7)
    bar_ax.set_xticks(range(len(class_names)), class_names, rotation=30 if len(class_names[0]) > 2 else 0)
    bar_ax.set(ylim=(0, 1), ylabel="probability")
    return _finish(figure, probabilities_alt(probabilities, class_names, label=label, title=title))


def steps_alt(steps: dict[str, torch.Tensor], labels: Sequence[str]) -> str:
    """E.g. "3 rows of the same 4 digits (7, 2, 1, 0), one per step: original, as drawn, prepared; ..."."""
    names = list(steps)
    first, last = (steps[name].float().reshape(len(labels), -1) for name in (names[0], names[-1]))
    differ = (first - last).abs().mean().item()
    return (
        f"{len(names)} rows of the same {len(labels)} digits ({', '.join(labels)}), one row per step: "
        f"{', '.join(names)}; the {names[-1]} row differs from the {names[0]} row by {differ:.1f} grey levels "
        "per pixel on average (of 255)."
    )


def plot_steps(steps: dict[str, torch.Tensor], labels: Sequence[str]) -> Figure:
    """The same digits at each step of a process (step name -> images at 28x28), one row per step."""
    images = torch.cat([torch.as_tensor(step).reshape(-1, 28, 28) for step in steps.values()])
    titles = [name for name, step in steps.items() for _ in range(len(step))]
    return plot_images(images, titles, columns=len(labels), alt=steps_alt(steps, labels))


def figure_png(figure: Figure, dpi: int = 100) -> bytes:
    """A figure as PNG bytes, its alt text (if any) in the PNG's Description, the key the PNG specification names."""
    text = getattr(figure, ALT, "")
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi, metadata={"Description": text} if text else {})
    return buffer.getvalue()


def save_figure(figure: Figure, path: str | os.PathLike) -> None:
    """Save `figure` as a PNG at `path`, atomically, with its alt text as the PNG's Description."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(figure_png(figure))
