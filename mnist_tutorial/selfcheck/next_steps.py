"""Self-checks for the exercises of notebook 09 (next steps: a small convolutional network).

`from mnist_tutorial.selfcheck import next_steps as check`, then `check.cnn_parameter_count(answer)`.
The network they know is 09's `SmallCNN`: two blocks of a 3×3 convolution (padding 1), ReLU and a 2×2 max
pooling, then one `nn.Linear` from the flattened channels to the 10 classes.
"""

from .verdicts import as_shape, never_raises, unusable, verdict, whole_number

CHANNELS = (8, 16)  # 09's settings: outputs of conv1 and conv2
KERNEL = 3  # each filter is 3×3 pixels
SIDE = 28  # the images' height and width
POOLINGS = 2  # each 2×2 max pooling halves the height and the width
CLASSES = 10


def conv_parameters(in_channels: int, out_channels: int, kernel: int = KERNEL) -> int:
    """Weights and biases of nn.Conv2d(in_channels, out_channels, kernel): one kernel×kernel filter per pair."""
    return out_channels * in_channels * kernel * kernel + out_channels


def linear_parameters(inputs: int, outputs: int) -> int:
    """Weights and biases of nn.Linear(inputs, outputs)."""
    return inputs * outputs + outputs


def expected_parameters(channels1: int, channels2: int, *, side: int = SIDE // 2**POOLINGS) -> int:
    """Parameters of 09's SmallCNN: conv1, conv2, and fc from channels2 feature maps of side × side values."""
    convolutions = conv_parameters(1, channels1) + conv_parameters(channels1, channels2)
    return convolutions + linear_parameters(channels2 * side * side, CLASSES)


@never_raises
def cnn_parameter_count(answer: object, *, channels1: int = CHANNELS[0], channels2: int = CHANNELS[1]) -> bool:
    """Check a hand count of the parameters of 09's SmallCNN with `channels1` and `channels2` channels."""
    expected = expected_parameters(channels1, channels2)
    count = whole_number(answer)
    fc = linear_parameters(channels2 * 7 * 7, CLASSES)
    sizes = f"1 → {channels1} → {channels2} channels"
    if count is None:
        hint = unusable(answer, "a whole number, such as 12345")
    elif count == expected - (channels1 + channels2 + CLASSES):
        hint = "that counts the weights only: each layer also holds one bias per output (per output channel)"
    elif count == fc:
        hint = "that is fc alone: add the parameters of conv1 and conv2"
    elif count in (expected_parameters(channels1, channels2, side=s) for s in (SIDE, SIDE // 2)):
        hint = "fc's input is too large: each of the two poolings halves the height and the width, 28 → 14 → 7"
    elif count == expected - conv_parameters(channels1, channels2) + conv_parameters(1, channels2):
        hint = f"each of conv2's filters looks at all {channels1} channels of conv1's output, not at one"
    elif (channels1, channels2) != CHANNELS and count == expected_parameters(*CHANNELS):
        hint = f"that is the count for the notebook's 8 and 16 channels: redo it for {sizes}"
    else:
        direction = "too many" if count > expected else "too few"
        hint = (
            f"{direction}: a Conv2d(i, o, 3) holds o·i·3·3 weights and o biases, a Linear(n, m) m·n weights and "
            "m biases: add the three layers"
        )
    return verdict(count == expected, correct=f"{expected:,} parameters for {sizes}", hint=hint)


@never_raises
def pooled_shape(
    answer: object, *, batch_size: int = 32, channels1: int = CHANNELS[0], channels2: int = CHANNELS[1]
) -> bool:
    """Check the shape of the second pooling's output (what `flatten` receives) for `batch_size` images."""
    side = SIDE // 2**POOLINGS
    expected = (batch_size, channels2, side, side)
    shape = as_shape(answer)
    if shape is None:
        hint = unusable(answer, "a tuple of whole numbers, such as (10, 20, 30, 40)")
    elif shape == (batch_size, channels2 * side * side):
        hint = "that is the shape after flatten: the question asks for the pooling's output, just before it"
    elif len(shape) != 4:
        hint = "a convolution's or a pooling's output has four dimensions: (batch, channels, height, width)"
    elif shape[0] != batch_size:
        hint = f"PyTorch puts the batch first: {batch_size} images, one slice each"
    elif shape[1] == channels1 and channels1 != channels2:
        hint = f"that is conv1's number of channels: conv2 makes {channels2} feature maps"
    elif shape[2:] == (SIDE // 2, SIDE // 2):
        hint = "that pools once: the network pools twice, and each 2×2 pooling halves the height and the width"
    elif shape[2:] == (SIDE, SIDE):
        hint = "no pooling yet: with padding 1 a 3×3 convolution keeps 28×28, and each pooling halves it"
    else:
        hint = "follow the shape table above: which line is the second pooling, and what changes with the batch?"
    return verdict(shape == expected, correct=f"{expected}: {channels2} maps of {side}×{side} per image", hint=hint)


def receptive_side(kernel: int = KERNEL, poolings: int = POOLINGS) -> int:
    """The side of the square of pixels that one value after the last pooling depends on.

    Walk back from that one value: a 2×2 pooling (stride 2) doubles the side, a k×k convolution adds k − 1.
    """
    side = 1
    for _ in range(poolings):
        side = 2 * side + kernel - 1
    return side


@never_raises
def receptive_field(answer: object) -> bool:
    """Check the side, in pixels, of the square of the image that one value fed to fc depends on."""
    expected = receptive_side()
    side = whole_number(answer)
    if side is None:
        hint = unusable(answer, "a whole number of pixels, the side of a square")
    elif side == SIDE:
        hint = "the whole image is what one of the MLP's first-layer outputs sees; here only a small square"
    elif side == KERNEL:
        hint = "that is what one of conv1's outputs sees: go on back through the pooling and conv2"
    elif side == expected * expected:
        hint = "the answer is the side of the square, not the number of pixels in it"
    elif side in (4, 6, 7, 9, 12):
        hint = "close, but walk back one layer at a time: a 2×2 pooling doubles the side, a 3×3 convolution adds 2"
    else:
        hint = "start from one value after the last pooling (side 1) and walk back: pool ×2, conv +2, pool ×2, conv +2"
    return verdict(side == expected, correct=f"a {expected}×{expected} square of pixels", hint=hint)
