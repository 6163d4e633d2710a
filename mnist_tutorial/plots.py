"""Figures for the course. Each function returns a matplotlib Figure and never shows it itself."""

import io
import os
from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
import torch
from matplotlib.figure import Figure

from .files import atomic_path

if TYPE_CHECKING:
    from .history import History


def _finish(figure: Figure) -> Figure:
    # Close the pyplot handle so a notebook shows the figure once: when the cell returns it.
    figure.tight_layout()
    plt.close(figure)
    return figure


def plot_loss(history: "History") -> Figure:
    """Training and test loss per epoch, with test accuracy on a second axis."""
    figure, ax = plt.subplots(figsize=(6, 3.5))
    epochs = range(1, history.epochs + 1)
    ax.plot(epochs, history.train_loss, "o-", label="train loss")
    ax.plot(epochs, history.test_loss, "s--", label="test loss")
    ax.set_xlabel("epoch")
    ax.set_ylabel("cross-entropy loss")
    ax.set_xlim(0.5, max(history.epochs, 1) + 0.5)
    accuracy_axis = ax.twinx()
    accuracy_axis.plot(epochs, [100 * a for a in history.test_accuracy], "g:", label="test accuracy")
    accuracy_axis.set_ylabel("test accuracy (%)", color="g")
    lines = ax.get_lines() + accuracy_axis.get_lines()
    ax.legend(lines, [line.get_label() for line in lines], loc="center right")
    return _finish(figure)


def plot_images(
    images: torch.Tensor,
    titles: list[str],
    *,
    wrong: list[bool] | None = None,
    columns: int = 8,
) -> Figure:
    """A grid of 28x28 images (uint8 or normalised) with a title each; titles of `wrong` ones in red."""
    rows = -(-len(images) // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(1.3 * columns, 1.5 * rows), squeeze=False)
    for index, ax in enumerate(axes.flat):
        ax.axis("off")
        if index < len(images):
            ax.imshow(images[index].reshape(28, 28).cpu().numpy(), cmap="gray_r")
            is_wrong = bool(wrong and wrong[index])
            ax.set_title(titles[index], fontsize=9, color="red" if is_wrong else "black")
    return _finish(figure)


def plot_predictions(
    images: torch.Tensor,
    labels: torch.Tensor,
    predictions: torch.Tensor,
    class_names: tuple[str, ...],
    columns: int = 8,
) -> Figure:
    """Images titled "predicted (true)"; mistakes in red."""
    titles, wrong = [], []
    for label, prediction in zip(labels.tolist(), predictions.tolist(), strict=True):
        wrong.append(label != prediction)
        mark = f" ({class_names[label]})" if label != prediction else ""
        titles.append(f"{class_names[prediction]}{mark}")
    return plot_images(images, titles, wrong=wrong, columns=columns)


def plot_confusion(confusion: torch.Tensor, class_names: tuple[str, ...]) -> Figure:
    """The confusion matrix as a heat map with counts written in each cell."""
    figure, ax = plt.subplots(figsize=(6.5, 5.5))
    ax.imshow(confusion.cpu().numpy(), cmap="Blues")
    ticks = range(len(class_names))
    ax.set_xticks(ticks, class_names, rotation=45, ha="right")
    ax.set_yticks(ticks, class_names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    threshold = confusion.max().item() / 2
    for (row, column), count in zip(
        torch.cartesian_prod(torch.arange(len(ticks)), torch.arange(len(ticks))).tolist(),
        confusion.flatten().tolist(),
        strict=True,
    ):
        if count:
            color = "white" if count > threshold else "black"
            ax.text(column, row, str(count), ha="center", va="center", fontsize=8, color=color)
    return _finish(figure)


def plot_bars(values: list[float], class_names: tuple[str, ...], *, ylabel: str, title: str = "") -> Figure:
    """One bar per class: class counts, per-class accuracy, or predicted probabilities."""
    figure, ax = plt.subplots(figsize=(6, 2.8))
    ax.bar(range(len(values)), [float(v) for v in values], color="tab:blue")
    ax.set_xticks(range(len(class_names)), class_names, rotation=30 if len(class_names[0]) > 2 else 0)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    return _finish(figure)


def plot_probabilities(
    image: torch.Tensor,
    probabilities: torch.Tensor,
    class_names: tuple[str, ...],
    *,
    label: int | None = None,
    title: str = "",
) -> Figure:
    """One image beside its class probabilities: the predicted class in blue, or red if wrong; the true one in green."""
    figure, (image_ax, bar_ax) = plt.subplots(1, 2, figsize=(7, 2.6), gridspec_kw={"width_ratios": [1, 2.6]})
    image_ax.imshow(image.reshape(28, 28).cpu().numpy(), cmap="gray_r")
    image_ax.axis("off")
    image_ax.set_title(title, fontsize=10)
    values = probabilities.tolist()
    predicted = values.index(max(values))
    colors = ["tab:gray"] * len(values)
    if label is None or label == predicted:
        colors[predicted] = "tab:blue"
    else:
        colors[predicted], colors[label] = "tab:red", "tab:green"
    bar_ax.bar(range(len(values)), values, color=colors)
    bar_ax.set_xticks(range(len(class_names)), class_names, rotation=30 if len(class_names[0]) > 2 else 0)
    bar_ax.set_ylim(0, 1)
    bar_ax.set_ylabel("probability")
    return _finish(figure)


def figure_png(figure: Figure, dpi: int = 100) -> bytes:
    """A figure as PNG bytes (for an ipywidgets.Image)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def save_figure(figure: Figure, path: str | os.PathLike) -> None:
    """Save `figure` as a PNG at `path`, atomically."""
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", dpi=100)
