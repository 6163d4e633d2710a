"""The room on Kubernetes (kubernetes/): config.yaml against Zero to JupyterHub's values schema, as helm checks it,
the same setting as `mnist-tutorial room`, and what the image's Dockerfile runs, run here in a temporary folder.

No cluster and no docker: the schema is the chart's own (kubernetes/chart-4.4.0/), the hand-out hook is run by sh
exactly as config.yaml gives it, and the Dockerfile's paths are checked against this repository.
"""

import copy
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

from mnist_tutorial.defaults import IDLE_MINUTES, ROOM_RECORD_ENV, STUDENT_MEMORY_GB
from mnist_tutorial.room.accounts import PRACTICE_FILES, RECORD_FILE
from mnist_tutorial.room.hub_config import SIGN_IN_HINT, STUDENT_ENVIRONMENT, STUDENT_NAME, TEACHER

ROOT = Path(__file__).resolve().parent.parent
FOLDER = ROOT / "kubernetes"
CHART = FOLDER / "chart-4.4.0"


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def merged(defaults: dict, given: dict) -> dict:
    """`given` over `defaults` as helm merges values: maps key by key, anything else replaced, null removes a key."""
    out = copy.deepcopy(defaults)
    for key, value in given.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merged(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def errors(*files: dict) -> list[str]:
    """What the chart's schema says of the chart's values with `files` over them (helm install --values ...)."""
    values = load(CHART / "values.yaml")
    for given in files:
        values = merged(values, given)
    validator = jsonschema.Draft7Validator(load(CHART / "values.schema.yaml"))
    return sorted(f"{'.'.join(map(str, error.path))}: {error.message}" for error in validator.iter_errors(values))


PASSWORDS = {  # what a teacher's passwords.yaml holds (kubernetes/README.md)
    "hub": {
        "config": {
            "SharedPasswordAuthenticator": {"user_password": "room-pass", "admin_password": "t" * 32},
        }
    }
}


@pytest.fixture(scope="module")
def config() -> dict:
    return load(FOLDER / "config.yaml")


def test_the_config_passes_the_charts_schema(config):
    assert errors(config) == []
    assert errors(config, PASSWORDS) == []


@pytest.mark.parametrize(
    ("path", "wrong"),
    [(("singleuser",), "memmory"), (("singleuser", "memory"), "limits"), (("cull",), "timout"), ((), "singleusr")],
)
def test_a_misspelt_key_is_refused(config, path, wrong):
    bad = copy.deepcopy(config)
    place = bad
    for key in path:
        place = place[key]
    place[wrong] = "1G"
    assert errors(bad) == [f"{'.'.join(path)}: Additional properties are not allowed ('{wrong}' was unexpected)"]


def keys(values: dict) -> list[str]:
    return [key for name, value in values.items() for key in [name, *(keys(value) if isinstance(value, dict) else [])]]


def test_the_config_holds_no_password(config):
    assert [key for key in keys(config) if "password" in key.lower()] == []  # passwords.yaml, never committed


def test_students_sign_in_and_work_as_in_the_room(config):
    hub = config["hub"]["config"]
    assert hub["JupyterHub"]["authenticator_class"] == "shared-password"
    assert hub["JupyterHub"]["template_vars"] == {"announcement_login": SIGN_IN_HINT}
    assert hub["Authenticator"] == {
        "admin_users": [TEACHER],
        "allow_all": True,
        "username_pattern": f"^{STUDENT_NAME}$",
    }
    home = merged(load(CHART / "values.yaml"), config)["singleuser"]["storage"]["homeMountPath"]
    assert config["singleuser"]["extraEnv"] == {**STUDENT_ENVIRONMENT, ROOM_RECORD_ENV: f"{home}/{RECORD_FILE}"}
    assert (config["cull"]["enabled"], config["cull"]["timeout"]) == (True, IDLE_MINUTES * 60)
    # a pod gets what the room gives a student (the load test's figure), all of it reserved on its node
    assert config["singleuser"]["memory"] == {
        "limit": f"{STUDENT_MEMORY_GB:g}G",
        "guarantee": f"{STUDENT_MEMORY_GB:g}G",
    }


def hand_out_command(config: dict) -> list[str]:
    return config["singleuser"]["lifecycleHooks"]["postStart"]["exec"]["command"]


def test_the_hook_hands_out_what_the_room_hands_out(config):
    command = hand_out_command(config)
    script, practice, home = command[2], command[4], command[5]
    assert " ".join(f'"$1"/{pattern}' for pattern in PRACTICE_FILES) in script  # accounts.hand_out's files
    assert home == merged(load(CHART / "values.yaml"), config)["singleuser"]["storage"]["homeMountPath"]
    assert f"make_student.py {practice}" in (FOLDER / "Dockerfile").read_text()  # where the image writes them


def run_hook(config: dict, practice: Path, home: Path) -> subprocess.CompletedProcess:
    """The postStart hook exactly as config.yaml gives it, with `practice` and `home` for the image's paths."""
    command = [*hand_out_command(config)[:4], str(practice), str(home)]
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


def test_the_hook_copies_the_missing_practice_files_and_keeps_the_students(config, tmp_path):
    practice, home = tmp_path / "image" / "practice", tmp_path / "home"
    done = subprocess.run(  # the Dockerfile's command, into a folder of this test's
        [sys.executable, ROOT / "tools" / "make_student.py", practice], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    home.mkdir()
    (home / "01_model.ipynb").write_text("the student's own work")
    (home / "glossary.md").symlink_to(tmp_path / "nowhere")  # a link the student left: never written through
    os.utime(practice / "02_data.ipynb", (1_000_000_000, 1_000_000_000))
    done = run_hook(config, practice, home)
    assert (done.returncode, done.stderr) == (0, "")
    handed = sorted(path.name for pattern in PRACTICE_FILES for path in practice.glob(pattern))
    assert "03_training.ipynb" in handed and "glossary.md" in handed
    assert sorted(path.name for path in home.iterdir()) == handed  # no marker, no solutions
    assert (home / "01_model.ipynb").read_text() == "the student's own work"
    assert not (tmp_path / "nowhere").exists()
    assert (home / "02_data.ipynb").stat().st_mtime == 1_000_000_000  # the image's time: the page's "saved since"
    assert json.loads((home / "02_data.ipynb").read_text())["cells"]  # a notebook, as written at build time
    (home / "02_data.ipynb").unlink()  # deleted by the student: back, fresh, at the next start
    assert run_hook(config, practice, home).returncode == 0
    assert (home / "02_data.ipynb").read_bytes() == (practice / "02_data.ipynb").read_bytes()


def dockerfile() -> list[tuple[str, str]]:
    """The Dockerfile's instructions (keyword, arguments), continuation lines joined, comments left out."""
    text = re.sub(r"\\\n", " ", (FOLDER / "Dockerfile").read_text())
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return [(line.split()[0].upper(), line.split(None, 1)[1]) for line in lines]


def test_the_dockerfile_copies_what_the_repository_holds_and_its_context_lets_in():
    ignore = (FOLDER / "Dockerfile.dockerignore").read_text().split()
    copied = [source for key, args in dockerfile() if key == "COPY" for source in shlex.split(args)[:-1]]
    assert copied, "no COPY"
    for source in copied:
        assert (ROOT / source).exists(), source
        assert f"!{source}" in ignore, source  # the context holds it
    assert "notebooks/solutions" in ignore  # never in the image, not even in a layer


def test_the_image_installs_the_courses_torch_cpu_only_and_runs_as_the_charts_user(config):
    runs = " ".join(args for key, args in dockerfile() if key == "RUN")
    pyproject = (ROOT / "pyproject.toml").read_text()
    for name in ("torch", "torchvision"):
        (spec,) = re.findall(f'"({name}[<>=][^"]*)"', pyproject)
        assert f'"{spec}"' in runs  # the course's own range
    assert '--index-url "$TORCH_INDEX"' in runs
    assert ("ARG", "TORCH_INDEX=https://download.pytorch.org/whl/cpu") in dockerfile()
    chart = merged(load(CHART / "values.yaml"), config)["singleuser"]
    assert f"--uid {chart['uid']} --gid {chart['fsGid']}" in runs
    assert ("USER", str(chart["uid"])) in dockerfile()
    assert ("WORKDIR", chart["storage"]["homeMountPath"]) in dockerfile()
    assert ("CMD", json.dumps([chart["cmd"]])) in dockerfile()
