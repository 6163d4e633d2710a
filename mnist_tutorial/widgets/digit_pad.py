"""The drawing pad: draw a digit with the mouse and watch the model's prediction change (05)."""

import time
from collections.abc import Sequence
from typing import Any

import ipywidgets as widgets
import torch
from ipycanvas import Canvas, hold_canvas

from ..deploy.drawing import CANVAS, PEN, digit_strokes, preprocess, rasterize, to_mnist_bytes
from ..evaluate import predict
from .display import Picture, ShownAsText, caption, class_names_or_numbers, show_verdict

SEEN = "what the network sees"


class DigitPad(ShownAsText, widgets.VBox):
    """A canvas to draw a digit on with the mouse or a finger; the prediction updates as you draw. Clear starts over.

    examples: 28x28 test images that a "Show me a test digit" button draws on the pad in turn: the way to a
    prediction with the keyboard alone. The drawing is prepared like MNIST (drawing.preprocess) and the 28x28
    image the network gets is shown beside it; the page of `mnist-tutorial export` draws with the same pen on the
    same canvas and the same specification, so both give the network the same 784 numbers for the same strokes.
    """

    SUMMARY = "Drawing pad"
    UPDATE_EVERY_S = 0.4  # while the pen moves, re-predict at most this often (each update takes ~0.1 s)
    size, pen = CANVAS, PEN  # the canvas's side and the pen's width, in pixels: the exported page's

    def __init__(
        self,
        model: torch.nn.Module,
        class_names: Sequence[str] | None = None,
        *,
        examples: torch.Tensor | None = None,
    ) -> None:
        self.model = model
        self.examples = examples if examples is not None and len(examples) else None
        self.shown_example = -1
        self.class_names = class_names_or_numbers(class_names, 10)
        self.strokes: list[list[tuple[float, float]]] = []  # each a list of points, in canvas pixels
        self.pen_is_down = False
        self.last_update = 0.0
        self.probabilities: torch.Tensor | None = None
        self.canvas = self._make_canvas()
        self.clear_button = widgets.Button(description="Clear", icon="eraser", tooltip="clear the drawing")
        self.clear_button.add_class("mnist-draw-clear")
        self.clear_button.on_click(self.clear)
        self.example_button = widgets.Button(
            description="Show me a test digit",
            icon="image",
            tooltip="draw the next test image on the pad, as if by hand",
            layout={"width": "auto", "display": None if self.examples is not None else "none"},
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
        self.canvas.stroke_line(*self.strokes[-1][-1], x, y)
        self.strokes[-1].append((x, y))
        if time.perf_counter() - self.last_update > self.UPDATE_EVERY_S:
            self.update()

    def pen_up(self, x: float | None = None, y: float | None = None) -> None:
        """End the stroke (mouse up, or the mouse leaving the canvas) and predict."""
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
                self.canvas.fill_circle(*stroke[0], self.pen / 2)
                if len(stroke) > 1:
                    self.canvas.stroke_lines(stroke)

    def clear(self, _button: Any = None) -> None:
        self.strokes, self.pen_is_down, self.probabilities = [], False, None
        self.redraw()
        keyboard = ", or press Show me a test digit" if self.examples is not None else ""
        self.prediction.value = f"Draw a digit in the box (hold the mouse button down){keyboard}."
        show_verdict(self.verdict, self.class_names, title=SEEN)

    def show_example(self, _button: Any = None) -> torch.Tensor | None:
        """Draw the next of `examples` on the pad, one dot per inked pixel, and predict; returns the probabilities."""
        if self.examples is None:
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
        show_verdict(self.verdict, self.class_names, to_mnist_bytes(ink), self.probabilities, title=SEEN)
        return self.probabilities


draw_digit = DigitPad  # the name notebook 05 calls
