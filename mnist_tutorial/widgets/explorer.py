"""The prediction explorer: step through test images with the model's verdict on each (04)."""

from collections.abc import Sequence
from typing import Any

import ipywidgets as widgets
import torch

from .display import Picture, ShownAsText, caption, class_names_or_numbers, show_verdict


class PredictionExplorer(ShownAsText, widgets.VBox):
    """Browse predictions: a slider, a "next mistake" button, a filter by true class.

    images: (N, 28, 28) uint8 or (N, 1, 28, 28) normalised; labels: (N,) true classes; probabilities:
    (N, classes), e.g. from `evaluate.predict`. Shows "true: 7 · predicted: 7 (98.1%)" and the probabilities.
    """

    SUMMARY = "Prediction explorer"

    def __init__(
        self,
        images: torch.Tensor,
        labels: torch.Tensor,
        probabilities: torch.Tensor,
        class_names: Sequence[str] | None = None,
    ) -> None:
        self.images = torch.as_tensor(images)
        self.labels = torch.as_tensor(labels).long().flatten()
        self.probabilities = torch.as_tensor(probabilities).float()
        if not (len(self.images) == len(self.labels) == len(self.probabilities)) or len(self.labels) == 0:
            raise ValueError(
                f"need as many images, labels and probability rows, at least one: got {len(self.images)}, "
                f"{len(self.labels)} and {len(self.probabilities)}"
            )
        self.class_names = class_names_or_numbers(class_names, self.probabilities.shape[1])
        self.confidence, self.predictions = self.probabilities.max(dim=1)
        self.shown = torch.arange(len(self.labels))  # indices of the images the filter lets through
        classes = [(f"true class {name}", i) for i, name in enumerate(self.class_names)]
        self.filter = widgets.Dropdown(
            options=[("all classes", -1), *classes], description="show", tooltip="which test images to step through"
        )
        self.slider = widgets.IntSlider(
            max=len(self.labels) - 1, description="image", tooltip="image to show (arrow keys step)"
        )
        self.next_button = widgets.Button(description="next mistake", icon="forward", tooltip="next wrong prediction")
        self.next_button.add_class("mnist-next-mistake")
        self.caption, self.note = widgets.HTML(), widgets.HTML()
        self.caption.add_class("mnist-explorer-label")  # the browser test reads the label here
        self.picture = Picture(layout={"align_self": "flex-start"})  # at its own size
        self.filter.observe(self._on_filter, names="value")
        self.slider.observe(self._on_slider, names="value")
        self.next_button.on_click(self.show_next_mistake)
        controls = widgets.HBox([self.filter, self.slider, self.next_button])
        super().__init__([controls, self.caption, self.picture, self.note])
        self.add_class("mnist-explorer")
        self.render()

    @property
    def index(self) -> int | None:
        """The dataset index of the image on show (None when the filter lets nothing through)."""
        return int(self.shown[self.slider.value]) if len(self.shown) else None

    def wrong_among_shown(self) -> torch.Tensor:
        return self.predictions[self.shown] != self.labels[self.shown]

    def render(self) -> None:
        index = self.index
        if index is None:
            show_verdict(self.picture, self.class_names)
            self.caption.value, self.note.value = "<i>no images of this class</i>", ""
            return
        label, predicted = int(self.labels[index]), int(self.predictions[index])
        names, confidence = self.class_names, float(self.confidence[index])
        image, probabilities = self.images[index], self.probabilities[index]
        show_verdict(self.picture, names, image, probabilities, label=label, title=f"#{index}")
        mistakes = int(self.wrong_among_shown().sum())
        self.note.value = (
            f"image {self.slider.value + 1} of {len(self.shown)} shown; "
            f"{mistakes} of them ({mistakes / len(self.shown):.1%}) predicted wrongly"
        )
        self.caption.value = caption(names[label], names[predicted], confidence, prefix=f"test image #{index}: ")

    def show_next_mistake(self, _button: Any = None) -> int | None:
        """Move to the next wrongly predicted image of the selection (wrapping round); its dataset index."""
        wrong = self.wrong_among_shown().nonzero().flatten().tolist()
        if not wrong:
            self.note.value = "no mistakes among these images"
            return None
        position = next((p for p in wrong if p > self.slider.value), wrong[0])
        if position == self.slider.value:
            self.render()  # the only mistake is already on show: the slider will not move, so redraw here
        self.slider.value = position
        return self.index

    def _on_filter(self, change: dict) -> None:
        chosen = change["new"]
        self.shown = torch.arange(len(self.labels)) if chosen == -1 else (self.labels == chosen).nonzero().flatten()
        self.slider.unobserve(self._on_slider, names="value")  # one render once the slider is set, not two
        try:
            self.slider.value = 0
            self.slider.max = max(len(self.shown) - 1, 0)
            self.slider.disabled = len(self.shown) == 0
        finally:
            self.slider.observe(self._on_slider, names="value")
        self.render()

    def _on_slider(self, _change: dict) -> None:
        self.render()


prediction_explorer = PredictionExplorer  # the name notebook 04 calls
