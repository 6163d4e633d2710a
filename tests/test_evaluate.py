"""Evaluation: loss and accuracy over batches, the confusion matrix, and the most confident mistakes."""

import math

import pytest
import torch
from torch import nn

from mnist_tutorial import (
    NeuralNetwork,
    confusion_matrix,
    evaluate,
    most_confident_mistakes,
    normalize,
    per_class_accuracy,
    predict,
)
from mnist_tutorial.errors import ConfigError

# nn.Identity as "the model": its outputs are the inputs, so every expected number can be worked out by hand.
BATCHES = [
    (torch.tensor([[2.0, 0.0], [0.0, 3.0]]), torch.tensor([0, 0])),
    (torch.tensor([[1.0, 1.0]]), torch.tensor([1])),
]


def test_evaluate_and_predict_cover_every_image_of_every_batch_in_order():
    loss, accuracy = evaluate(nn.Identity(), BATCHES)
    by_hand = [math.log(1 + math.exp(-2)), math.log(1 + math.exp(3)), math.log(2)]  # -log softmax of the truth
    assert loss == pytest.approx(sum(by_hand) / 3)
    assert accuracy == pytest.approx(1 / 3)  # argmax of [1, 1] is 0, so only the first image is right
    probabilities, labels = predict(nn.Identity(), BATCHES)
    assert labels.tolist() == [0, 0, 1] and probabilities.shape == (3, 2) and probabilities[2].tolist() == [0.5, 0.5]
    torch.testing.assert_close(probabilities.sum(dim=1), torch.ones(3))  # float rounding: a few ulps of 1


def test_confusion_matrix_and_per_class_accuracy_by_hand():
    predictions = torch.tensor([0, 1, 1, 2, 2, 2])
    labels = torch.tensor([0, 1, 2, 2, 2, 0])
    confusion = confusion_matrix(predictions, labels, num_classes=4)
    expected = [
        [1, 0, 1, 0],  # true 0: predicted 0 once, 2 once
        [0, 1, 0, 0],  # true 1: predicted 1
        [0, 1, 2, 0],  # true 2: predicted 1 once, 2 twice
        [0, 0, 0, 0],  # no 3 at all
    ]
    assert confusion.tolist() == expected
    assert per_class_accuracy(confusion).tolist() == pytest.approx([0.5, 1.0, 2 / 3, 0.0])


def test_most_confident_mistakes_come_first_and_right_answers_never_appear():
    probabilities = torch.tensor(
        [
            [0.9, 0.1],  # wrong (label 1), confidence 0.9
            [0.2, 0.8],  # right
            [0.6, 0.4],  # wrong (label 1), confidence 0.6
            [0.05, 0.95],  # wrong (label 0), confidence 0.95
            [0.7, 0.3],  # right
        ]
    )
    labels = torch.tensor([1, 1, 1, 0, 0])
    assert most_confident_mistakes(probabilities, labels).tolist() == [3, 0, 2]
    assert most_confident_mistakes(probabilities, labels, k=2).tolist() == [3, 0]
    assert most_confident_mistakes(probabilities[[1, 4]], labels[[1, 4]]).tolist() == []


def test_predict_takes_uint8_images_and_normalises_them_as_the_lesson_does():
    torch.manual_seed(0)
    model = NeuralNetwork()
    images = torch.randint(0, 256, (5, 28, 28), dtype=torch.uint8)
    from_loader, _ = predict(model, [(normalize(images), torch.zeros(5, dtype=torch.long))])
    from_images, labels = predict(model, images)
    assert torch.equal(from_images, from_loader) and labels is None
    one, _ = predict(model, images[0])
    # Another batch shape is another matrix product: MKL may take another kernel for one row (its AVX-512 path
    # does), so only float rounding apart, never bitwise (float32 probabilities: a few ulps of 1).
    torch.testing.assert_close(one, from_loader[:1], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    ("call", "complaint"),
    [
        (lambda: predict(NeuralNetwork(), torch.rand(28, 28)), "are torch.float32, but predict takes the uint8 pixels"),
        (lambda: predict(NeuralNetwork(), torch.zeros(3, 784, dtype=torch.uint8)),
         r"have shape \(3, 784\): pass one \(28, 28\) image"),
        (lambda: evaluate(NeuralNetwork(), []), "`loader` yielded no images to evaluate"),
        (lambda: predict(NeuralNetwork(), []), "`loader` yielded no images to predict"),
    ],
)  # fmt: skip
def test_what_cannot_be_evaluated_is_refused_in_a_sentence(call, complaint):
    with pytest.raises(ConfigError, match=complaint):
        call()
