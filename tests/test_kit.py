"""The workshop kit, end to end on a fake dependency set: build it from local wheels, install it offline, check it."""

import base64
import hashlib
import importlib.util
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

KIT_TOOL = Path(__file__).resolve().parent.parent / "tools" / "kit.py"
spec = importlib.util.spec_from_file_location("kit", KIT_TOOL)
kit = importlib.util.module_from_spec(spec)
spec.loader.exec_module(kit)

HERMETIC_PIP = {"PIP_CONFIG_FILE": os.devnull, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INPUT": "1"}


def write_wheel(folder: Path, name: str, version: str, *, requires=(), files=None, scripts=None) -> Path:
    """A minimal pure-Python wheel, written by hand (METADATA, WHEEL, RECORD, entry points)."""
    module = name.replace("-", "_")
    dist_info = f"{module}-{version}.dist-info"
    metadata = [f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}"] + [f"Requires-Dist: {r}" for r in requires]
    contents = {
        f"{module}/__init__.py": f"VERSION = {version!r}\n",
        **(files or {}),
        f"{dist_info}/METADATA": "\n".join(metadata) + "\n",
        f"{dist_info}/WHEEL": "Wheel-Version: 1.0\nGenerator: hand\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    if scripts:
        contents[f"{dist_info}/entry_points.txt"] = "[console_scripts]\n" + "".join(
            f"{k} = {v}\n" for k, v in scripts.items()
        )
    record = []
    for path, text in contents.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(text.encode())}")
    contents[f"{dist_info}/RECORD"] = "\n".join([*record, f"{dist_info}/RECORD,,"]) + "\n"
    wheel = folder / f"{module}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, text in contents.items():
            archive.writestr(path, text)
    return wheel


@pytest.fixture
def index(tmp_path):
    """A local "package index" (a folder): two dependencies, a build requirement stand-in and the fake course."""
    folder = tmp_path / "index"
    folder.mkdir()
    write_wheel(folder, "fake-dep-a", "1.0")
    write_wheel(folder, "fake-dep-b", "2.0", requires=["fake-dep-a>=1"])
    write_wheel(folder, "setuptools", "99.0")  # what the kit adds for offline `pip install -e .`
    doctor = "import sys\n\ndef main():\n    import fake_dep_a, fake_dep_b\n    print('fake doctor: PASS')\n"
    course = write_wheel(
        tmp_path,
        "fake-course",
        "0.1",
        requires=["fake-dep-b>=2", 'fake-dev-tool; extra == "dev"'],  # learners get no [dev] extras
        files={"fake_course/doctor.py": doctor},
        scripts={"fake-course": "fake_course.doctor:main"},
    )
    return folder, course


def test_a_kit_installs_offline_into_a_fresh_venv_and_runs_the_check(tmp_path, index, monkeypatch):
    folder, course = index
    for key, value in HERMETIC_PIP.items():
        monkeypatch.setenv(key, value)
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    (notebooks / "01_model.ipynb").write_text("{}")
    out = tmp_path / "kit"
    info = kit.build_kit(
        out,
        torch="default",
        course_wheel=course,
        pip_args=["--no-index", "--find-links", str(folder)],
        check=("fake-course",),
        notebooks=notebooks,
        with_data=False,
    )
    assert info["wheels"] == [
        "fake_course-0.1-py3-none-any.whl",
        "fake_dep_a-1.0-py3-none-any.whl",
        "fake_dep_b-2.0-py3-none-any.whl",
        "setuptools-99.0-py3-none-any.whl",
    ]
    assert json.loads((out / "KIT.json").read_text())["python"] == f"{sys.version_info[0]}.{sys.version_info[1]}"
    laptop = tmp_path / "laptop"
    env = {**os.environ, **HERMETIC_PIP, "PYTHON": sys.executable, "PIP_FIND_LINKS": ""}
    done = subprocess.run(["sh", str(out / "install.sh"), str(laptop)], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "fake doctor: PASS" in done.stdout
    assert (laptop / "01_model.ipynb").read_text() == "{}"
    installed = subprocess.run(
        [laptop / ".venv" / "bin" / "python", "-m", "pip", "list", "--format=freeze"], capture_output=True, text=True
    ).stdout.split()
    assert sorted(line.split("==")[0] for line in installed if line.startswith("fake")) == [
        "fake-course",
        "fake-dep-a",
        "fake-dep-b",
    ]


def test_the_install_script_refuses_another_python(tmp_path):
    kit.write_install_script(tmp_path, "fake-course", "2.7", ["fake-course"])
    env = {**os.environ, "PYTHON": sys.executable}
    done = subprocess.run(["sh", str(tmp_path / "install.sh"), str(tmp_path / "laptop")], env=env, capture_output=True)
    here = f"{sys.version_info[0]}.{sys.version_info[1]}"
    assert done.returncode == 1
    assert f"This kit holds wheels for Python 2.7, and this python3 is {here}" in done.stderr.decode()
    assert not (tmp_path / "laptop").exists()


@pytest.mark.parametrize(("wanted", "word"), [({"system": "Windows"}, "system"), ({"python": "2.7"}, "python")])
def test_a_kit_for_another_platform_is_refused_in_a_sentence(wanted, word):
    if kit.this_platform()[word] == next(iter(wanted.values())):
        pytest.skip("this machine is the one asked for")
    with pytest.raises(kit.KitError, match=f"pip cannot resolve torch's dependencies for another {word}"):
        kit.refuse_other_platform(wanted)


def test_learners_get_no_dev_extras(index):
    _, course = index
    assert kit.requirements_of(course) == ["fake-dep-b>=2"]


def test_cpu_wheels_are_the_default_where_pytorch_has_them(monkeypatch):
    monkeypatch.setattr(kit.platform, "system", lambda: "Linux")
    monkeypatch.setattr(kit.platform, "machine", lambda: "x86_64")
    assert kit.default_torch() == "cpu"
    monkeypatch.setattr(kit.platform, "system", lambda: "Darwin")
    monkeypatch.setattr(kit.platform, "machine", lambda: "arm64")
    assert kit.default_torch() == "default"  # macOS wheels on PyPI carry no CUDA anyway


def test_a_folder_holding_another_kind_of_kit_is_refused(tmp_path):
    (tmp_path / "KIT.json").write_text('{"system": "Plan9", "machine": "mips", "python": "3.12", "torch": "cpu"}')
    with pytest.raises(kit.KitError, match=f"{tmp_path} holds a kit for Plan9 mips, Python 3.12, torch cpu: delete"):
        kit.build_kit(tmp_path, torch="cpu")
