"""The pre-flight: passes here; a failing check is a `fix:` line naming what to do, and exit status 1; never downloads.

Most problems are planted one at a time in a whole run, which must then show that line and only that one not `ok`.
"""

import argparse
import atexit
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
from jupyter_client import kernelspec
from packaging.requirements import Requirement
from torchvision import datasets

from mnist_tutorial import cli
from mnist_tutorial.cli.commands import add_doctor
from mnist_tutorial.datasets import download, sources
from mnist_tutorial.defaults import OFFLINE_ENV, SOURCE_ENV
from mnist_tutorial.doctor import checks, jupyter_checks, report, summary

GOOD_FRONTENDS = {"@jupyter-widgets/jupyterlab-manager": ("5.0.16", True), "ipycanvas": ("0.14.3", True)}
REAL_FRONTEND_EXTENSIONS = jupyter_checks.frontend_extensions
REAL_RUN_ONE_CELL = jupyter_checks.run_one_cell
REAL_VERSION = jupyter_checks.metadata.version
VERSION = {"ipywidgets": "8.1.9", "ipycanvas": "0.14.3"}  # the widget packages the front ends below speak to
REAL_MIRROR_REACHABLE = checks.mirror_reachable
REAL_STEP = checks.tiny_training_step
PLENTY, LOW_MEMORY = SimpleNamespace(available=7.6e9, total=15.5e9), SimpleNamespace(available=8e8, total=3.9e9)


@pytest.fixture(autouse=True)
def healthy(monkeypatch):
    """JupyterLab's extensions as a healthy install has them (listing the real ones takes 2 s), a kernel that starts
    and runs its cell (a real one takes seconds: the tests below start them on purpose), memory to spare, and a
    training step on the CPU taken as done (the first test takes it)."""
    monkeypatch.setattr(jupyter_checks, "frontend_extensions", lambda: dict(GOOD_FRONTENDS))
    monkeypatch.setattr(jupyter_checks.metadata, "version", version)
    monkeypatch.setattr(jupyter_checks, "run_one_cell", lambda deadline_s: checks.ok("kernel", "stand-in"))
    monkeypatch.setattr(psutil, "virtual_memory", lambda: PLENTY)
    monkeypatch.setattr(checks, "tiny_training_step", lambda device: device == "cpu" or REAL_STEP(device))


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


def test_passes_here_with_one_ok_line_per_check_on_full_data_that_matches(capsys, monkeypatch, data_dir):
    monkeypatch.setattr(checks, "tiny_training_step", REAL_STEP)
    # Full data whose md5s match (damaged full data: test_checksums.py).
    raw = write_dataset(data_dir / "MNIST" / "raw", checked=None)
    names = [name for name, _ in datasets.MNIST.resources]
    monkeypatch.setattr(datasets.MNIST, "resources", [(name, md5(raw / name)) for name in names])
    status, out = run_doctor(capsys, "--data-dir", str(data_dir))
    *shown, verdict = out.splitlines()
    assert (status, verdict) == (0, "PASS: the course will work here") and all(line[:4] == "ok: " for line in shown)
    assert {
        "ok: sample: 4 files, md5s match",
        "ok: device cpu: one training step ran",
        "ok: memory: 7.6 GB available of 15.5 GB",
        "ok: data source: full (full MNIST)",
        "ok: full MNIST: 4 files, md5s match",
    } <= set(shown)


def raising(error: Exception):
    def fails(*args, **kwargs):
        raise error

    return fails


broken = raising(RuntimeError("boom"))


def version(name: str, missing: str = "") -> str:
    """importlib.metadata.version, with VERSION's widget packages, and `missing` not installed."""
    if name == missing:
        raise jupyter_checks.metadata.PackageNotFoundError(name)
    return VERSION.get(name) or REAL_VERSION(name)


OTHER_PYTHON = SimpleNamespace(argv=["/opt/other/bin/python", "-m", "ipykernel_launcher"], resource_dir="/k/python3")
MISMATCH = 'does not match {} in the kernel ("Error displaying widget"): {}'
MANAGER = "@jupyter-widgets/jupyterlab-manager"
NO_TORCH = "libtorch_cpu.so: cannot open shared object file"
LAB = 'pip install "jupyterlab>=4.2,<5"'


def frontends(**changed):
    """Plants JupyterLab's extensions as the good ones with `changed` ((version, enabled), or None: missing)."""
    found = {**GOOD_FRONTENDS, **{MANAGER if name == "manager" else name: v for name, v in changed.items()}}
    listed = {name: value for name, value in found.items() if value}
    return lambda mp: mp.setattr(jupyter_checks, "frontend_extensions", lambda: listed)


