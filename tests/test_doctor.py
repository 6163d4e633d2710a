"""The pre-flight: passes here; a failing check is a `fix:` line naming what to do, and exit status 1; never downloads.

Each check is called on its own where that shows its line; the whole doctor runs where the run itself is the point.
"""

import argparse
import json
import os
import re
import shutil
import sys
from types import SimpleNamespace

import nbformat
import psutil
import pytest
from helpers import md5, write_dataset
from packaging.requirements import Requirement
from torchvision import datasets

from mnist_tutorial import cli
from mnist_tutorial.cli.commands import add_doctor
from mnist_tutorial.datasets import download, sources
from mnist_tutorial.defaults import OFFLINE_ENV, SOURCE_ENV
from mnist_tutorial.doctor import checks, data_checks, kernel_checks, lab_checks, report, summary

GOOD_FRONTENDS = {"@jupyter-widgets/jupyterlab-manager": ("5.0.16", True), "ipycanvas": ("0.14.3", True)}
WIDGET_VERSIONS = {"ipywidgets": "8.1.9", "ipycanvas": "0.14.3"}
REAL_FRONTEND_EXTENSIONS = lab_checks.frontend_extensions
REAL_RUN_ONE_CELL = kernel_checks.run_one_cell


@pytest.fixture(autouse=True)
def known_frontends(monkeypatch):
    """JupyterLab's extension list as a healthy install has it (listing the real one takes 2 s)."""
    monkeypatch.setattr(lab_checks, "frontend_extensions", lambda: dict(GOOD_FRONTENDS))
    real_version = lab_checks.metadata.version
    monkeypatch.setattr(lab_checks.metadata, "version", lambda name: WIDGET_VERSIONS.get(name) or real_version(name))


@pytest.fixture(autouse=True)
def kernel_starts(monkeypatch):
    """A kernel that starts and runs its cell (a real one takes seconds: the tests below start them on purpose)."""
    monkeypatch.setattr(kernel_checks, "run_one_cell", lambda deadline_s: checks.ok("kernel", "stand-in"))


@pytest.fixture
def data_dir(tmp_path):
    """An empty data dir, so no full data from this machine changes the results."""
    return tmp_path / "data"


def run_doctor(capsys, *argv: str) -> tuple[int, str]:
    """`mnist-tutorial doctor ARGV`: (exit status, stdout)."""
    parser = argparse.ArgumentParser()
    add_doctor(parser.add_subparsers())
    args = parser.parse_args(["doctor", *argv])
    return args.run(args), capsys.readouterr().out


def fix_lines(out: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith("fix: ")]


def lines(found: checks.Check | list[checks.Check]) -> list[str]:
    return [check.line for check in (found if isinstance(found, list) else [found])]


def test_passes_here_with_one_ok_line_per_check_and_a_json_report(capsys, data_dir):
    status, out = run_doctor(capsys, "--data-dir", str(data_dir))
    assert status == 0, out
    assert all(line.startswith(("ok: ", "note: ")) for line in out.splitlines()[:-1])
    assert "ok: sample: 4 files, md5s match" in out and "ok: device cpu: one training step ran" in out
    assert out.splitlines()[-1] == "PASS: the course will work here"
    status, out = run_doctor(capsys, "--json", "--data-dir", str(data_dir))
    found = json.loads(out)
    assert status == 0 and found["passed"] is True
    assert {"host", "platform", "python", "time", "verdict"} <= found.keys()
    assert {"name": "sample", "status": "ok", "detail": "4 files, md5s match"} in found["checks"]


def test_a_failing_check_fails_the_run_with_its_fix_line(capsys, monkeypatch, data_dir):
    monkeypatch.setattr(checks.metadata, "metadata", lambda name: {"Requires-Python": ">=3.99"})
    status, out = run_doctor(capsys, "--data-dir", str(data_dir))
    assert status == 1
    assert fix_lines(out) == [
        f"fix: python: Python {sys.version.split()[0]} is outside what the course needs (>=3.99): "
        "install Python 3.10 or newer"
    ]
    assert re.fullmatch(r"FAIL: 1 of \d+ checks need a fix \(the `fix:` lines above\)", out.splitlines()[-1])


