"""Self-checks of notebook 04: each accepts the official answer, rejects typical wrong ones with a hint."""

import pytest
import torch
from helpers import tiny_data

from mnist_tutorial import NeuralNetwork
from mnist_tutorial.selfcheck import evaluation as check


@pytest.fixture
def confusion() -> torch.Tensor:
    """90 right answers per digit; mistakes: 3 as 5 (7 times), 5 as 3 (4), 4 as 9 (6)."""
    matrix = torch.eye(10, dtype=torch.long) * 90
    matrix[3, 5], matrix[5, 3], matrix[4, 9] = 7, 4, 6
    return matrix


def said(capsys: pytest.CaptureFixture[str]) -> str:
    return capsys.readouterr().out.strip()


@pytest.mark.parametrize("answer", [100 * 90 / 97, 92.78, torch.tensor(92.7835)])
def test_class_accuracy_accepts_the_rows_diagonal_share(capsys, confusion, answer):
    assert bool(check.class_accuracy(answer, confusion, digit=3)) is True  # row 3: 90 right of 90 + 7
    assert said(capsys).startswith("Correct: 92.78% of the true 3s")


@pytest.mark.parametrize(
    ("answer", "hint"),
    [(0.9278, "fraction"), (100 * 90 / 94, "column 3"), (90.0, "diagonal count of row 3")],  # column 3: 90 + 4
)
def test_class_accuracy_explains_typical_mistakes(capsys, confusion, answer, hint):
    assert bool(check.class_accuracy(answer, confusion, digit=3)) is False
    out = said(capsys)
    assert out.startswith("Not yet:") and hint in out and "92.78" not in out


@pytest.mark.parametrize("answer", [(3, 5), [3, 5], (torch.tensor(3), 5)])
def test_most_confused_pair_accepts_true_then_predicted(capsys, confusion, answer):
    assert bool(check.most_confused_pair(answer, confusion)) is True
    assert said(capsys) == "Correct: true 3s predicted as 5: 7 times, more than any other"


@pytest.mark.parametrize(
    ("answer", "hint"), [((5, 3), "wrong order"), ((3, 3), "diagonal"), ((4, 9), "not the largest")]
)
def test_most_confused_pair_explains_typical_mistakes(capsys, confusion, answer, hint):
    assert bool(check.most_confused_pair(answer, confusion)) is False
    out = said(capsys)
    assert out.startswith("Not yet:") and hint in out


@pytest.mark.parametrize("answer", [None, "3 and 5", (3,), (3, 5, 1), (3, 12), (-1, 5), 35])
def test_most_confused_pair_hints_at_the_form_of_an_answer(capsys, confusion, answer):
    assert bool(check.most_confused_pair(answer, confusion)) is False
    assert said(capsys).startswith("Not yet:")


@pytest.mark.parametrize("answer", [None, "92%", [92.78], object()])
def test_class_accuracy_answers_any_kind_of_answer_calmly(capsys, confusion, answer):
    assert bool(check.class_accuracy(answer, confusion, digit=3)) is False
    assert said(capsys).startswith("Not yet:")


@pytest.mark.parametrize(
    ("counts", "hint"),
    [
        ((None, None), ""),  # the lesson's loop: filled in below
        ((0, 0), "add labels.size(0) for every batch"),
        ((1, None), "predictions are right: add (predicted == labels).sum().item()"),
        ((0.5, 1.0), "count with whole numbers"),
    ],
)
def test_accuracy_checks_correct_and_total_against_a_recount(capsys, counts, hint):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 10))
    images, labels = torch.randn(20, 1, 28, 28), torch.randint(0, 10, (20,))
    loader = [(images[:10], labels[:10]), (images[10:], labels[10:])]
    right = (model(images).argmax(dim=1) == labels).sum().item()
    correct, total = counts
    correct = right if correct is None else right + 1 if correct == 1 else correct
    total = 20 if total is None else total
    assert bool(check.accuracy(correct, total, model=model, test_loader=loader)) is (not hint)
    assert hint in said(capsys)


def lesson_save(path, *, epochs: int = 2, dataset: str = "mnist", model=None) -> None:
    """A checkpoint as 03 writes it: torch.save of the state_dicts, the epochs, the settings and the verdict."""
    model = model or NeuralNetwork()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.001, momentum=0.9)
    settings = {"lr": 0.001, "momentum": 0.9, "batch_size": 64, "dataset": dataset}
    state = {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": epochs, "settings": settings}
    torch.save({**state, "test_accuracy": 0.9, "verdict": "above 87% after 2 epochs"}, path)


def test_judged_network_says_which_network_it_judges(tmp_path, capsys):
    path = tmp_path / "build" / "03_training" / "model.pt"
    path.parent.mkdir(parents=True)
    lesson_save(path)
    state = check.judged_network(path, dataset="mnist")
    assert state["epoch"] == 2 and state["settings"]["lr"] == 0.001
    first, second = said(capsys).splitlines()
    assert first.startswith("judging your network from 03 (build/03_training/model.pt, saved ")
    assert first.endswith("): 2 epochs, lr 0.001, momentum 0.9, batch size 64")
    assert second == "03's verdict: above 87% after 2 epochs"


@pytest.mark.parametrize(
    ("write", "problem"),
    [
        (None, "is missing (03 has not been run yet)"),
        (lambda path: path.write_bytes(b"not a checkpoint"), "cannot be read as a checkpoint"),
        (lambda path: lesson_save(path, epochs=0), "holds no complete epoch (03 was stopped during its first)"),
        (lambda path: lesson_save(path, dataset="fashion"), "was trained on 'fashion', not 'mnist'"),
    ],
)
def test_an_unusable_checkpoint_is_named_and_replaced(tmp_path, capsys, write, problem):
    path = tmp_path / "model.pt"
    if write:
        write(path)
    assert check.judged_network(path, dataset="mnist") is None
    assert f"model.pt {problem}: training the lesson's network here instead, as 03 does (10 epochs)" in said(capsys)


def test_train_like_03_saves_what_04_loads_and_judges(tmp_path, capsys):
    path = check.train_like_03(lambda: NeuralNetwork(32, 16), tiny_data(), seed=0, path=tmp_path / "m" / "model.pt")
    model = NeuralNetwork(32, 16)
    model.load_state_dict(torch.load(path, weights_only=True)["model"])
    assert bool(check.loaded(model, path)) is False  # still in training mode
    assert "call model.eval()" in said(capsys)
    assert bool(check.loaded(model.eval(), path)) is True
    assert bool(check.loaded(NeuralNetwork(32, 16).eval(), path)) is False  # fresh weights, not the saved ones


def test_at_chance_names_a_network_that_answers_the_same_for_every_image():
    names = tuple("0123456789")
    assert check.at_chance(torch.full((100,), 6), names).startswith(
        "at chance: 100% of the images get the same answer, 6"
    )
    assert check.at_chance(torch.arange(100) % 10, names) == ""


def test_a_class_accuracy_rounded_to_a_whole_number_is_asked_for_decimals(capsys, confusion):
    expected = 100 * 90 / 97  # row 3: 90 right of 97, 92.78%
    assert not check.class_accuracy(round(expected), confusion, digit=3)
    assert said(capsys) == "Not yet: close: give 1 decimal or more (the table above gives 2)"
    assert check.class_accuracy(round(expected, 1), confusion, digit=3)
