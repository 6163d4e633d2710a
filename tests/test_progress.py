"""progress: bars or plain lines, chosen by argument, environment or surroundings; bars always closed."""

import pytest
import torch
from helpers import history_of
from tqdm import tqdm

from mnist_tutorial import progress
from mnist_tutorial.defaults import PROGRESS_ENV
from mnist_tutorial.progress import Progress, bars_wanted, in_notebook

LINE = "Epoch 1/2: train loss 1.000, test loss 1.100, test accuracy 50.00% (0.2 s)\n"


@pytest.fixture(autouse=True)
def no_setting_and_no_bars_left(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv(PROGRESS_ENV, raising=False)
    yield
    assert not list(tqdm._instances), "a progress bar was left open"


def test_pytest_is_not_a_notebook() -> None:
    assert not in_notebook()


@pytest.mark.parametrize(
    "enabled, setting, notebook, bars",
    [
        (None, None, False, False),  # a terminal or a script
        (None, None, True, True),  # a notebook
        (None, "text", True, False),  # nbconvert and nbval runs
        (None, "none", True, False),
        (None, "bar", False, True),
        (None, "auto", False, False),
        (None, "nonsense", True, True),  # as auto
        (True, "text", False, True),  # an explicit choice wins
        (False, "bar", True, False),
    ],
)
def test_bars_are_chosen_by_argument_then_environment_then_surroundings(monkeypatch, enabled, setting, notebook, bars):
    if setting:
        monkeypatch.setenv(PROGRESS_ENV, setting)
    monkeypatch.setattr(progress, "in_notebook", lambda: notebook)
    assert bars_wanted(enabled) is bars


@pytest.mark.parametrize("enabled, setting, printed", [(False, None, LINE), (None, "text", LINE), (None, "none", "")])
def test_without_bars_an_epoch_is_one_plain_line_or_nothing(monkeypatch, capsys, enabled, setting, printed) -> None:
    if setting:
        monkeypatch.setenv(PROGRESS_ENV, setting)
    with Progress(enabled=enabled, num_epochs=2) as bars:
        loader = [1, 2, 3]
        assert bars.batches(loader, epoch=1) is loader  # untouched: a custom train_epoch may take its len()
        bars.epoch_done(history_of(1))
    assert capsys.readouterr() == (printed, "")


def test_bars_count_batches_and_epochs_on_one_batch_bar_and_are_closed(capsys) -> None:
    seen = []
    with Progress(enabled=True, num_epochs=2) as bars:
        for epoch in (1, 2):
            assert len(list(bars.batches([(torch.rand(4, 1, 28, 28), torch.arange(4))] * 5, epoch=epoch))) == 5
            assert bars.batch_bar.n == bars.batch_bar.total == 5 and bars.batch_bar.desc.startswith(f"epoch {epoch}")
            seen.append(bars.batch_bar)
            bars.epoch_done(history_of(epoch))
        assert seen[0] is seen[1] and bars.epoch_bar.n == 2  # one batch bar, reset each epoch
    assert bars.batch_bar is None and bars.epoch_bar is None and seen[0].disable  # closed
    out = capsys.readouterr()
    assert "Epoch 2/2: train loss 0.500" in out.out and "epochs: 100%" in out.err  # lines come above the bars