def test_a_check_that_breaks_is_a_fix_line_not_a_traceback(capsys, monkeypatch, data_dir):
    def broken(**kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(sources, "resolve_source", broken)
    status, out = run_doctor(capsys, "--data-dir", str(data_dir))
    assert (status, fix_lines(out)) == (
        1,
        ["fix: data source: could not be checked (RuntimeError: boom): reinstall the course"],
    )


def test_a_torch_that_cannot_be_imported_a_dependency_too_old_and_one_missing(monkeypatch):
    def broken():
        raise ImportError("libtorch_cpu.so: cannot open shared object file")

    monkeypatch.setattr(checks, "torch_devices", broken)
    torch = next(r for r in checks.course_requirements() if r.name == "torch")
    assert lines(checks.check_devices()) == [  # the range pyproject.toml declares
        "fix: torch: cannot be imported (libtorch_cpu.so: cannot open shared object file): "
        f'pip install --force-reinstall "torch{checks.as_range(torch.specifier)}"'
    ]
    requirements = [Requirement("torch>=99"), Requirement("no-such-course-dependency>=1")]
    monkeypatch.setattr(checks, "course_requirements", lambda: requirements)
    assert lines(checks.check_dependencies()) == [
        f'fix: torch: {checks.metadata.version("torch")} is outside >=99: pip install "torch>=99"',
        'fix: no-such-course-dependency: not installed: pip install "no-such-course-dependency>=1"',
    ]


def test_a_device_that_cannot_train(monkeypatch):
    monkeypatch.setattr(checks, "torch_devices", lambda: ["cpu", "cuda:99"])  # no machine has 100 GPUs
    cpu, cuda = lines(checks.check_devices())
    assert cpu == "ok: device cpu: one training step ran"
    assert cuda.startswith("fix: device cuda:99: a training step failed (")
    assert cuda.endswith("): use --device cpu (or $MNIST_TUTORIAL_DEVICE=cpu), or update the GPU driver")


def test_the_manifest_matches_the_shipped_sample_and_a_corrupt_sample_file_is_named(tmp_path):
    listed = data_checks.read_manifest(data_checks.SAMPLE_MANIFEST)
    assert sorted(listed) == sorted(path.name for path in sources.SAMPLE_DIR.iterdir() if path.name in listed)
    assert len(listed) == 4 and all(md5(sources.SAMPLE_DIR / name) == digest for name, digest in listed.items())
    copy = tmp_path / "sample"
    shutil.copytree(sources.SAMPLE_DIR, copy)
    damaged = bytearray((copy / "t10k-labels-idx1-ubyte").read_bytes())
    damaged[100] ^= 1  # one label changed: still loads, but is not the sample
    (copy / "t10k-labels-idx1-ubyte").write_bytes(bytes(damaged))
    assert data_checks.check_sample(copy).line == (
        f"fix: sample: missing or damaged: t10k-labels-idx1-ubyte: {sources.RESTORE_SAMPLE}"
    )


def test_a_source_that_cannot_resolve(monkeypatch, data_dir):
    monkeypatch.setenv(SOURCE_ENV, "full")  # full MNIST asked for, absent, and offline
    line = data_checks.check_source(data_dir).line
    assert line.startswith(f"fix: data source: full MNIST is not in {data_dir / 'MNIST' / 'raw'} and ${OFFLINE_ENV}")


def test_full_data_that_matches(data_dir, monkeypatch):
    # Damaged full data: the doctor says what training says, test_checksums.py.
    raw = write_dataset(data_dir / "MNIST" / "raw", checked=None)
    names = [name for name, _ in datasets.MNIST.resources]
    monkeypatch.setattr(datasets.MNIST, "resources", [(name, md5(raw / name)) for name in names])
    assert data_checks.check_source(data_dir).line == "ok: data source: full (full MNIST)"
    assert data_checks.check_full(data_dir).line == "ok: full MNIST: 4 files, md5s match"


def test_a_full_disk(monkeypatch):
    monkeypatch.setattr(data_checks.shutil, "disk_usage", lambda path: SimpleNamespace(free=200 * 2**20))
    assert data_checks.check_disk().line == "fix: disk: 0.2 GiB free, the course needs 1 GiB: free some space"


def test_mirrors_are_not_asked_offline_nor_for_the_sample(monkeypatch):
    asked = []
    monkeypatch.setattr(data_checks, "mirror_reachable", lambda url, timeout: asked.append(url) or True)
    assert data_checks.check_mirrors().line == f"ok: mirrors: not checked: network use is off (${OFFLINE_ENV})"
    monkeypatch.delenv(OFFLINE_ENV)
    monkeypatch.setenv(SOURCE_ENV, "sample")
    assert data_checks.check_mirrors().line == f"ok: mirrors: not checked: ${SOURCE_ENV}=sample never downloads"
    assert asked == []  # not even a HEAD request


def test_mirrors_online_without_any_download(capsys, monkeypatch, data_dir, mirror, closed_port_url):
    def fail_if_called(*args, **kwargs):
        raise AssertionError("doctor started a download")

    monkeypatch.delenv(OFFLINE_ENV)
    monkeypatch.setattr(download, "download_files", fail_if_called)
    monkeypatch.setattr(sources, "download_files", fail_if_called)
    (mirror[1] / datasets.MNIST.resources[0][0]).write_bytes(b"x")
    monkeypatch.setattr(datasets.MNIST, "mirrors", [mirror[0], closed_port_url])
    assert data_checks.check_mirrors().line == "ok: mirrors: 1 of 2 reachable"
    monkeypatch.setattr(datasets.MNIST, "mirrors", [closed_port_url])
    status, out = run_doctor(capsys, "--data-dir", str(data_dir))
    assert status == 0  # the sample stands in: worth a note, not a failure
    assert "note: mirrors: none reachable: full MNIST cannot be downloaded here; the course uses the sample" in out
    assert "ok: data source: sample (the embedded sample)" in out  # and nothing was downloaded


def test_jupyterlab_missing(monkeypatch):
    version = lab_checks.metadata.version

    def without_jupyterlab(name):
        if name == "jupyterlab":
            raise lab_checks.metadata.PackageNotFoundError(name)
        return version(name)

    monkeypatch.setattr(lab_checks.metadata, "version", without_jupyterlab)
    hint = 'pip install "jupyterlab>=4.2,<5"'
    assert f"fix: jupyterlab: not installed: {hint}" in lines(checks.check_dependencies())  # as a dependency
    assert lab_checks.check_jupyterlab().line == f"fix: jupyter-lab: not installed in this Python: {hint}"


def test_the_real_extension_list_has_both_widget_front_ends_enabled():
    listed = REAL_FRONTEND_EXTENSIONS()
    assert all(listed[name][1] for name in GOOD_FRONTENDS), listed


@pytest.mark.parametrize(
    ("frontends", "expected"),
    [
        (
            {"@jupyter-widgets/jupyterlab-manager": ("5.0.16", True)},
            'fix: ipycanvas: front-end extension missing, so widgets show "Error displaying widget": {canvas}',
        ),
        (
            {**GOOD_FRONTENDS, "ipycanvas": ("0.14.3", False)},
            "fix: ipycanvas: front-end extension 0.14.3 is disabled: jupyter labextension enable ipycanvas",
        ),
        (
            {**GOOD_FRONTENDS, "@jupyter-widgets/jupyterlab-manager": ("3.1.0", True)},
            "fix: @jupyter-widgets/jupyterlab-manager: front-end 3.1.0 does not match ipywidgets 8.1.9 in the kernel "
            '("Error displaying widget"): {widgets} jupyterlab_widgets',
        ),
        (
            {**GOOD_FRONTENDS, "ipycanvas": ("0.13.2", True)},
            "fix: ipycanvas: front-end 0.13.2 does not match ipycanvas 0.14.3 in the kernel "
            '("Error displaying widget"): {canvas}',
        ),
    ],
    ids=["missing", "disabled", "widgets-mismatch", "canvas-mismatch"],
)
def test_widget_front_ends(monkeypatch, frontends, expected):
    monkeypatch.setattr(lab_checks, "frontend_extensions", lambda: frontends)
    hints = {name: checks.install_hint(f"ipy{name}", force=True) for name in ("canvas", "widgets")}
    assert [line for line in lines(lab_checks.check_widget_frontends()) if line.startswith("fix")] == [
        expected.format(**hints)
    ]


def test_a_kernel_that_runs_another_python(monkeypatch):
    from jupyter_client import kernelspec

    spec = SimpleNamespace(argv=["/opt/other/bin/python", "-m", "ipykernel_launcher"], resource_dir="/k/python3")
    monkeypatch.setattr(kernelspec.KernelSpecManager, "get_kernel_spec", lambda self, name: spec)
    assert kernel_checks.check_kernel().line == (
        "fix: kernel: the python3 kernel (/k/python3) runs /opt/other/bin/python, not this Python: "
        f"{sys.executable} -m ipykernel install --user"
    )


@pytest.mark.slow
def test_a_real_kernel_starts_and_runs_one_cell():
    check = REAL_RUN_ONE_CELL(kernel_checks.KERNEL_DEADLINE_S)
    assert check.status == "ok", check.line
    assert check.detail.startswith("a python3 kernel started and ran `import mnist_tutorial` in ")


@pytest.mark.slow
def test_a_kernel_that_cannot_start_is_a_fix_naming_the_likely_causes(monkeypatch, tmp_path):
    from jupyter_client import kernelspec

    spec = kernelspec.KernelSpec(  # this Python, with a command that exits at once, as a broken kernel does
        argv=[sys.executable, "-c", "import sys; sys.exit(3)", "-f", "{connection_file}"],
        display_name="Python 3",
        language="python",
        resource_dir=str(tmp_path),
    )
    monkeypatch.setattr(kernelspec.KernelSpecManager, "get_kernel_spec", lambda self, name: spec)
    monkeypatch.setattr(kernel_checks, "run_one_cell", REAL_RUN_ONE_CELL)
    line = kernel_checks.check_kernel().line
    assert line.startswith("fix: kernel: a python3 kernel did not start within 30 s (RuntimeError: Kernel died")
    assert "a firewall or security tool blocking local connections on 127.0.0.1" in line
    assert line.endswith(f"or a broken ipykernel: {checks.install_hint('ipykernel', force=True)}")


def test_a_kernel_past_its_deadline(monkeypatch):
    monkeypatch.setattr(kernel_checks, "run_one_cell", REAL_RUN_ONE_CELL)
    check = kernel_checks.check_kernel(deadline_s=0.001)
    assert check.status == "fix"
    # Which step the deadline catches depends on how fast this machine starts a kernel: either is named.
    step = r"(start|run `import mnist_tutorial`)"
    assert re.match(rf"a python3 kernel did not {step} within 0\.001 s \(\w+Error: ", check.detail), check.detail


def test_without_loopback_no_kernel_is_started_and_a_missing_ipykernel_is_named(monkeypatch):
    def must_not_start(deadline_s):
        raise AssertionError("a kernel was started without loopback")

    monkeypatch.setattr(kernel_checks, "run_one_cell", must_not_start)
    find_spec = kernel_checks.importlib.util.find_spec
    monkeypatch.setattr(
        kernel_checks.importlib.util, "find_spec", lambda name: None if name == "ipykernel" else find_spec(name)
    )
    assert kernel_checks.cause() == f"ipykernel is missing from this Python: {checks.install_hint('ipykernel')}"
    monkeypatch.setattr(kernel_checks, "loopback_works", lambda timeout=2.0: False)
    assert kernel_checks.check_kernel().line == (
        "fix: kernel: no kernel can start here: this machine's loopback network (127.0.0.1) does not work, and "
        "Jupyter talks to its kernels over it: bring it up (Linux: sudo ip link set lo up) or ask whoever manages "
        "this machine"
    )


def write_notebook(path, *cells: str):
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in cells])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, path)
    return path


