"""tools/oldest_constraints.py: every dependency of a pyproject pinned to the floor it declares."""

from pathlib import Path

import pytest

from tools import oldest_constraints

PYPROJECT = """\
[project]
name = "demo"
dependencies = [
    "torch>=2.4,<3",
    "numpy >= 1.24",
    "Pillow~=10.1",
    "tqdm==4.66.1",
    "tomli>=1.1; python_version < '3.11'",
    "uvicorn[standard]>=0.20",
]

[project.optional-dependencies]
dev = ["pytest>=8", "numpy>=1.24", "Demo[docs]"]
docs = ["sphinx<9,>=7.2"]
"""


def test_pins_every_group_to_its_floor_into_the_file_it_is_given(tmp_path: Path) -> None:
    pyproject, out = tmp_path / "pyproject.toml", tmp_path / "constraints.txt"
    pyproject.write_text(PYPROJECT, encoding="utf-8")
    assert oldest_constraints.main([str(pyproject), str(out)]) == 0
    lines = [line for line in out.read_text(encoding="utf-8").splitlines() if not line.startswith("#")]
    assert lines == [
        "torch==2.4",
        "numpy==1.24",
        "Pillow==10.1",
        "tqdm==4.66.1",
        "tomli==1.1 ; python_version < '3.11'",
        "uvicorn==0.20",  # constraints files take no extras
        "pytest==8",
        "sphinx==7.2",  # the floor, wherever it stands among the specifiers; dev's "Demo[docs]" adds nothing more
    ]


@pytest.mark.parametrize("requirement", ["torch", "torch<3", "torch!=2.5"])
def test_a_dependency_without_a_floor_is_refused(requirement: str) -> None:
    with pytest.raises(ValueError, match="declares no floor"):
        oldest_constraints.floor_pin(requirement)


def test_the_projects_own_floors() -> None:
    text = oldest_constraints.constraints(Path(oldest_constraints.__file__).parent.parent / "pyproject.toml")
    assert "\ntorch==" in text and "\npytest==" in text and "\njupyterhub==" in text  # runtime, [dev] and [room]
