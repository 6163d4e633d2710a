"""What the widgets share: a figure shown with its alt text, the verdict picture, the caption, a text stand-in."""

import base64
import html
from collections.abc import Sequence
from typing import Any

import ipywidgets as widgets
import numpy as np
import torch
from matplotlib.figure import Figure

from ..plots import alt_text, figure_png, plot_probabilities

BLANK = np.zeros((28, 28), dtype=np.uint8)


class Picture(widgets.HTML):
    """A figure as an <img> with its sentence as alt text, which a screen reader reads out.

    Not an ipywidgets.Image: it has no alt attribute, and a tooltip on it stops its view from drawing in JupyterLab.
    """

    png, alt = b"", ""

    def show(self, figure: Figure, *, dpi: int = 100) -> None:
        self.png, self.alt = figure_png(figure, dpi=dpi), alt_text(figure)
        data = base64.b64encode(self.png).decode("ascii")
        self.value = f'<img src="data:image/png;base64,{data}" alt="{html.escape(self.alt)}">'


def show_verdict(
    picture: Picture,
    class_names: Sequence[str],
    image: torch.Tensor | np.ndarray = BLANK,
    probabilities: torch.Tensor | None = None,
    *,
    label: int | None = None,
    title: str = "",
) -> None:
    """Show plots.plot_probabilities (the image beside its class probabilities; blank by default) in `picture`."""
    if probabilities is None:
        probabilities = torch.zeros(len(class_names))
    image, probabilities = torch.as_tensor(np.asarray(image)), torch.as_tensor(probabilities)
    figure = plot_probabilities(image, probabilities, tuple(class_names), label=label, title=title)
    figure.axes[0].axis("on")  # a frame shows the 28x28 the network gets
    figure.axes[0].set(xticks=[], yticks=[])
    picture.show(figure, dpi=80)


def caption(true_name: str | None, predicted_name: str, confidence: float, prefix: str = "") -> str:
    """'true: 7 · predicted: 7 (98.1%): right', in red and "wrong" when it is; without a true name, the prediction."""
    predicted = f"predicted: <b>{predicted_name}</b> ({confidence:.1%})"
    if true_name is None:
        return f"{prefix}{predicted}"
    color, verdict = ("black", "right") if true_name == predicted_name else ("#c00", "wrong")  # not colour alone
    return f'<span style="color:{color}">{prefix}true: <b>{true_name}</b> · {predicted}: {verdict}</span>'


def class_names_or_numbers(names: Sequence[str] | None, count: int) -> tuple[str, ...]:
    return tuple(names) if names is not None else tuple(str(index) for index in range(count))


class ShownAsText:
    """Mixin: where a front end cannot draw the widget (GitHub, a notebook not run yet), name it and what to do."""

    SUMMARY = "an interactive widget"

    def _repr_mimebundle_(self, **kwargs: Any) -> dict:
        bundle = super()._repr_mimebundle_(**kwargs)
        bundle["text/plain"] = f"[{self.SUMMARY}: run this cell in JupyterLab to use it]"
        return bundle