def test_run_notebook_runs_a_lesson_on_the_sample_and_says_how_long(capsys, tmp_path, data_dir):
    lesson = write_notebook(
        tmp_path / "03_training.ipynb",
        "import os, pathlib",
        f"assert os.environ[{SOURCE_ENV!r}] == 'sample' and os.environ[{OFFLINE_ENV!r}] == '1'",
        "pathlib.Path('ran-here').write_text('yes')",  # from the notebook's own folder, as in JupyterLab
    )
    before = lesson.read_text()
    status, out = run_doctor(capsys, "--data-dir", str(data_dir), "--run-notebook", str(lesson))
    assert status == 0, out
    assert out.splitlines()[-2].startswith("ok: notebook 03_training.ipynb: ran end to end on the sample in ")
    assert re.fullmatch(r"PASS: the course will work here \(\d+ s in all\)", out.splitlines()[-1])
    assert (tmp_path / "ran-here").read_text() == "yes"
    assert lesson.read_text() == before  # the learner's copy keeps no outputs
    assert SOURCE_ENV not in os.environ  # the room setting was for the kernel only


def test_run_notebook_names_the_cell_that_failed_or_the_notebook_it_cannot_find(tmp_path, monkeypatch):
    line = kernel_checks.check_notebook(write_notebook(tmp_path / "lesson.ipynb", "x = 1", "x / 0")).line
    assert line.startswith("fix: notebook lesson.ipynb: stopped at cell 2 after ")
    assert line.endswith(
        "(ZeroDivisionError: division by zero): open it in JupyterLab and run that cell to see the whole error"
    )
    monkeypatch.chdir(tmp_path)
    assert kernel_checks.check_notebook().line == (
        "fix: notebook 03_training.ipynb: 03_training.ipynb not found: run this in the course's folder, or name "
        "one: --run-notebook PATH"
    )


