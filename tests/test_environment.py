"""environment.yml (conda, Binder) lists the same dependencies as pyproject.toml, so the two never drift."""

import re

import pytest

from mnist_tutorial.defaults import PROJECT_ROOT

tomllib = pytest.importorskip("tomllib", reason="tomllib is in the standard library from Python 3.11")
yaml = pytest.importorskip("yaml", reason="PyYAML comes with JupyterLab")


def normalized(requirement: str) -> str:
    """`Torch >= 2.4, <3` -> `torch>=2.4,<3`: names are case-insensitive, spaces mean nothing."""
    name, rest = re.match(r"([A-Za-z0-9_.\-]+)(.*)", requirement.strip()).groups()
    return name.lower().replace("_", "-") + rest.replace(" ", "")


def test_environment_installs_the_package_its_dependencies_and_a_python_it_supports():
    project = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]
    conda = yaml.safe_load((PROJECT_ROOT / "environment.yml").read_text())["dependencies"]
    pip = next(item["pip"] for item in conda if isinstance(item, dict) and "pip" in item)
    assert "-e ." in pip
    requirements = [line for line in pip if not line.startswith("-e")]
    assert sorted(map(normalized, requirements)) == sorted(map(normalized, project["dependencies"]))
    python = next(item for item in conda if isinstance(item, str) and item.startswith("python"))
    wanted = tuple(int(n) for n in python.split("=")[-1].split("."))
    assert wanted >= tuple(int(n) for n in project["requires-python"].removeprefix(">=").split("."))
