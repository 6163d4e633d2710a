"""Self-checks of notebook 01: each accepts the official answer, rejects typical wrong ones with a hint."""

import json
import os
from datetime import datetime, timezone

import pytest
import torch
from torch import nn

from mnist_tutorial import NeuralNetwork
from mnist_tutorial.defaults import ROOM_RECORD_ENV
from mnist_tutorial.selfcheck import model as check
from mnist_tutorial.selfcheck.verdicts import RECORD_LIMIT


def said(capsys: pytest.CaptureFixture[str]) -> str:
    return capsys.readouterr().out.strip()


@pytest.mark.parametrize("answer", [109_386, 109386.0, torch.tensor(109_386)])
def test_parameter_count_accepts_the_lessons_109386(capsys, answer):
    assert bool(check.parameter_count(answer)) is True
    assert said(capsys).startswith("Correct: 109,386 parameters")


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (784 * 128 + 128 * 64 + 64 * 10, "weights only"),  # forgot the biases
        (784 * 128 + 128, "fc1 alone"),
        (109_387, "too many"),
        (100_000, "too few"),
    ],
)
def test_parameter_count_explains_typical_mistakes(capsys, answer, hint):
    assert bool(check.parameter_count(answer)) is False
    out = said(capsys)
    assert out.startswith("Not yet:") and hint in out
    assert "109,386" not in out  # a hint, never the answer


def test_parameter_count_follows_the_hidden_sizes(capsys):
    # 784*256 + 256 + 256*64 + 64 + 64*10 + 10, worked out by hand
    assert bool(check.parameter_count(218_058, hidden1=256, hidden2=64)) is True
    assert bool(check.parameter_count(109_386, hidden1=256, hidden2=64)) is False
    assert "lesson's 128 and 64" in said(capsys)


@pytest.mark.parametrize("answer", ["lots", None, [1, 2], True, 1.5])
def test_parameter_count_answers_anything_with_a_hint(capsys, answer):
    assert bool(check.parameter_count(answer)) is False
    assert said(capsys).startswith("Not yet:")


@pytest.mark.parametrize("answer", [(32, 64), [32, 64], torch.Size([32, 64])])
def test_fc2_output_shape_accepts_32_by_64(capsys, answer):
    assert bool(check.fc2_output_shape(answer)) is True
    assert said(capsys).startswith("Correct:")


@pytest.mark.parametrize(
    ("answer", "hint"),
    [((32, 128), "fc2's input"), ((64, 32), "wrong order"), ((32,), "two dimensions"), ("32x64", "tuple")],
)
def test_fc2_output_shape_explains_typical_mistakes(capsys, answer, hint):
    assert bool(check.fc2_output_shape(answer)) is False
    assert hint in said(capsys)


def test_fc2_output_shape_follows_its_settings(capsys):
    assert bool(check.fc2_output_shape((8, 16), batch_size=8, hidden2=16)) is True
    assert bool(check.fc2_output_shape((32, 64), batch_size=8, hidden2=16)) is False


def collapsed(model: NeuralNetwork) -> nn.Linear:
    """The official answer: one layer with W = W3 W2 W1 and b = W3 (W2 b1 + b2) + b3."""
    layer = nn.Linear(784, 10)
    with torch.no_grad():
        layer.weight.copy_(model.fc3.weight @ model.fc2.weight @ model.fc1.weight)
        layer.bias.copy_(model.fc3.weight @ (model.fc2.weight @ model.fc1.bias + model.fc2.bias) + model.fc3.bias)
    return layer


def test_collapsed_layer_accepts_the_product_of_the_three_layers(capsys):
    torch.manual_seed(0)
    model = NeuralNetwork()
    assert bool(check.collapsed_layer(collapsed(model), model)) is True
    assert said(capsys).startswith("Correct:")


def test_collapsed_layer_spots_a_missing_bias_or_a_wrong_order(capsys):
    torch.manual_seed(0)
    model = NeuralNetwork()
    no_hidden_biases = collapsed(model)
    with torch.no_grad():
        no_hidden_biases.bias.copy_(model.fc3.bias)
    assert bool(check.collapsed_layer(no_hidden_biases, model)) is False
    assert "bias is not" in said(capsys)
    assert bool(check.collapsed_layer(nn.Linear(784, 10), model)) is False
    assert said(capsys).startswith("Not yet:")


@pytest.mark.parametrize("answer", [nn.Linear(10, 784), "a layer", torch.zeros(10, 784)])
def test_collapsed_layer_answers_a_wrong_kind_of_answer_with_a_hint(capsys, answer):
    assert bool(check.collapsed_layer(answer, NeuralNetwork())) is False
    assert said(capsys).startswith("Not yet:")


def test_a_check_given_nonsense_arguments_still_only_prints_a_hint(capsys):
    assert bool(check.collapsed_layer(nn.Linear(784, 10), "not a model")) is False
    assert said(capsys).startswith("Not yet: that answer could not be checked")


def test_an_exercise_left_at_none_asks_for_an_answer(capsys):
    assert bool(check.parameter_count(None)) is False
    assert said(capsys).startswith("Not yet: replace None with your answer")


class WrongNetwork(NeuralNetwork):
    """The lesson's network with one mistake a learner makes, chosen by `mistake`."""

    def __init__(self, mistake: str) -> None:
        super().__init__()
        self.mistake = mistake
        if mistake == "no fc2":
            del self.fc2
        elif mistake == "fc1 too wide":
            self.fc1 = nn.Linear(784, 256)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.view(-1, 784)
        if self.mistake == "no relu":
            return self.fc3(self.fc2(self.fc1(x)))
        if self.mistake == "returns fc2":
            return self.relu(self.fc2(self.relu(self.fc1(x))))
        return super().forward(x)


