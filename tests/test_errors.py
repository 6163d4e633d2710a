"""errors: library messages name arguments; each face renders them in its own words, through one mapping."""

import pytest

from mnist_tutorial import NeuralNetwork, evaluate_checkpoint, load_model, train_and_save
from mnist_tutorial.cli import FLAGS
from mnist_tutorial.deploy.export import export_model
from mnist_tutorial.errors import ConfigError, in_words
from mnist_tutorial.settings import SETTINGS
from mnist_tutorial.widgets.playground import FIELDS, FORM, in_form_words

MESSAGE = '`num_epochs=0` is not a positive whole number; or use `source="sample"` with `data_dir`, see `model.eval()`'


def test_the_command_line_reads_flags_for_every_argument_the_library_names():
    assert in_words(MESSAGE, FLAGS) == (
        "--epochs 0 is not a positive whole number; or use --source sample with --data-dir, see `model.eval()`"
    )
    # The settings the CLI passes on; a library message naming one must come out as a flag, never in backticks.
    for name in [*(setting.name for setting in SETTINGS), "checkpoint"]:
        assert "`" not in in_words(f"`{name}=1`", FLAGS)


def test_the_playground_reads_its_field_names():
    assert (
        in_form_words("`lr=10` is too large; `hidden1=0` too")
        == "learning rate 10 is too large; hidden layer 1 size 0 too"
    )
    assert set(FIELDS) == {setting.name for setting in FORM} | {"device"}  # the fields it shows, and its own device


@pytest.mark.parametrize(
    "call, spelled",
    [
        (lambda: export_model("model.pt", "site"), "export_model(checkpoint=..., out=...)"),
        (lambda: evaluate_checkpoint("model.pt"), "evaluate_checkpoint(checkpoint=...)"),
        (lambda: train_and_save("runs/x"), "train_and_save(name=value, ...)"),
    ],
)
def test_positional_arguments_to_an_entry_point_are_refused_naming_the_keywords(call, spelled):
    with pytest.raises(ConfigError) as refused:
        call()
    name = spelled.split("(")[0]
    assert str(refused.value).startswith(f"{name}() takes its arguments by name, got ")
    assert str(refused.value).endswith(f" without one: call {spelled}")


def test_a_model_where_a_path_belongs_is_refused_by_the_arguments_name(tmp_path):
    with pytest.raises(ConfigError, match=r"^`checkpoint` is a NeuralNetwork, not a path: pass a file"):
        export_model(checkpoint=NeuralNetwork(), out=tmp_path)
    with pytest.raises(ConfigError, match=r"^`checkpoint` is None, not a path"):
        evaluate_checkpoint(checkpoint=None)
    with pytest.raises(ConfigError, match=r"^`path` is a NeuralNetwork, not a path"):
        load_model(NeuralNetwork())
    with pytest.raises(ConfigError, match=r"^`out` is None, not a path"):
        train_and_save(out=None)
