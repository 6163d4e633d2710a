"""Interactive views for JupyterLab: a prediction explorer, a training playground and a drawing pad.

Each is an ipywidgets container: display it by leaving it as the last line of a cell. The logic they
run is the package's own (fit, make_loaders, NeuralNetwork, predict, plots, drawing.preprocess); the
widgets only gather input and show results. Their methods can be called directly too (that is how the
tests drive them), e.g. `explorer.show_next_mistake()`, `form.train()`, `pad.pen_down(x, y)`.

One module per widget (explorer, playground, digit_pad), the pieces they share in common, and the
playground's helpers for training in a thread of its own in training_thread.
"""

from .digit_pad import DigitPad, draw_digit
from .explorer import PredictionExplorer, prediction_explorer
from .playground import Playground, playground
from .training_thread import LinesOfThread, lines_to

__all__ = [
    "DigitPad",
    "LinesOfThread",
    "Playground",
    "PredictionExplorer",
    "draw_digit",
    "lines_to",
    "playground",
    "prediction_explorer",
]