@pytest.mark.parametrize(
    ("mistake", "sizes", "hint"),
    [
        ("no fc2", {}, "`self.fc2` is missing: make it in __init__ as nn.Linear(128, ...)"),
        ("fc1 too wide", {"hidden1": 128}, "`self.fc1` maps 784 to 256: make it nn.Linear(784, 128)"),
        ("fc1 too wide", {}, "`self.fc2` maps 128 to 64: make it nn.Linear(256, ...)"),  # the layers do not chain
        ("no relu", {}, "forward applies no ReLU"),
        ("returns fc2", {}, "not (4, 10): return fc3's output"),
    ],
)
def test_network_names_what_is_wrong_with_the_learners_class(capsys, mistake, sizes, hint):
    assert bool(check.network(WrongNetwork(mistake), **sizes)) is False
    assert hint in said(capsys)


def test_network_accepts_the_lessons_class_at_any_sizes(capsys):
    assert bool(check.network(NeuralNetwork(256, 32), hidden1=256, hidden2=32)) is True
    assert said(capsys).startswith("Correct: your network is the lesson's: 784 → 256 → 32 → 10")


def test_a_stub_stops_with_one_line_naming_the_step():
    assert check.YourTurn("the layers")._render_traceback_() == [
        "Your turn: write the layers where this notebook says YOUR CODE HERE, then run on from that cell."
    ]


def test_network_stops_at_a_practice_copys_blank_in_one_line():
    class Blank(torch.nn.Module):
        def __init__(self):
            super().__init__()
            raise NotImplementedError("the layers")

    with pytest.raises(check.YourTurn, match="the layers"):
        check.network(Blank)


def test_network_from_01_reads_network_py_afresh_or_says_it_uses_the_courses(tmp_path, capsys):
    assert check.network_from_01(tmp_path) is NeuralNetwork
    assert "no network.py beside this notebook" in said(capsys)
    for hidden1 in (256, 32):  # an edit of the file counts at once: nothing is cached
        (tmp_path / "network.py").write_text(
            f"from mnist_tutorial import NeuralNetwork as Lesson\nhidden1, hidden2 = {hidden1}, 64\n"
            "class NeuralNetwork(Lesson):\n    def __init__(self):\n        super().__init__(hidden1, hidden2)\n",
            encoding="utf-8",
        )
        assert check.network_from_01(tmp_path)().fc1.out_features == hidden1
        count = 784 * hidden1 + hidden1 + hidden1 * 64 + 64 + 64 * 10 + 10
        assert said(capsys) == f"your network from 01 (network.py): 784 → {hidden1} → 64 → 10, {count:,} parameters"


def test_counting_a_networks_parameters_draws_no_random_number():
    torch.manual_seed(0)
    assert check.parameters_of(NeuralNetwork) == ", 109,386 parameters"
    after = torch.rand(1)
    torch.manual_seed(0)
    assert torch.equal(after, torch.rand(1))  # the next seeded network is the one it would have been


def test_in_the_room_each_result_is_recorded_for_the_teacher_and_outside_it_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv(ROOM_RECORD_ENV, raising=False)
    check.parameter_count(109_386)
    assert list(tmp_path.iterdir()) == []  # outside the room the result is only printed
    record = tmp_path / "record.jsonl"
    monkeypatch.setenv(ROOM_RECORD_ENV, str(record))
    monkeypatch.setenv("JPY_SESSION_NAME", str(tmp_path / "01_model.ipynb"))  # what Jupyter gives a notebook's kernel
    before = datetime.now(timezone.utc).replace(microsecond=0)
    check.parameter_count(109_386)
    monkeypatch.delenv("JPY_SESSION_NAME")
    check.collapsed_layer(nn.Linear(784, 10), "not a model")  # an error inside a check is recorded as its Not yet
    lines = [json.loads(line) for line in record.read_text().splitlines()]
    assert [(line["check"], line["ok"], line["notebook"]) for line in lines] == [
        ("parameter_count", True, "01_model.ipynb"),
        ("collapsed_layer", False, None),
    ]
    assert all(before <= datetime.fromisoformat(line["time"]) <= datetime.now(timezone.utc) for line in lines)
    assert [line.split(":")[0] for line in said(capsys).splitlines()] == ["Correct", "Correct", "Not yet"]


@pytest.mark.parametrize("planted", ["link", "fifo", "folder", "full"])
def test_a_record_file_that_is_not_a_plain_file_or_is_full_is_left_alone(planted, tmp_path, monkeypatch, capsys):
    record, elsewhere = tmp_path / "record.jsonl", tmp_path / "elsewhere"
    elsewhere.touch()
    {
        "link": lambda: record.symlink_to(elsewhere),
        "fifo": lambda: os.mkfifo(record),  # opening it to write would wait for a reader: the cell must not hang
        "folder": record.mkdir,
        "full": lambda: record.write_bytes(b"\n" * RECORD_LIMIT),
    }[planted]()
    monkeypatch.setenv(ROOM_RECORD_ENV, str(record))
    assert check.parameter_count(109_386) and said(capsys).startswith("Correct:")
    assert elsewhere.read_bytes() == b""
    assert planted != "full" or record.stat().st_size == RECORD_LIMIT
