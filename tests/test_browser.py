"""The notebooks that show widgets, in JupyterLab on 127.0.0.1 driven by headless Chromium (Playwright).

One server for all of them; each notebook: its saved outputs display, Run All ends without an error, every widget
renders and answers (progress bars; "next mistake" moves the explorer; a stroke on the pad gets a prediction; the
playground refuses a bad value, trains, stops on Stop), and the kernel's interrupt stops fit() cleanly, its bars
closed. Copies in build/ (beside notebooks/, so relative paths resolve alike) run, never the committed files; a
screenshot of each lands in build/screenshots/. Chromium: /usr/bin/chromium or $MNIST_TUTORIAL_CHROMIUM.
"""

import contextlib
import ctypes
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import nbformat
import psutil
import pytest
from helpers import chromium

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
# A widget nbval cannot look at: fit's progress bars (unless progress=False), the explorer, the playground, the pad.
# The notebooks that show one run here; the others run again from the wheel (tests/test_wheel.py) or not at all.
WIDGETS = re.compile(r"\b(prediction_explorer|playground|draw_digit)\(|\bfit\((?![^)]*progress=False)")
NOTEBOOKS = [
    path for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")) if WIDGETS.search(path.read_text())
]
BUILD = ROOT / "build"
SCREENSHOTS = BUILD / "screenshots"
LAB_START_S = 90  # JupyterLab answering /api/status
OPEN_S = 60  # a notebook page loaded and its kernel idle
RUN_S = 420  # Run All, per notebook (03 trains 10 epochs; a loaded 2-core machine is slow)
WIDGET_S = 30  # a widget answering a click or a stroke
TRAINED = re.compile(r"Epoch \d+/\d+: train loss")  # the line progress.Progress prints after each epoch
ERROR_TEXTS = ("Error displaying widget", "Model not found", "model not found")

# JupyterLab settings for a quiet, deterministic page: no news or update checks (the network is closed),
# no autosave, and every cell kept in the DOM (not windowed) so that all outputs can be inspected.
LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
    "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
    "@jupyterlab/docmanager-extension/plugin": {"autosave": False},
}
# Port 0: the system picks a free port as the server binds it, so nothing can take it first. No news, no update
# check, no extension manager; window.jupyterapp exposed, to read cell models and the kernel's status.
LAB_OPTIONS = "lab --no-browser --allow-root --ServerApp.ip=127.0.0.1 --ServerApp.port=0 --ServerApp.port_retries=0"
LAB_OPTIONS += " --LabApp.news_url=None --LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"
LAB_OPTIONS += " --LabApp.extension_manager=readonly --LabApp.expose_app_in_browser=True"


# ------------------------------------------------------------------------------------------- JupyterLab


class Lab:
    """A running JupyterLab server: its URL and token."""

    def __init__(self, token: str) -> None:
        self.url, self.token = "", token

    def api(self, path: str, method: str = "GET") -> object:
        request = urllib.request.Request(f"{self.url}{path}", method=method)
        request.add_header("Authorization", f"token {self.token}")
        with urllib.request.urlopen(request, timeout=10) as response:
            body = response.read()
        return json.loads(body) if body else None

    def shut_down_kernels(self) -> None:
        for session in self.api("/api/sessions"):  # deleting a session shuts its kernel down
            self.api(f"/api/sessions/{session['id']}", method="DELETE")


def lab_environment(home: Path) -> dict[str, str]:
    """The learner's environment, minus MNIST_TUTORIAL_PROGRESS (bars must be widgets), offline, on the sample."""
    env = {key: value for key, value in os.environ.items() if key != "MNIST_TUTORIAL_PROGRESS"}
    env.update(
        MNIST_TUTORIAL_OFFLINE="1",
        MNIST_TUTORIAL_SOURCE="sample",
        JUPYTER_CONFIG_DIR=str(home / "config"),
        JUPYTER_RUNTIME_DIR=str(home / "runtime"),
        JUPYTERLAB_SETTINGS_DIR=str(home / "settings"),
        JUPYTERLAB_WORKSPACES_DIR=str(home / "workspaces"),
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    )
    for plugin, values in LAB_SETTINGS.items():
        path = home / "settings" / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    return env


