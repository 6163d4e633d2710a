"""The drawing pad: draw a digit with the mouse and watch the model's prediction change."""

import time
from collections.abc import Sequence
from typing import Any

import ipywidgets as widgets
import torch
from ipycanvas import Canvas, hold_canvas

from ..deploy.drawing import digit_strokes, preprocess, rasterize, to_mnist_bytes
from ..evaluate import predict
from .display import Picture, ShownAsText, blank_verdict_png, caption, class_names_or_numbers, verdict_png

SEEN = "what the network sees"


class DigitPad(ShownAsText, widgets.VBox):
    """A canvas to draw a digit on with the mouse, a finger or (through a test digit) the keyboard; see `draw_digit`."""

    SUMMARY = "Drawing pad"
    UPDATE_EVERY_S = 0.4  # while the pen moves, re-predict at most this often (each update takes ~0.1 s)

    def __init__(
        self,
        model: torch.nn.Module,
        class_names: Sequence[str] | None = None,
        *,
        examples: torch.Tensor | None = None,
        size: int = 280,
        pen: int = 18,
    ) -> None:
        self.model = model
        self.examples = examples  # 28x28 images that "Show me a test digit" draws, in turn
        self.shown_example = -1
        self.class_names = class_names_or_numbers(class_names, 10)
        self.size = size
        self.pen = pen
        self.strokes: list[list[tuple[float, float]]] = []  # each a list of points, in canvas pixels
        self.pen_is_down = False
        self.last_update = 0.0
        self.probabilities: torch.Tensor | None = None

        self.canvas = self._make_canvas()
        self.clear_button = widgets.Button(description="Clear", icon="eraser", tooltip="clear the drawing")
        self.clear_button.add_class("mnist-draw-clear")
        self.clear_button.on_click(self.clear)
        # Without a mouse or a finger, this is the way to a prediction: Tab to it, then Enter or Space.
        self.example_button = widgets.Button(
            description="Show me a test digit",
            icon="image",
            tooltip="draw the next test image on the pad, as if by hand",
            layout={"width": "auto", "display": None if examples is not None and len(examples) else "none"},
        )
        self.example_button.add_class("mnist-draw-example")
        self.example_button.on_click(self.show_example)
        self.prediction = widgets.HTML()
        self.prediction.add_class("mnist-draw-prediction")
        self.verdict = Picture()  # what the network is given, and what it makes of it
        super().__init__(
            [
                widgets.HBox([self.canvas, self.verdict], layout={"align_items": "center"}),
                widgets.HBox([self.clear_button, self.example_button, self.prediction]),
            ]
        )
        self.add_class("mnist-draw")
        self.clear()

    def _make_canvas(self) -> Canvas:
        canvas = Canvas(width=self.size, height=self.size)
        canvas.layout.border = "2px solid #888"
        canvas.layout.width = canvas.layout.height = f"{self.size}px"
        canvas.add_class("mnist-draw-canvas")
        canvas.line_width = self.pen
        canvas.line_cap = canvas.line_join = "round"
        canvas.stroke_style = "black"
        canvas.on_mouse_down(self.pen_down)
        canvas.on_mouse_move(self.pen_move)
        canvas.on_mouse_up(self.pen_up)
        canvas.on_mouse_out(self.pen_up)
        canvas.on_touch_start(lambda touches: self.pen_down(*touches[0]))
        canvas.on_touch_move(lambda touches: self.pen_move(*touches[0]))
        canvas.on_touch_end(lambda touches: self.pen_up())
        canvas.on_client_ready(self.redraw)  # the canvas keeps no drawing of its own: repaint each new view
        return canvas

    def pen_down(self, x: float, y: float) -> None:
        self.pen_is_down = True
        self.strokes.append([(x, y)])
        self.canvas.fill_style = "black"
        self.canvas.fill_circle(x, y, self.pen / 2)

    def pen_move(self, x: float, y: float) -> None:
        if not self.pen_is_down:
            return
        x0, y0 = self.strokes[-1][-1]
        self.strokes[-1].append((x, y))
        self.canvas.stroke_line(x0, y0, x, y)
        if time.perf_counter() - self.last_update > self.UPDATE_EVERY_S:
            self.update()

    def pen_up(self, x: float | None = None, y: float | None = None) -> None:
        """End the stroke (mouse up, or the mouse leaving the canvas) and predict; x, y are not needed."""
        if self.pen_is_down:
            self.pen_is_down = False
            self.update()

    def redraw(self) -> None:
        """Paint the white page and every stroke so far."""
        with hold_canvas():
            self.canvas.clear()
            self.canvas.fill_style = "white"
            self.canvas.fill_rect(0, 0, self.size, self.size)
            self.canvas.fill_style = "black"
            for stroke in self.strokes:
                self.canvas.fill_circle(stroke[0][0], stroke[0][1], self.pen / 2)
                if len(stroke) > 1:
                    self.canvas.stroke_lines(stroke)

    def clear(self, _button: Any = None) -> None:
        self.strokes = []
        self.pen_is_down = False
        self.probabilities = None
        self.redraw()
        keyboard = ", or press Show me a test digit" if self.examples is not None and len(self.examples) else ""
        self.prediction.value = f"Draw a digit in the box (hold the mouse button down){keyboard}."
        self.verdict.show(*blank_verdict_png(self.class_names, title=SEEN))

    def show_example(self, _button: Any = None) -> torch.Tensor | None:
        """Draw the next of `examples` on the pad, one dot per inked pixel, and predict; returns the probabilities."""
        if self.examples is None or not len(self.examples):
            return None
        self.shown_example = (self.shown_example + 1) % len(self.examples)
        self.strokes = digit_strokes(self.examples[self.shown_example], size=self.size)
        self.pen_is_down = False
        self.redraw()
        return self.update()

    def update(self) -> torch.Tensor | None:
        """Preprocess the drawing like MNIST, predict, and show the result; returns the probabilities."""
        self.last_update = time.perf_counter()
        ink = rasterize(self.strokes, size=self.size, width=self.pen)
        if not ink.any():
            return None
        device = next(self.model.parameters()).device
        no_label = torch.zeros(1, dtype=torch.long)  # predict() takes (inputs, labels) batches
        probabilities, _ = predict(self.model, [(preprocess(ink), no_label)], device=device)
        self.probabilities = probabilities[0]
        confidence, predicted = self.probabilities.max(dim=0)
        self.prediction.value = caption(None, self.class_names[int(predicted)], float(confidence))
        self.verdict.show(*verdict_png(to_mnist_bytes(ink), self.probabilities, self.class_names, title=SEEN))
        return self.probabilities


def draw_digit(
    model: torch.nn.Module, class_names: Sequence[str] | None = None, *, examples: torch.Tensor | None = None
) -> DigitPad:
    """A canvas to draw a digit with the mouse; the prediction updates as you draw. Clear starts over.

    examples: 28x28 test images; a "Show me a test digit" button then draws them on the pad in turn, which is
    the way to a prediction with the keyboard alone.

    The drawing is prepared like MNIST (drawing.preprocess) before the model sees it; the 28x28 image
    it gets is shown beside the canvas. The page that `mnist-tutorial export` writes draws with the same pen
    on the same 280x280 canvas and prepares strokes by the same specification, so both give the network
    the same 784 numbers for the same strokes.
    """
    return DigitPad(model, class_names, examples=examples)
