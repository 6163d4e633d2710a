"""The sanitizers nbval applies: each masks what floating point decides, and keeps what every machine computes."""

import re
from pathlib import Path

import pytest
from nbval.plugin import get_sanitize_patterns

CONFIG = Path(__file__).with_name("nbval_sanitize.cfg")


def sanitize(text: str) -> str:
    # as nbval reads the file (its own parser) and applies it: each pair in order, with re.sub
    for regex, replace in get_sanitize_patterns(CONFIG.read_text()):
        text = re.sub(regex, replace, text)
    return text


@pytest.mark.parametrize(
    ("printed", "compared"),
    [
        ("[Epoch 1, Batch 50] Loss: 2.281", "[Epoch 1, Batch 50] Loss: L"),
        ("Overwriting network.py", "Writing network.py"),
        ("(build/03_training/model.pt, saved 2026-12-06 06:23): 10", "(build/03_training/model.pt, saved T): 10"),
        ("Epoch 3/10: train loss 1.307, test loss 1.053, test accuracy 73.90% (0.1 s)",
         "Epoch 3/10: train loss L, test loss L, test accuracy A% (T s)"),
        ("lr 0.1: loss per epoch 1.202 0.896 0.673 ; test accuracy 86.30%",
         "lr 0.1: loss per epoch L ; test accuracy A%"),
        ("fast    mean training loss after one epoch: 2.229364", "fast    mean training loss after one epoch: L"),
        ("loss of the untrained network: 2.344 (ln 10 = 2.303): close",
         "loss of the untrained network: L (ln 10 = 2.303): close"),
        ("the loss grew to 2.93e+32, far above an untrained network's 2.30 by epoch 1, batch 10",
         "the loss grew to X, far above an untrained network's 2.30 by epoch 1, batch 10"),
        ("the loss grew to 137, far above", "the loss grew to X, far above"),
        ("Test Accuracy: 89.25%", "Test Accuracy: A%"),
        ("3        82.52%  93.20%  +10.68 points", "3        A%  A%  A points"),
        ("test_accuracy: 0.8925", "test_accuracy: A"),
        ("2,000 test images, 215 predicted wrong: 1785 right, as your loop counted",
         "2,000 test images, N predicted wrong: N right, as your loop counted"),
        ("a true 7 read as 9, 11 times", "a true 7 read as 9, N times"),
        ("34 of the 215 mistakes are near misses (margin under 0.1)",
         "N of the N mistakes are near misses (margin under 0.1)"),
    ],
)  # fmt: skip
def test_what_floating_point_decides_is_masked(printed, compared):
    assert sanitize(printed) == compared


@pytest.mark.parametrize(
    "printed",
    [
        "8,000 training images, 2,000 test images; the running loss every 50 batches",
        "byte 128 -> ToTensor 0.5020 -> Normalize +0.0039",
        "parameters: 109,386 = 784·128+128 + 128·64+64 + 64·10+10: matches the formula",
        "Correct: 10 times: 1 + 0.9 + 0.9² + ... = 1 / (1 - 0.9)",
        "the lesson's MLP has 109,386: 12 times as many",
        "above 87% after 10 epochs: as expected with the lesson's settings",
        "the loss became nan by epoch 1, batch 3, with learning rate 1: training stopped",
        "167 batches: 166 of 48 and a last one of 32",
        "largest difference between the two ranks' copies of any weight: 0.0",
    ],
)
def test_what_every_machine_computes_is_compared(printed):
    assert sanitize(printed) == printed
