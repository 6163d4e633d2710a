"""Self-checks of notebook 04: each accepts the official answer, rejects typical wrong ones with a hint."""

import pytest
import torch

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