# Each problem planted in a whole run, and the lines then not `ok`, in order ("…": anything; {…}: WORDS).
PROBLEMS = [
    ("old-python", lambda mp: mp.setattr(checks.metadata, "metadata", lambda name: {"Requires-Python": ">=3.99"}),
     "fix: python: Python {python} is outside what the course needs (>=3.99): install Python 3.10 or newer"),
    ("check-breaks", lambda mp: mp.setattr(sources, "resolve_source", broken),
     "fix: data source: could not be checked (RuntimeError: boom): reinstall the course"),
    ("no-torch", lambda mp: mp.setattr(checks, "torch_devices", raising(ImportError(NO_TORCH))),
     f"fix: torch: cannot be imported ({NO_TORCH}): {{torch}}"),
    ("old-and-missing", lambda mp: mp.setattr(checks, "course_requirements", lambda: OLD_AND_MISSING),
     'fix: torch: {torch_version} is outside >=99: pip install "torch>=99"\n'
     'fix: no-such-dependency: not installed: pip install "no-such-dependency>=1"'),
    ("gpu-cannot-train", lambda mp: mp.setattr(checks, "torch_devices", lambda: ["cpu", "cuda:99"]),  # no one has 100
     "fix: device cuda:99: a training step failed (…): use --device cpu (or $MNIST_TUTORIAL_DEVICE=cpu), or update "
     "the GPU driver"),
    ("low-memory", lambda mp: mp.setattr(psutil, "virtual_memory", lambda: LOW_MEMORY),  # a note: it still runs
     "note: memory: 0.8 GB available of 3.9 GB, below the 1.5 GB one student's notebooks need: close other programs "
     "and keep one notebook running at a time (Kernel > Shut Down Kernel before opening the next), or work in the "
     "room (docs/room.md)"),
    ("full-data-absent", lambda mp: mp.setenv(SOURCE_ENV, "full"),
     "fix: data source: full MNIST is not in {data_dir}/MNIST/raw and ${offline} is set: …"),
    ("full-disk", lambda mp: mp.setattr(checks.shutil, "disk_usage", lambda path: SimpleNamespace(free=2e8)),
     "fix: disk: 0.2 GiB free, the course needs 1 GiB: free some space"),
    ("no-jupyterlab", lambda mp: mp.setattr(checks.metadata, "version", lambda name: version(name, "jupyterlab")),
     f"fix: jupyterlab: not installed: {LAB}\nfix: jupyter-lab: not installed in this Python: {LAB}"),
    ("kernel-of-another-python", lambda mp: mp.setattr(kernelspec.KernelSpecManager, "get_kernel_spec",
                                                       lambda self, name: OTHER_PYTHON),
     "fix: kernel: the python3 kernel (/k/python3) runs /opt/other/bin/python, not this Python: "
     "{executable} -m ipykernel install --user"),
    ("no-loopback", lambda mp: mp.setattr(jupyter_checks, "loopback_works", lambda timeout=2.0: False),
     "fix: kernel: no kernel can start here: this machine's loopback network (127.0.0.1) does not work, and Jupyter "
     "talks to its kernels over it: bring it up (Linux: sudo ip link set lo up) or ask whoever manages this machine"),
    ("manager-missing", frontends(manager=None),
     f'fix: {MANAGER}: front-end extension missing, so widgets show "Error displaying widget": '
     "{widgets} jupyterlab_widgets"),
    ("canvas-disabled", frontends(ipycanvas=("0.14.3", False)),
     "fix: ipycanvas: front-end extension 0.14.3 is disabled: jupyter labextension enable ipycanvas"),
    ("manager-mismatch", frontends(manager=("3.1.0", True)),
     f"fix: {MANAGER}: front-end 3.1.0 " + MISMATCH.format("ipywidgets 8.1.9", "{widgets} jupyterlab_widgets")),
    ("canvas-mismatch", frontends(ipycanvas=("0.13.2", True)),
     "fix: ipycanvas: front-end 0.13.2 " + MISMATCH.format("ipycanvas 0.14.3", "{canvas}")),
]  # fmt: skip
OLD_AND_MISSING = [Requirement("torch>=99"), Requirement("no-such-dependency>=1")]