def test_report_dir_names_a_report_by_host_and_machine_so_clones_never_overwrite_each_other(
    capsys, tmp_path, data_dir, monkeypatch
):
    monkeypatch.setattr(report.platform, "node", lambda: "laptop 07/café")  # every clone's name
    monkeypatch.setattr(report.uuid, "getnode", lambda: 0x0242AC110002)  # the network card's address
    reports = tmp_path / "usb" / "reports"
    status, out = run_doctor(capsys, "--json", "--data-dir", str(data_dir), "--report-dir", str(reports))
    [written] = reports.iterdir()
    named = re.compile(r"laptop_07_café-[0-9a-f]{6}\.json")
    assert status == 0 and named.fullmatch(written.name)
    assert json.loads(written.read_text(encoding="utf-8")) == json.loads(out)  # stdout stays one JSON report
    assert json.loads(out)["host"] == "laptop 07/café"
    run_doctor(capsys, "--data-dir", str(data_dir), "--report-dir", str(reports))  # a second run replaces its own
    monkeypatch.setattr(report.uuid, "getnode", lambda: 0x0242AC110003)  # a clone on another machine
    run_doctor(capsys, "--data-dir", str(data_dir), "--report-dir", str(reports))
    [first, clone] = sorted(reports.iterdir(), key=lambda path: path != written)
    assert first == written and named.fullmatch(clone.name)
    writes = []
    monkeypatch.setattr(report, "write_bytes_atomic", lambda *args, **kwargs: writes.append((args, kwargs)))
    run_doctor(capsys, "--data-dir", str(data_dir), "--report-dir", str(reports), "--name", "ana-07")
    [((path, data), kwargs)] = writes
    assert path == reports / "ana-07.json" and kwargs == {"argument": "--report-dir"}
    assert json.loads(data)["host"] == "laptop 07/café"


