"""errors: library messages name arguments; each face renders them in its own words, through one mapping."""

from mnist_tutorial.cli import FLAGS
from mnist_tutorial.errors import in_words
from mnist_tutorial.widgets.playground import FIELDS, in_form_words

MESSAGE = '`num_epochs=0` is not a positive whole number; or use `source="sample"` with `data_dir`, see `model.eval()`'


def test_the_command_line_reads_flags():
    assert in_words(MESSAGE, FLAGS) == (
        "--epochs 0 is not a positive whole number; or use --source sample with --data-dir, see `model.eval()`"
    )


def test_the_playground_reads_its_field_names():
    assert (
        in_form_words("`lr=10` is too large; `hidden1=0` too")
        == "learning rate 10 is too large; hidden layer 1 size 0 too"
    )
    assert set(FIELDS) <= {"lr", "momentum", "num_epochs", "hidden1", "hidden2", "device"}


def test_every_argument_the_library_names_has_a_flag():
    # The settings the CLI passes on; a library message naming one must come out as a flag, never in backticks.
    for name in ("dataset", "data_dir", "source", "device", "num_epochs", "batch_size", "lr", "momentum", "seed",
                 "out", "loader", "resume", "checkpoint"):  # fmt: skip
        assert "`" not in in_words(f"`{name}=1`", FLAGS)