@pytest.mark.parametrize(("plant", "expected"), [case[1:] for case in PROBLEMS], ids=[case[0] for case in PROBLEMS])
def test_a_problem_is_its_own_line_and_a_fix_fails_the_run(capsys, monkeypatch, data_dir, plant, expected):
    words = {
        "python": sys.version.split()[0],
        "executable": sys.executable,
        "data_dir": data_dir,
        "offline": OFFLINE_ENV,
        "torch": checks.install_hint("torch", force=True),  # the range pyproject.toml declares
        "torch_version": checks.metadata.version("torch"),
        "widgets": checks.install_hint("ipywidgets", force=True),
        "canvas": checks.install_hint("ipycanvas", force=True),
    }
    plant(monkeypatch)
    status, out = run_doctor(capsys, "--data-dir", str(data_dir))
    *shown, verdict = out.splitlines()
    not_ok = [line for line in shown if not line.startswith("ok: ")]
    patterns = [".*".join(map(re.escape, line.split("…"))) for line in expected.format(**words).splitlines()]
    assert len(not_ok) == len(patterns) and all(map(re.fullmatch, patterns, not_ok)), out
    fixes = sum(line.startswith("fix: ") for line in not_ok)
    assert (status, verdict) == (
        (1, f"FAIL: {fixes} of {len(shown)} checks need a fix (the `fix:` lines above)")
        if fixes
        else (0, "PASS: the course will work here")
    )


def test_the_manifest_matches_the_shipped_sample_and_a_corrupt_sample_file_is_named(tmp_path):
    listed = checks.read_manifest(checks.SAMPLE_MANIFEST)
    assert sorted(listed) == sorted(path.name for path in sources.SAMPLE_DIR.iterdir() if path.name in listed)
    assert len(listed) == 4 and all(md5(sources.SAMPLE_DIR / name) == digest for name, digest in listed.items())
    copy = tmp_path / "sample"
    shutil.copytree(sources.SAMPLE_DIR, copy)
    damaged = bytearray((copy / "t10k-labels-idx1-ubyte").read_bytes())
    damaged[100] ^= 1  # one label changed: still loads, but is not the sample
    (copy / "t10k-labels-idx1-ubyte").write_bytes(bytes(damaged))
    assert checks.check_sample(copy).line == (
        f"fix: sample: missing or damaged: t10k-labels-idx1-ubyte: {sources.RESTORE_SAMPLE}"
    )


def test_mirrors_are_asked_only_online_for_headers_and_never_for_the_sample(
    capsys, monkeypatch, data_dir, mirror, closed_port_url
):
    asked = []
    monkeypatch.setattr(checks, "mirror_reachable", lambda url, timeout: asked.append(url) or True)
    assert checks.check_mirrors().line == f"ok: mirrors: not checked: network use is off (${OFFLINE_ENV})"
    monkeypatch.delenv(OFFLINE_ENV)
    monkeypatch.setenv(SOURCE_ENV, "sample")
    assert checks.check_mirrors().line == f"ok: mirrors: not checked: ${SOURCE_ENV}=sample never downloads"
    assert asked == []  # not even a HEAD request
    monkeypatch.delenv(SOURCE_ENV)
    monkeypatch.setattr(checks, "mirror_reachable", REAL_MIRROR_REACHABLE)
    monkeypatch.setattr(download, "download_files", broken)  # doctor must never start a download
    monkeypatch.setattr(sources, "download_files", broken)
    (mirror[1] / datasets.MNIST.resources[0][0]).write_bytes(b"x")
    monkeypatch.setattr(datasets.MNIST, "mirrors", [mirror[0], closed_port_url])
    assert checks.check_mirrors().line == "ok: mirrors: 1 of 2 reachable"
    monkeypatch.setattr(datasets.MNIST, "mirrors", [closed_port_url])
    status, out = run_doctor(capsys, "--data-dir", str(data_dir))
    assert status == 0  # the sample stands in: worth a note, not a failure
    assert "note: mirrors: none reachable: full MNIST cannot be downloaded here; the course uses the sample" in out
    assert "ok: data source: sample (the embedded sample)" in out  # and nothing was downloaded


def test_the_real_extension_list_has_both_widget_front_ends_enabled():
    listed = REAL_FRONTEND_EXTENSIONS()
    assert all(listed[name][1] for name in GOOD_FRONTENDS), listed


@pytest.mark.slow
def test_a_real_kernel_starts_and_one_that_cannot_is_a_fix_naming_the_likely_causes(monkeypatch, tmp_path):
    check = REAL_RUN_ONE_CELL(jupyter_checks.KERNEL_DEADLINE_S)
    assert check.status == "ok", check.line
    assert check.detail.startswith("a python3 kernel started and ran `import mnist_tutorial` in ")
    spec = kernelspec.KernelSpec(  # this Python, with a command that exits at once, as a broken kernel does
        argv=[sys.executable, "-c", "import sys; sys.exit(3)", "-f", "{connection_file}"],
        display_name="Python 3",
        language="python",
        resource_dir=str(tmp_path),
    )
    monkeypatch.setattr(kernelspec.KernelSpecManager, "get_kernel_spec", lambda self, name: spec)
    monkeypatch.setattr(jupyter_checks, "run_one_cell", REAL_RUN_ONE_CELL)
    at_exit = []  # what is left to run at exit: nbclient's clean-up of a kernel that never started fails there
    monkeypatch.setattr(atexit, "register", lambda function: at_exit.append(function))
    monkeypatch.setattr(atexit, "unregister", lambda function: at_exit.remove(function))
    line = jupyter_checks.check_kernel().line
    assert at_exit == []
    assert line.startswith("fix: kernel: a python3 kernel did not start within 30 s (RuntimeError: Kernel died")
    assert "a firewall or security tool blocking local connections on 127.0.0.1" in line
    assert line.endswith(f"or a broken ipykernel: {checks.install_hint('ipykernel', force=True)}")


