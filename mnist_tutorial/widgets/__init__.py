"""JupyterLab views: a prediction explorer (04), a training playground and a drawing pad (05); live_plot for fit().

Each is an ipywidgets container that only gathers input and shows what the package computes; its methods can be
called from code too (that is how the tests drive them): `explorer.show_next_mistake()`, `form.train()`.
"""

from .digit_pad import DigitPad, draw_digit
from .explorer import PredictionExplorer, prediction_explorer
from .playground import Playground, playground

__all__ = ["DigitPad", "Playground", "PredictionExplorer", "draw_digit", "playground", "prediction_explorer"]