def stop_with_parent() -> None:
    """In the server's process (Linux): SIGTERM when pytest dies, however it dies, so no JupyterLab is left behind."""
    if sys.platform == "linux":
        ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def interrupt_on_sigterm(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")  # pytest then runs the fixtures' teardown


def stop(server: subprocess.Popen, runtime_dir: Path) -> None:
    """Stop the server (it shuts its kernels down), then kill any kernel of ours still there."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()
    for process in psutil.process_iter(["cmdline"]):  # kernels start in sessions of their own; ours name runtime_dir
        if str(runtime_dir) in " ".join(process.info["cmdline"] or ()):
            with contextlib.suppress(psutil.Error):
                process.kill()


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    home = tmp_path_factory.mktemp("jupyter-home")
    BUILD.mkdir(exist_ok=True)
    copies = [Path(shutil.copy(path, BUILD)) for path in NOTEBOOKS]
    lab, log_path = Lab(secrets.token_hex(16)), home / "jupyterlab.log"
    command = [str(Path(sys.executable).parent / "jupyter"), *LAB_OPTIONS.split()]
    command += [f"--IdentityProvider.token={lab.token}", f"--ServerApp.root_dir={BUILD}"]
    with open(log_path, "wb") as log:
        server = subprocess.Popen(
            command,
            cwd=BUILD,
            env=lab_environment(home),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=stop_with_parent,
        )
    previous_sigterm = signal.signal(signal.SIGTERM, interrupt_on_sigterm)  # a CI timeout: tear down first
    try:
        wait_until_up(lab, server, log_path, home / "runtime")
        yield lab
    finally:
        signal.signal(signal.SIGTERM, previous_sigterm)
        stop(server, home / "runtime")
        for copy in copies:
            copy.unlink(missing_ok=True)
        shutil.rmtree(BUILD / ".ipynb_checkpoints", ignore_errors=True)


def wait_until_up(lab: Lab, server: subprocess.Popen, log_path: Path, runtime: Path) -> None:
    """Wait for the server's runtime file (it names the port the system gave it), then for /api/status."""
    deadline, server_file = time.monotonic() + LAB_START_S, runtime / f"jpserver-{server.pid}.json"
    while server.poll() is None and time.monotonic() < deadline:
        try:
            lab.url = lab.url or f"http://127.0.0.1:{json.loads(server_file.read_text())['port']}"
            lab.api("/api/status")
            return
        except (OSError, ValueError, KeyError):  # no file or half-written, refused, reset: not up yet
            time.sleep(0.5)
    log = "\n".join(log_path.read_text(errors="replace").splitlines()[-30:])
    ended = f"exited with status {server.returncode} at start" if server.poll() is not None else "did not answer"
    pytest.fail(f"JupyterLab {ended} within {LAB_START_S} s; its log ends:\n{log}")


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with chromium() as browser:
        yield browser


# ------------------------------------------------------------------------------------------ in the page

KERNEL_IDLE = """() => {
    const panel = window.jupyterapp?.shell.currentWidget;
    return panel?.sessionContext?.session?.kernel?.status === 'idle' && panel.content.widgets.length > 0;
}"""

# Where the run stands: code cells still without an execution count, error outputs, the kernel's status.
RUN_STATE = """() => {
    const panel = window.jupyterapp.shell.currentWidget;
    const cells = panel.content.model.toJSON().cells.filter(cell => cell.cell_type === 'code');
    const errors = cells.flatMap((cell, i) => cell.outputs.filter(output => output.output_type === 'error')
        .map(output => `code cell ${i + 1}: ${output.ename}: ${output.evalue}`));
    const pending = cells.filter(cell => !cell.execution_count).length;
    return {pending, errors, kernel: panel.sessionContext.session.kernel.status};
}"""

NOTEBOOK_SCROLLER = ".jp-NotebookPanel .jp-WindowedPanel-outer"
NOTEBOOK_CELLS = ".jp-NotebookPanel .jp-WindowedPanel-viewport"


def open_notebook(page, lab: Lab, name: str) -> None:
    page.goto(f"{lab.url}/lab/tree/{name}?token={lab.token}&reset", timeout=OPEN_S * 1000)
    page.wait_for_function(KERNEL_IDLE, timeout=OPEN_S * 1000, polling=250)
    dialog = page.locator(".jp-Dialog")
    if dialog.count():
        pytest.fail(f"{name}: a dialog opened with the notebook: {dialog.first.inner_text()[:300]}")


def run_all(page, name: str) -> None:
    """Run > Run All Cells, then wait until every code cell ran and the kernel is idle; fail fast on errors."""
    page.locator(".lm-MenuBar-item", has_text=re.compile(r"^Run$")).click()
    page.locator(".lm-Menu-item[data-command='runmenu:run-all']").click()
    deadline = time.monotonic() + RUN_S
    while True:
        state = page.evaluate(RUN_STATE)
        if state["errors"]:
            pytest.fail(f"{name} raised an error in JupyterLab:\n" + "\n".join(state["errors"]))
        if state["kernel"] in ("dead", "unknown"):
            pytest.fail(f"{name}: the kernel died (status {state['kernel']})")
        if state["pending"] == 0 and state["kernel"] == "idle":
            return
        if time.monotonic() > deadline:
            pytest.fail(f"{name}: {state['pending']} cell(s) still not run after {RUN_S} s")
        time.sleep(0.5)


def notebook_text(page) -> str:
    return page.locator(".jp-NotebookPanel .jp-Notebook").inner_text()


def check_no_widget_errors(page, name: str, when: str) -> None:
    text = notebook_text(page)
    for error in ERROR_TEXTS:
        at = text.find(error)
        assert at < 0, f"{name} {when}: {error!r} is shown:\n{text[max(0, at - 300) : at + 300]}"


def screenshot(page, name: str) -> None:
    """The whole notebook in one picture: hide the side bar, grow the window to the notebook's height."""
    page.evaluate("() => window.jupyterapp.shell.collapseLeft()")
    cells_height = page.evaluate(f"() => document.querySelector('{NOTEBOOK_CELLS}').getBoundingClientRect().height")
    page.set_viewport_size({"width": 1280, "height": min(max(900, int(cells_height) + 200), 16_000)})
    page.evaluate(f"() => {{ document.querySelector('{NOTEBOOK_SCROLLER}').scrollTop = 0; }}")
    page.wait_for_timeout(500)  # let the layout settle at the new size
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{Path(name).stem}.png"), full_page=True)


# ------------------------------------------------------------------------------------- widget checks


def expect_text(where, text: str, failure: str, timeout_s: float = WIDGET_S) -> None:
    """Wait until `where` shows `text`; else fail, saying `failure` and what it shows."""
    try:
        where.locator(f"text={text}").wait_for(timeout=timeout_s * 1000)
    except Exception:
        pytest.fail(f"{failure}: {where.inner_text()!r}")


def enter(field, value: str) -> None:
    field.fill(value)
    field.press("Enter")  # a text widget sends its value on Enter or when it loses focus


def check_explorer(page, name: str) -> None:
    explorer = page.locator(".mnist-explorer").first
    explorer.wait_for(state="visible")
    label = explorer.locator(".mnist-explorer-label")
    before = label.inner_text()
    assert "predicted" in before, f"{name}: the explorer shows {before!r}"
    explorer.locator(".mnist-next-mistake").click()
    changed = "([el, before]) => el.innerText !== before"
    page.wait_for_function(changed, arg=[label.element_handle(), before])
    after = label.inner_text()
    assert "predicted" in after and after != before, f"{name}: 'next mistake' left the label at {after!r}"
    picture = explorer.locator("img").first
    assert picture.evaluate("img => img.naturalWidth") > 100, f"{name}: the explorer shows no image and bar chart"


def check_drawing_pad(page, name: str) -> None:
    pad = page.locator(".mnist-draw").first
    pad.wait_for(state="visible")
    canvas = pad.locator("canvas").first
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    assert box and box["width"] > 100, f"{name}: the drawing canvas is not rendered ({box})"
    prediction = pad.locator(".mnist-draw-prediction")
    assert "predicted" not in prediction.inner_text()
    x = box["x"] + box["width"] / 2
    for attempt in ("then Clear", "and keep it for the screenshot"):
        page.mouse.move(x + 10, box["y"] + box["height"] * 0.15)  # a one, down the middle, the button held
        page.mouse.down()
        page.mouse.move(x, box["y"] + box["height"] * 0.85, steps=12)
        page.mouse.up()
        expect_text(prediction, "predicted", f"{name}: no prediction after a stroke on the canvas")
        if attempt == "then Clear":
            pad.locator(".mnist-draw-clear").click()
            prediction.locator("text=Draw a digit").wait_for()


def check_playground(page, name: str) -> None:
    form = page.locator(".mnist-playground").first
    form.wait_for(state="visible")
    status = form.locator(".mnist-playground-status")
    fields = form.locator("input")
    learning_rate, epochs = fields.nth(0), fields.nth(2)
    enter(learning_rate, "-1")
    form.locator(".mnist-train").click()
    status.locator("text=Refused").wait_for()
    assert "learning rate" in status.inner_text(), status.inner_text()
    enter(learning_rate, "0.01")
    enter(epochs, "1")
    form.locator(".mnist-train").click()
    expect_text(status, "Test accuracy", f"{name}: the playground did not report a test accuracy", RUN_S)
    assert form.locator(".widget-hprogress").count() > 0, f"{name}: the playground showed no progress bar"
    assert form.locator("img").count() > 0, f"{name}: the playground showed no loss plot"

    # A long run, ended with Stop once an epoch is done: training ends cleanly, keeps what it learned,
    # and its bars stay on the page, closed, in red where they stopped.
    enter(epochs, "500")
    form.locator(".mnist-train").click()
    form.locator("text=Epoch 1/500").wait_for(timeout=RUN_S * 1000)
    form.locator(".mnist-stop").click()
    expect_text(status, "stopped early", f"{name}: Stop did not end training cleanly")
    assert form.locator(".progress-bar-danger").count() >= 1, f"{name}: no stopped (red) progress bar"


INTERRUPTIBLE = re.compile(r"\bfit\(model, train_loader, test_loader\b")  # a training cell to run again, longer


def check_interrupting_training(page, name: str) -> None:
    """Append a cell that trains for a long time, run it, press Kernel > Interrupt Kernel: fit() must stop
    cleanly (no traceback, the "Interrupted" line) and leave its bars closed, in red."""
    page.evaluate(
        """() => {
        const app = window.jupyterapp;
        const panel = app.shell.currentWidget;
        panel.content.activeCellIndex = panel.content.widgets.length - 1;
        return app.commands.execute('notebook:insert-cell-below').then(() => {
            panel.content.activeCell.model.sharedModel.setSource(
                'history = fit(model, train_loader, test_loader, num_epochs=10_000)');
            app.commands.execute('notebook:run-cell');  // not awaited: it settles when the cell ends
        });
    }"""
    )
    cell = page.locator(".jp-Notebook .jp-CodeCell").last
    cell.locator("text=Epoch 1/10000").wait_for(timeout=RUN_S * 1000)
    page.locator(".lm-MenuBar-item", has_text=re.compile(r"^Kernel$")).click()
    page.locator(".lm-Menu-item[data-command='kernelmenu:interrupt']").click()
    expect_text(cell, "Interrupted: keeping the model", f"{name}: interrupting did not stop fit() cleanly")
    page.wait_for_function(KERNEL_IDLE, polling=250)
    state = page.evaluate(RUN_STATE)
    assert not state["errors"], f"{name}: interrupting raised {state['errors']}"
    assert cell.locator(".progress-bar-danger").count() >= 1, f"{name}: the interrupted bars are not closed in red"


# ------------------------------------------------------------------------------------------------ tests


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def test_notebook_in_jupyterlab(browser, lab: Lab, notebook: Path) -> None:
    source = "\n".join(cell.source for cell in nbformat.read(notebook, as_version=4).cells if cell.cell_type == "code")
    browser_context = browser.new_context(viewport={"width": 1280, "height": 900})
    browser_context.set_default_timeout(WIDGET_S * 1000)
    page = browser_context.new_page()
    page_errors: list[str] = []
    page.on("pageerror", lambda error: page_errors.append(str(error)))
    try:
        open_notebook(page, lab, notebook.name)
        check_no_widget_errors(page, notebook.name, "as saved")
        run_all(page, notebook.name)
        check_no_widget_errors(page, notebook.name, "after Run All")
        if TRAINED.search(notebook_text(page)):  # fit() ran: its bars must be there, visible
            assert page.locator(".jp-OutputArea-output .widget-hprogress").first.is_visible(), "no progress bar"
        if "prediction_explorer(" in source:
            check_explorer(page, notebook.name)
        if "draw_digit(" in source:
            check_drawing_pad(page, notebook.name)
        if "playground(" in source:
            check_playground(page, notebook.name)
        if INTERRUPTIBLE.search(source):
            check_interrupting_training(page, notebook.name)
        page.wait_for_function(KERNEL_IDLE, timeout=RUN_S * 1000, polling=250)  # callbacks done
        check_no_widget_errors(page, notebook.name, "after using its widgets")
        assert not page_errors, f"{notebook.name}: JavaScript errors in the page: {page_errors}"
    finally:
        for step in (lambda: screenshot(page, notebook.name), browser_context.close, lab.shut_down_kernels):
            try:  # each step, whatever the others did; never hiding the test's own failure
                step()  # shutting the kernel down: the next notebook gets the CPU
            except Exception as error:
                print(f"after {notebook.name}: {error}")
