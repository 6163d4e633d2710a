"""live_plot: one loss figure, redrawn in place after every epoch (a widget, a notebook output, or kept)."""

from unittest import mock

from helpers import history_of

from mnist_tutorial.widgets import live_plot
from mnist_tutorial.widgets.display import Picture
from mnist_tutorial.widgets.live_plot import LivePlot


def test_live_plot_draws_into_a_picture_with_its_sentence() -> None:
    image = Picture()
    plot = LivePlot(image)
    plot(history_of(1))
    first = image.png
    plot(history_of(2))
    assert first.startswith(b"\x89PNG") and image.png != first
    assert image.alt.startswith("Training loss") and f'alt="{image.alt}"' in image.value


def test_live_plot_updates_one_display_in_a_notebook_and_only_keeps_the_figure_elsewhere(monkeypatch, capsys) -> None:
    outside = LivePlot()
    outside(history_of(2))
    assert outside.figure is not None and outside.handle is None and capsys.readouterr().out == ""
    monkeypatch.setattr(live_plot, "in_notebook", lambda: True)
    handle = mock.Mock()
    with mock.patch("IPython.display.display", return_value=handle) as display:
        plot = LivePlot()
        for epochs in (1, 2, 3):
            plot(history_of(epochs))
    display.assert_called_once()
    assert display.call_args.kwargs["display_id"] is True
    assert handle.update.call_count == 2 and handle.update.call_args.args[0] is plot.figure
    # each display carries the figure's sentence as its alt text, updated with the figure
    assert display.call_args.kwargs["metadata"]["image/png"]["alt"].startswith("After 1 epoch")
    assert "over 3 epochs" in handle.update.call_args.kwargs["metadata"]["image/png"]["alt"]