def test_a_kernel_past_its_deadline_and_the_cause_when_ipykernel_is_missing(monkeypatch):
    monkeypatch.setattr(jupyter_checks, "run_one_cell", REAL_RUN_ONE_CELL)
    check = jupyter_checks.check_kernel(deadline_s=0.001)
    assert check.status == "fix"
    # Which step the deadline catches depends on how fast this machine starts a kernel: either is named.
    step = r"(start|run `import mnist_tutorial`)"
    assert re.match(rf"a python3 kernel did not {step} within 0\.001 s \(\w+Error: ", check.detail), check.detail
    find_spec = jupyter_checks.importlib.util.find_spec
    monkeypatch.setattr(
        jupyter_checks.importlib.util, "find_spec", lambda name: None if name == "ipykernel" else find_spec(name)
    )
    assert jupyter_checks.cause() == f"ipykernel is missing from this Python: {checks.install_hint('ipykernel')}"


def write_notebook(path, *cells: str):
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in cells])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, path)
    return path


def test_run_notebook_runs_a_lesson_on_the_sample_says_how_long_or_names_what_failed(
    capsys, monkeypatch, tmp_path, data_dir
):
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
    line = jupyter_checks.check_notebook(write_notebook(tmp_path / "lesson.ipynb", "x = 1", "x / 0")).line
    assert line.startswith("fix: notebook lesson.ipynb: stopped at cell 2 after ")
    assert line.endswith(
        "(ZeroDivisionError: division by zero): open it in JupyterLab and run that cell to see the whole error"
    )
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    assert jupyter_checks.check_notebook().line == (
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
    found = json.loads(out)  # stdout stays one JSON report
    assert json.loads(written.read_text(encoding="utf-8")) == found and found["passed"] is True
    assert {"host", "platform", "python", "time", "verdict"} <= found.keys() and found["host"] == "laptop 07/café"
    assert {"name": "sample", "status": "ok", "detail": "4 files, md5s match"} in found["checks"]
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


PLAIN = (
    ": use up to 64 letters, digits, '-', '_' or '.', starting with a letter or digit, with no folder and no space "
    "(for example --name ana-07)"
)


@pytest.mark.parametrize(
    ("argv", "error"),
    [
        *[(["--report-dir", "reports", "--name", name], f"--name {name!r} is not a plain name{PLAIN}")
          for name in ("../ana", "usb/ana", ".ana", "ana lopez", "", "a" * 65)],
        (["--name", "ana"], "--name names the report that --report-dir writes: add --report-dir DIR"),
        (["--report-dir", ""], "--report-dir is empty: pass a file or folder name (an unset variable?)"),
    ],
)  # fmt: skip
def test_a_bad_name_or_report_dir_is_refused_in_one_line_before_anything_is_written(
    capsys, data_dir, monkeypatch, tmp_path, argv, error
):
    monkeypatch.chdir(tmp_path)
    status = cli.main(["doctor", "--data-dir", str(data_dir), *argv])
    assert (status, capsys.readouterr().err) == (2, f"mnist-tutorial: error: {error}\n")
    assert os.listdir(tmp_path) == []  # no reports/ folder, no <host>.json in the current folder


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


def columns(line: str) -> list[str]:
    """A table line's columns (two or more spaces apart)."""
    return re.split(r" {2,}", line.strip())


def test_summary_prints_a_row_per_report_and_names_each_file_it_skips(capsys, monkeypatch, data_dir, tmp_path):
    reports = tmp_path / "reports"
    assert (cli.main(["doctor", "--summary", str(reports)]), capsys.readouterr().err) == (
        2,
        f"mnist-tutorial: error: --summary {reports} is not a folder: name the folder the laptops wrote with "
        "--report-dir\n",
    )
    reports.mkdir()
    assert cli.main(["doctor", "--summary", str(reports)]) == 1  # no report: nothing passed
    assert capsys.readouterr().out.splitlines() == [
        "report  verdict  memory  devices  first fix",
        "0 PASS, 0 FAIL, 0 skipped",
    ]
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
