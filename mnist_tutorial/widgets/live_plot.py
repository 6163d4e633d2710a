"""A loss plot that redraws in place after every epoch, in a notebook cell or in a widget."""

from typing import TYPE_CHECKING, Any

from ..plots import alt_metadata, alt_text, plot_loss
from ..progress import in_notebook

if TYPE_CHECKING:
    from ..history import History


class LivePlot:
    """A fit() callback (callbacks=[LivePlot()]): one loss figure, redrawn after every epoch.

    It replaces one output of the running cell through a display handle, or draws into `image`, a
    widgets.display.Picture (button callbacks have no cell to write to). Outside a notebook it keeps `.figure`.
    """

    def __init__(self, image: Any = None) -> None:
        self.image, self.handle, self.figure = image, None, None

    def __call__(self, history: "History") -> None:
        self.figure = plot_loss(history)
        if self.image is not None:
            self.image.show(self.figure)
        elif in_notebook():
            from IPython.display import display

            metadata = alt_metadata(alt_text(self.figure))  # the sentence a screen reader reads for it
            if self.handle is None:
                self.handle = display(self.figure, display_id=True, metadata=metadata)
            else:
                self.handle.update(self.figure, metadata=metadata)
