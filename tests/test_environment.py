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


@pytest.fixture(scope="module")
def pyproject() -> dict:
    return tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]


@pytest.fixture(scope="module")
def environment() -> dict:
    return yaml.safe_load((PROJECT_ROOT / "environment.yml").read_text())


def pip_section(environment: dict) -> list[str]:
    return next(item["pip"] for item in environment["dependencies"] if isinstance(item, dict) and "pip" in item)


def test_the_same_dependencies_with_the_same_versions(pyproject, environment):
    pip = [line for line in pip_section(environment) if not line.startswith("-e")]
    assert sorted(map(normalized, pip)) == sorted(map(normalized, pyproject["dependencies"]))


def test_environment_installs_the_package_itself_and_a_python_it_supports(pyproject, environment):
    assert "-e ." in pip_section(environment)
    python = next(item for item in environment["dependencies"] if isinstance(item, str) and item.startswith("python"))
    wanted = tuple(int(n) for n in python.split("=")[-1].split("."))
    minimum = tuple(int(n) for n in pyproject["requires-python"].removeprefix(">=").split("."))
    assert wanted >= minimum
