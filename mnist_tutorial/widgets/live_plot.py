"""A loss plot that redraws in place after every epoch, in a notebook cell or in a widget."""

from typing import TYPE_CHECKING, Any

from ..plots import alt_metadata, alt_text, figure_png, plot_loss
from ..progress import in_notebook

if TYPE_CHECKING:
    from ..history import History


class LivePlot:
    """A loss plot that redraws in place after every epoch: pass it to fit(callbacks=[...]).

    By default it is one output of the running cell, replaced through a display handle (so a notebook
    shows one figure, not one per epoch). Give it a widgets.display.Picture to draw into that instead: widgets
    update from button callbacks too, where a display handle has no cell to write to. Outside a notebook
    it only keeps the latest figure (in `.figure`).
    """

    def __init__(self, image: Any = None) -> None:
        self.image = image
        self.handle: Any = None
        self.figure: Any = None

    def __call__(self, history: "History") -> None:
        self.figure = plot_loss(history)
        if self.image is not None:
            self.image.show(figure_png(self.figure), alt_text(self.figure))
        elif in_notebook():
            from IPython.display import display

            metadata = alt_metadata(alt_text(self.figure))  # the sentence a screen reader reads for it
            if self.handle is None:
                self.handle = display(self.figure, display_id=True, metadata=metadata)
            else:
                self.handle.update(self.figure, metadata=metadata)