@pytest.mark.parametrize(
    ("argv", "error"),
    [
        (["--name", "../ana"], "--name '../ana' is not a plain name"),
        (["--name", "usb/ana"], "--name 'usb/ana' is not a plain name"),
        (["--name", ".ana"], "--name '.ana' is not a plain name"),
        (["--name", "ana lopez"], "--name 'ana lopez' is not a plain name"),
        (["--name", ""], "--name '' is not a plain name"),
        (["--name", "a" * 65], f"--name '{'a' * 65}' is not a plain name"),
    ],
)
def test_a_name_that_is_not_a_plain_file_name_is_refused_in_one_line_before_anything_is_written(
    capsys, data_dir, tmp_path, argv, error
):
    status = cli.main(["doctor", "--data-dir", str(data_dir), "--report-dir", str(tmp_path / "reports"), *argv])
    assert (status, capsys.readouterr().err) == (
        2,
        f"mnist-tutorial: error: {error}: use up to 64 letters, digits, '-', '_' or '.', starting with a letter or "
        "digit, with no folder and no space (for example --name ana-07)\n",
    )
    assert os.listdir(tmp_path) == []


def test_a_name_without_a_report_dir_is_refused_in_one_line(capsys, data_dir):
    assert (cli.main(["doctor", "--data-dir", str(data_dir), "--name", "ana"]), capsys.readouterr().err) == (
        2,
        "mnist-tutorial: error: --name names the report that --report-dir writes: add --report-dir DIR\n",
    )


