"""settings: each run setting declared once, in SETTINGS, and every face that offers one reads it from there."""

import dataclasses
import inspect
import json
import os
import shutil
import subprocess
import sys

import pytest

import mnist_tutorial
from mnist_tutorial.errors import ConfigError
from mnist_tutorial.run import RunConfig, train_and_save
from mnist_tutorial.settings import SETTINGS, check_settings


def test_train_and_save_takes_each_setting_as_a_keyword_with_its_default():
    parameters = list(inspect.signature(train_and_save).parameters.values())
    assert [parameter.name for parameter in parameters] == [setting.name for setting in SETTINGS]
    assert {parameter.kind for parameter in parameters} == {inspect.Parameter.KEYWORD_ONLY}
    assert RunConfig(**{parameter.name: parameter.default for parameter in parameters}) == RunConfig()
    assert [(field.name, field.default) for field in dataclasses.fields(RunConfig)] == [
        (setting.name, setting.unset) for setting in SETTINGS
    ]
    with pytest.raises(TypeError, match=r"^train_and_save\(\) got an unexpected keyword argument 'epochs'$"):
        train_and_save(epochs=3)  # the keywords are generated from the table: any other is refused as Python does


def test_the_lessons_values_pass_every_check_and_a_bad_one_is_named():
    check_settings({setting.name: setting.default for setting in SETTINGS})
    with pytest.raises(ConfigError, match=r"^`hidden2=0` is outside 1 to 4096: pass one such as the lesson's 64$"):
        check_settings({"lr": 0.01, "hidden2": 0})


# A row added to the table in a copy of the package, and nothing else: what the copy's faces make of it.
ROW = 'Setting("warmup", int, 3, "epochs of warm-up", "--warmup", label="warm-up epochs", check=positive_count),'
FACES = """
import contextlib, io, json
import mnist_tutorial
from mnist_tutorial.cli import main
from mnist_tutorial.data import load_data
from mnist_tutorial.run import RunConfig
from mnist_tutorial.widgets.playground import playground

help_text, error = io.StringIO(), io.StringIO()
with contextlib.redirect_stdout(help_text), contextlib.suppress(SystemExit):
    main(["train", "--help"])
with contextlib.redirect_stderr(error):
    status = main(["train", "--warmup", "0", "--out", "out"])
form = playground(load_data(source="sample"), device="cpu")
field = (form.warmup.description, form.warmup.value)
form.warmup.value = 0
form.train()
print(json.dumps({"package": mnist_tutorial.__file__, "config": RunConfig().warmup, "help": help_text.getvalue(),
                  "status": status, "error": error.getvalue(), "field": field, "form": form.status.value}))
"""


@pytest.mark.slow
def test_a_setting_added_to_the_table_reaches_the_command_line_the_form_and_the_checks(tmp_path):
    package = tmp_path / "mnist_tutorial"
    shutil.copytree(os.path.dirname(mnist_tutorial.__file__), package, ignore=shutil.ignore_patterns("__pycache__"))
    text = (package / "settings.py").read_text()
    head, rows = text.split("\nSETTINGS = (\n", 1)
    rows = rows.replace("\n)\n", f"\n    {ROW}\n)\n", 1)  # the row goes last in the tuple
    (package / "settings.py").write_text(f"{head}\nSETTINGS = (\n{rows}")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", FACES], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    faces = json.loads(done.stdout.splitlines()[-1])
    assert faces["package"] == str(package / "__init__.py") and faces["config"] == 3
    assert "--warmup WARMUP" in faces["help"] and "epochs of warm-up (default: 3)" in " ".join(faces["help"].split())
    assert (faces["status"], faces["error"]) == (
        2,
        "mnist-tutorial: error: --warmup 0 is not a positive whole number: pass 1 or more\n",
    )
    assert faces["field"] == ["warm-up epochs", 3]
    assert "Refused: warm-up epochs 0 is not a positive whole number" in faces["form"]
    assert not (tmp_path / "out").exists()  # refused before any work
