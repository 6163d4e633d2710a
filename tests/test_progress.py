"""progress: bars or plain lines, chosen by argument, environment or surroundings; bars always closed."""

import pytest
import torch
from helpers import history_of
from tqdm import tqdm

from mnist_tutorial import NeuralNetwork, fit, progress
from mnist_tutorial.defaults import PROGRESS_ENV
from mnist_tutorial.progress import Progress, bars_wanted, in_notebook


def batches(count: int, *, interrupt_at: int | None = None):
    """A loader of `count` small batches; raises KeyboardInterrupt (a stop button) before batch `interrupt_at`."""

    class Loader:
        def __len__(self) -> int:
            return count

        def __iter__(self):
            generator = torch.Generator().manual_seed(0)
            for index in range(count):
                if index == interrupt_at:
                    raise KeyboardInterrupt
                yield torch.rand(4, 1, 28, 28, generator=generator), torch.arange(4)

    return Loader()


@pytest.fixture(autouse=True)
def no_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(PROGRESS_ENV, raising=False)


@pytest.fixture(autouse=True)
def no_bars_left() -> None:
    yield
    assert not list(tqdm._instances), "a progress bar was left open"


def test_outside_a_notebook_there_are_no_bars() -> None:
    assert not in_notebook()
    assert bars_wanted(None) is False


@pytest.mark.parametrize(
    ("setting", "expected"), [("bar", True), ("text", False), ("none", False), ("auto", False), ("nonsense", False)]
)
def test_the_environment_decides_when_not_told(monkeypatch, setting: str, expected: bool) -> None:
    monkeypatch.setenv(PROGRESS_ENV, setting)
    assert bars_wanted(None) is expected


def test_in_a_notebook_bars_are_the_default(monkeypatch) -> None:
    monkeypatch.setattr(progress, "in_notebook", lambda: True)
    assert bars_wanted(None) is True
    monkeypatch.setenv(PROGRESS_ENV, "text")  # nbconvert / nbval runs
    assert bars_wanted(None) is False


def test_an_explicit_choice_wins(monkeypatch) -> None:
    monkeypatch.setenv(PROGRESS_ENV, "text")
    assert bars_wanted(True) is True
    monkeypatch.setenv(PROGRESS_ENV, "bar")
    assert bars_wanted(False) is False


def test_text_mode_prints_one_line_per_epoch(capsys) -> None:
    with Progress(enabled=False, num_epochs=2) as bars:
        assert list(bars.batches([1, 2, 3], epoch=1)) == [1, 2, 3]
        bars.epoch_done(history_of(1))
    out = capsys.readouterr()
    assert out.out == "Epoch 1/2: train loss 1.000, test loss 1.100, test accuracy 50.00% (0.2 s)\n"
    assert out.err == ""


def test_none_is_quiet(monkeypatch, capsys) -> None:
    monkeypatch.setenv(PROGRESS_ENV, "none")
    with Progress(enabled=None, num_epochs=1) as bars:
        bars.epoch_done(history_of(1))
    assert capsys.readouterr().out == ""


def test_bars_count_batches_and_epochs_and_are_closed(capsys) -> None:
    with Progress(enabled=True, num_epochs=2) as bars:
        for epoch in (1, 2):
            assert len(list(bars.batches(batches(5), epoch=epoch))) == 5
            assert bars.batch_bar.n == 5 and bars.batch_bar.total == 5
            bars.epoch_done(history_of(epoch))
        first_batch_bar = bars.batch_bar
        assert bars.epoch_bar.n == 2
    assert bars.batch_bar is None and bars.epoch_bar is None
    assert first_batch_bar.disable  # closed
    out = capsys.readouterr()
    assert "Epoch 2/2: train loss 0.500" in out.out  # the lines still come, above the bars
    assert "epochs: 100%" in out.err


def test_one_batch_bar_is_reused_across_epochs() -> None:
    with Progress(enabled=True, num_epochs=3) as bars:
        seen = set()
        for epoch in (1, 2, 3):
            for _ in bars.batches(batches(2), epoch=epoch):
                pass
            seen.add(id(bars.batch_bar))
            assert bars.batch_bar.desc.startswith(f"epoch {epoch}")
    assert len(seen) == 1


def test_interrupting_fit_closes_the_bars_and_keeps_the_finished_epochs(capsys) -> None:
    torch.manual_seed(0)
    model = NeuralNetwork(hidden1=8, hidden2=8)
    loaders = iter([batches(3), batches(3, interrupt_at=2)])  # the stop button in the second epoch

    class Train:
        def __len__(self) -> int:
            return 3

        def __iter__(self):
            return iter(next(loaders))

    history = fit(model, Train(), batches(1), num_epochs=3, progress=True)
    assert history.interrupted and history.epochs == 1
    assert "Interrupted" in capsys.readouterr().out
    # no_bars_left checks that both bars were closed


def test_fit_in_text_mode_prints_lines_and_no_bars(monkeypatch, capsys) -> None:
    monkeypatch.setenv(PROGRESS_ENV, "text")
    torch.manual_seed(0)
    history = fit(NeuralNetwork(hidden1=8, hidden2=8), batches(2), batches(1), num_epochs=2)
    out = capsys.readouterr()
    assert history.epochs == 2
    assert [line.split(":")[0] for line in out.out.splitlines()] == ["Epoch 1/2", "Epoch 2/2"]
    assert "epochs" not in out.err
