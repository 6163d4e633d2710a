"""What the widgets share: the verdict picture, the caption, default class names, a plain-text stand-in."""

import base64
import html
from collections.abc import Sequence
from typing import Any

import ipywidgets as widgets
import numpy as np
import torch

from ..plots import alt_text, figure_png, plot_probabilities

BLANK = np.zeros((28, 28), dtype=np.uint8)


def verdict_png(
    image: torch.Tensor | np.ndarray,
    probabilities: torch.Tensor,
    class_names: Sequence[str],
    *,
    label: int | None = None,
    title: str = "",
) -> tuple[bytes, str]:
    """plots.plot_probabilities (the image beside its class probabilities) as PNG bytes for a widget, and its alt."""
    figure = plot_probabilities(
        torch.as_tensor(np.asarray(image)), torch.as_tensor(probabilities), tuple(class_names), label=label, title=title
    )
    image_axes = figure.axes[0]
    image_axes.axis("on")  # a frame shows the 28x28 the network gets
    image_axes.set_xticks([])
    image_axes.set_yticks([])
    return figure_png(figure, dpi=80), alt_text(figure)


class Picture(widgets.HTML):
    """A PNG shown as an <img> with its alt text, which a screen reader reads out.

    Not an ipywidgets.Image: it has no alt attribute, and a tooltip (the title a reader would fall back on)
    stops its view from drawing at all in JupyterLab ("Cannot read properties of undefined (reading 'length')"
    in updateTooltip: only widgets with a description may have a tooltip).
    """

    def __init__(self, png: bytes = b"", alt: str = "", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.show(png, alt)

    def show(self, png: bytes, alt: str) -> None:
        """Display `png` with the sentence `alt`."""
        self.png, self.alt = bytes(png), alt
        if png:
            data = base64.b64encode(self.png).decode("ascii")
            self.value = f'<img src="data:image/png;base64,{data}" alt="{html.escape(alt)}">'


def blank_verdict_png(class_names: Sequence[str], *, title: str = "") -> tuple[bytes, str]:
    """The verdict picture with nothing to show yet (an empty image, every probability zero), and its alt."""
    return verdict_png(BLANK, torch.zeros(len(class_names)), class_names, title=title)


def caption(true_name: str | None, predicted_name: str, confidence: float, prefix: str = "") -> str:
    """'true: 7 · predicted: 7 (98.1%): right', in red and "wrong" when it is; without a true name, the prediction."""
    predicted = f"predicted: <b>{predicted_name}</b> ({confidence:.1%})"
    if true_name is None:
        return f"{prefix}{predicted}"
    right = true_name == predicted_name
    color, verdict = ("black", "right") if right else ("#c00", "wrong")  # the word too: not colour alone
    return f'<span style="color:{color}">{prefix}true: <b>{true_name}</b> · {predicted}: {verdict}</span>'


def class_names_or_numbers(names: Sequence[str] | None, count: int) -> tuple[str, ...]:
    """The given class names, or "0", "1", … for `count` classes."""
    return tuple(names) if names is not None else tuple(str(index) for index in range(count))


class ShownAsText:
    """Mixin: the plain-text stand-in a front end shows where it cannot draw the widget.

    That is a static page (GitHub, nbviewer), a notebook not yet run in this session, or a terminal. The
    default would be the widget's repr, a wall of trait values; this names the widget and what to do.
    """

    SUMMARY = "an interactive widget"

    def _repr_mimebundle_(self, **kwargs: Any) -> dict:
        bundle = super()._repr_mimebundle_(**kwargs)
        bundle["text/plain"] = f"[{self.SUMMARY}: run this cell in JupyterLab to use it]"
        return bundle