def test_an_empty_report_dir_is_refused_in_one_line(capsys, data_dir, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    status = cli.main(["doctor", "--data-dir", str(data_dir), "--report-dir", ""])
    assert (status, capsys.readouterr().err) == (
        2,
        "mnist-tutorial: error: --report-dir is empty: pass a file or folder name (an unset variable?)\n",
    )
    assert os.listdir(tmp_path) == []  # no <host>.json in the current folder


def test_a_planted_report_name_is_refused_in_one_line_and_nothing_poured_into_it(
    capsys, data_dir, monkeypatch, tmp_path
):
    # A FIFO with a reader: a plain write would not hang but pour the report into it. Links and the other kinds
    # are refused by the same check, for every writer: test_files.py.
    there = tmp_path / "laptop-07.json"
    os.mkfifo(there)
    reader = os.open(there, os.O_RDONLY | os.O_NONBLOCK)
    try:
        status = cli.main(["doctor", "--data-dir", str(data_dir), "--report-dir", str(tmp_path), "--name", "laptop-07"])
        poured = os.read(reader, 1 << 16)
    finally:
        os.close(reader)
    assert (status, capsys.readouterr().err, poured) == (
        2,
        f"mnist-tutorial: error: cannot write {there}: it is a FIFO, not a file the course wrote: move it away or "
        "choose another --report-dir\n",
        b"",
    )


LOW_MEMORY = SimpleNamespace(available=800_000_000, total=3_900_000_000)


def test_too_little_memory_for_one_student_is_a_note_saying_the_figure_and_what_to_do(capsys, monkeypatch, data_dir):
    monkeypatch.setattr(psutil, "virtual_memory", lambda: SimpleNamespace(available=7.6e9, total=15.5e9))
    assert checks.check_memory().line == "ok: memory: 7.6 GB available of 15.5 GB"
    monkeypatch.setattr(psutil, "virtual_memory", lambda: LOW_MEMORY)
    status, out = run_doctor(capsys, "--data-dir", str(data_dir))
    assert status == 0  # a warning: the course still runs, one notebook at a time
    assert (
        "note: memory: 0.8 GB available of 3.9 GB, below the 1 GB one student's notebooks need: close other programs "
        "and keep one notebook running at a time (Kernel > Shut Down Kernel before opening the next), or work in the "
        "room (docs/room.md)"
    ) in out.splitlines()


def columns(line: str) -> list[str]:
    """A table line's columns (two or more spaces apart)."""
    return re.split(r" {2,}", line.strip())


def test_summary_prints_a_row_per_report_and_names_each_file_it_skips(capsys, monkeypatch, data_dir, tmp_path):
    reports = tmp_path / "reports"
    monkeypatch.setattr(psutil, "virtual_memory", lambda: SimpleNamespace(available=7.6e9, total=15.5e9))
    monkeypatch.setattr(checks, "torch_devices", lambda: ["cpu"])
    run_doctor(capsys, "--data-dir", str(data_dir), "--report-dir", str(reports), "--name", "ana")
    monkeypatch.setattr(psutil, "virtual_memory", lambda: LOW_MEMORY)
    monkeypatch.setattr(checks, "torch_devices", lambda: ["cpu", "cuda:99"])  # the GPU fails, the CPU trains
    run_doctor(capsys, "--data-dir", str(data_dir), "--report-dir", str(reports), "--name", "ben")
    ben = json.loads((reports / "ben.json").read_text())
    cuda_fix = next(f"{c['name']}: {c['detail']}" for c in ben["checks"] if c["status"] == "fix")
    ben["checks"][0]["status"], ben["checks"][0]["detail"] = "fix", "\x1b[2J cleared the screen"
    (reports / "cleo.json").write_text(json.dumps(ben))  # a planted report: its escape is shown, not obeyed
    (reports / "link.json").symlink_to(reports / "ana.json")
    (reports / "folder.json").mkdir()
    os.mkfifo(reports / "fifo.json")
    (reports / "huge.json").write_text(json.dumps({**ben, "padding": " " * summary.MAX_REPORT_BYTES}))
    (reports / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    (reports / "notes.json").write_text('{"passed": true, "checks": [{"name": "memory"}]}')
    (reports / "README.txt").write_text("not a .json: not looked at")
    assert cli.main(["doctor", "--summary", str(reports)]) == 1  # not every laptop passed
    out = capsys.readouterr().out.splitlines()
    assert [columns(line) for line in out[:4]] == [
        ["report", "verdict", "memory", "devices", "first fix"],
        ["ana", "PASS", "7.6 GB available of 15.5 GB", "cpu", "-"],
        ["ben", "FAIL", "0.8 GB available of 3.9 GB", "cpu", cuda_fix[:200]],
        ["cleo", "FAIL", "0.8 GB available of 3.9 GB", "cpu", "python: ?[2J cleared the screen"],
    ]
    assert out[4:] == [
        "skipped deep.json: not JSON, not a report",
        "skipped fifo.json: it is a FIFO, not a report",
        "skipped folder.json: it is a folder, not a report",
        "skipped huge.json: larger than 256 KB, not a report",
        "skipped link.json: it is a symlink, not a report",
        "skipped notes.json: JSON, but not the doctor's report",
        "1 PASS, 2 FAIL, 6 skipped",
    ]


def test_summary_of_an_empty_folder_fails_and_of_no_folder_is_refused_in_one_line(capsys, tmp_path):
    assert cli.main(["doctor", "--summary", str(tmp_path)]) == 1
    assert capsys.readouterr().out.splitlines() == [
        "report  verdict  memory  devices  first fix",
        "0 PASS, 0 FAIL, 0 skipped",
    ]
    assert (cli.main(["doctor", "--summary", str(tmp_path / "usb")]), capsys.readouterr().err) == (
        2,
        f"mnist-tutorial: error: --summary {tmp_path / 'usb'} is not a folder: name the folder the laptops wrote with "
        "--report-dir\n",
    )
