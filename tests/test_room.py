"""mnist_tutorial.room: a real JupyterHub and proxy on loopback; three students and the teacher use Chromium."""

import contextlib
import html
import io
import json
import os
import pwd
import re
import shutil
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest
import torch
import websocket  # websocket-client, a dependency of jupyter_server
from helpers import axe_violations, chromium

from mnist_tutorial import NeuralNetwork, room
from mnist_tutorial.defaults import IDLE_MINUTES, ROOM_RECORD_ENV, STUDENT_MEMORY_GB
from mnist_tutorial.errors import ConfigError
from mnist_tutorial.room import accounts, capacity, cgroups
from mnist_tutorial.room.hub_config import CULLER, SIGN_IN_HINT
from mnist_tutorial.room.start import OWN_ACCOUNTS, SHARED_ACCOUNT, address, closed_to_others, free_port
from tools import make_student

ROOT = Path(__file__).resolve().parent.parent

STUDENTS = ("ada", "bo", "cy")
AS_ROOT = os.geteuid() == 0
PROXY_BIN = ROOT / "build" / "room-proxy" / "node_modules" / ".bin"  # `npm install configurable-http-proxy` there
SERVER_TIMEOUT_S = 60  # only catches a server that never starts; one starts in a few seconds


@pytest.fixture(scope="module")
def practice(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("practice")
    make_student.make_student(folder)
    return folder


@pytest.fixture(scope="module")
def student_python() -> Iterator[Path]:
    """A Python every account can run, seeing this one's packages: a room run as root needs one for its students.

    The test's own Python may live in a folder closed to other accounts (a pyenv under /root): a venv of the system's
    Python of the same version, in a folder open to all, with a .pth naming this environment's packages, stands in
    for a course installed where every account can read it.
    """
    if not (AS_ROOT and closed_to_others(Path(sys.executable))):
        yield Path(sys.executable)
        return
    system = Path(f"/usr/bin/python{sys.version_info.major}.{sys.version_info.minor}")
    if not system.exists() or closed_to_others(Path(sysconfig.get_paths()["purelib"])):
        pytest.skip(f"no Python that students' accounts can run with this environment's packages ({system})")
    folder = Path(tempfile.mkdtemp(prefix="room-python-"))
    try:
        folder.chmod(0o755)
        subprocess.run([system, "-m", "venv", "--without-pip", folder], check=True)
        # addsitedir, not a plain path line: the packages' own .pth files (an editable install's finder) run too
        shared = sysconfig.get_paths()["purelib"]
        (Path(sysconfig.get_paths(vars={"base": str(folder)})["purelib"]) / "course.pth").write_text(
            f"import site; site.addsitedir({shared!r})\n"
        )
        for jupyter in ("etc/jupyter", "share/jupyter"):  # where JupyterLab enables itself, under sys.prefix
            (folder / jupyter).parent.mkdir(exist_ok=True)
            (folder / jupyter).symlink_to(Path(sys.prefix, jupyter))
        yield folder / "bin" / "python"
    finally:
        shutil.rmtree(folder)


@pytest.fixture(scope="module")
def open_room(tmp_path_factory: pytest.TempPathFactory, practice: Path, student_python: Path) -> Iterator[room.Room]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PATH", f"{PROXY_BIN}{os.pathsep}{os.environ['PATH']}")
        the_room = room.start(
            folder=tmp_path_factory.mktemp("room"),
            practice=practice,
            port=free_port(),
            python=student_python,
            students=len(STUDENTS),  # the room is full once they are in
        )
    try:
        yield the_room
    finally:
        the_room.stop()
        room.clean(STUDENTS)  # only this room's: another room may be open on this machine


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """One headless Chromium for the room's tests; each person signs in in a context (a profile) of their own."""
    with chromium() as launched:
        yield launched


def sign_in_with_chromium(browser, the_room: room.Room, name: str, password: str):
    """A person's own browser profile, on the hub's sign-in page, the form filled in and sent; returns the tab."""
    tab = browser.new_context().new_page()
    tab.set_default_timeout(SERVER_TIMEOUT_S * 1000)
    tab.goto(f"{the_room.url}hub/login")
    tab.fill("#username_input", name)
    tab.fill("#password_input", password)
    tab.click("#login_submit")
    return tab


def session_of(tab, the_room: room.Room) -> httpx.Client:
    """An HTTP client holding the browser's cookies: the API calls of the tests, as this person's browser makes them."""
    client = httpx.Client(base_url=the_room.url, follow_redirects=True, timeout=SERVER_TIMEOUT_S)
    for cookie in tab.context.cookies():
        client.cookies.set(cookie["name"], cookie["value"], domain=cookie["domain"], path=cookie["path"])
    return client


def xsrf(client: httpx.Client, prefix: str) -> dict[str, str]:
    """The header that lets a browser's session call the API under `prefix` (/hub/ or /user/NAME/)."""
    return {"X-XSRFToken": client.cookies.get("_xsrf", path=prefix) or ""}


def files_of(client: httpx.Client, name: str) -> list[str]:
    contents = client.get(f"user/{name}/api/contents", headers=xsrf(client, f"/user/{name}/")).raise_for_status()
    return sorted(item["name"] for item in contents.json()["content"])


@pytest.fixture(scope="module")
def in_lab(open_room: room.Room, browser) -> Iterator[dict[str, tuple[httpx.Client, list[str]]]]:
    """Each student signs in with Chromium and waits for JupyterLab: their session, and what its file browser lists."""
    tabs = {name: sign_in_with_chromium(browser, open_room, name, open_room.students_password) for name in STUDENTS}
    signed_in = {}
    for name, tab in tabs.items():  # their servers start side by side
        tab.wait_for_url(f"**/user/{name}/lab**")  # the hub's "starting" page, then JupyterLab
        tab.locator(".jp-DirListing-itemText", has_text="01_model.ipynb").wait_for()
        listed = tab.locator(".jp-DirListing-itemText").all_inner_texts()
        signed_in[name] = (session_of(tab, open_room), listed)
        tab.context.close()  # one browser profile at a time stays open: the teacher's
    yield signed_in
    for client, _ in signed_in.values():
        client.close()


@pytest.fixture(scope="module")
def students(in_lab: dict[str, tuple[httpx.Client, list[str]]]) -> dict[str, httpx.Client]:
    return {name: client for name, (client, _) in in_lab.items()}


def run_in_kernel(client: httpx.Client, name: str, code: str, notebook: str = "01_model.ipynb") -> str:
    """What `code` prints, run in a new kernel for `notebook` (Jupyter's sessions API and its websocket protocol)."""
    headers = xsrf(client, f"/user/{name}/")
    wanted = {"path": notebook, "type": "notebook", "kernel": {"name": "python3"}}
    session = client.post(f"user/{name}/api/sessions", headers=headers, json=wanted).raise_for_status().json()
    cookies = "; ".join(f"{cookie.name}={cookie.value}" for cookie in client.cookies.jar)
    url = str(client.base_url.copy_with(scheme="ws")) + f"user/{name}/api/kernels/{session['kernel']['id']}/channels"
    try:  # the kernel goes with its session whatever happens: the room is shared by every test
        with contextlib.closing(websocket.create_connection(url, cookie=cookies, timeout=SERVER_TIMEOUT_S)) as channel:
            return printed_by(channel, code)
    finally:
        client.delete(f"user/{name}/api/sessions/{session['id']}", headers=headers)


def printed_by(channel: websocket.WebSocket, code: str) -> str:
    """Send `code` to the kernel on `channel`; what it prints, until it is idle again (or it died)."""
    header = {"msg_id": uuid.uuid4().hex, "msg_type": "execute_request", "session": uuid.uuid4().hex, "version": "5.3"}
    content = {"code": code, "silent": False, "store_history": False, "user_expressions": {}, "allow_stdin": False}
    channel.send(json.dumps({"header": header, "parent_header": {}, "metadata": {}, "content": content}))
    printed = []
    while True:
        message = json.loads(channel.recv())
        if message["msg_type"] == "status" and message["content"]["execution_state"] in ("restarting", "dead"):
            printed.append(f"kernel {message['content']['execution_state']}")  # what JupyterLab shows the student
            break
        if message["parent_header"].get("msg_id") != header["msg_id"]:
            continue
        if message["msg_type"] == "stream":
            printed.append(message["content"]["text"])
        elif message["msg_type"] == "error":
            printed.append("\n".join(message["content"]["traceback"]))
        elif message["msg_type"] == "status" and message["content"]["execution_state"] == "idle":
            break
    return "".join(printed)


@pytest.mark.slow
def test_each_student_sees_their_own_practice_copies_in_jupyterlab_and_never_the_solutions(
    in_lab, practice: Path
) -> None:
    expected = sorted(path.name for path in practice.iterdir() if path.name != make_student.MARKER)
    for name, (client, listed) in in_lab.items():
        assert sorted(listed) == files_of(client, name) == expected
        notebook = client.get(f"user/{name}/api/contents/01_model.ipynb", headers=xsrf(client, f"/user/{name}/"))
        sources = "\n".join(cell["source"] for cell in notebook.json()["content"]["cells"])
        assert "# YOUR CODE HERE" in sources and make_student.BEGIN not in sources


@pytest.mark.slow
def test_a_students_kernel_runs_the_course_on_its_embedded_sample(students) -> None:
    code = """
import os
from mnist_tutorial import NeuralNetwork, load_data
print(os.environ["MNIST_TUTORIAL_SOURCE"], os.environ["MNIST_TUTORIAL_OFFLINE"])  # as make lab ROOM=1: no download
print(sum(parameter.numel() for parameter in NeuralNetwork().parameters()))
data = load_data()
"""
    assert run_in_kernel(students["bo"], "bo", code).splitlines() == [
        "sample 1",
        "109386",  # 784*128 + 128 + 128*64 + 64 + 64*10 + 10
        "Data: the embedded sample of real MNIST digits: 8,000 training and 2,000 test images",
    ]


@pytest.mark.slow
def test_a_kernel_runs_as_its_student_and_cannot_read_another_students_folder(open_room: room.Room, students) -> None:
    if not open_room.own_accounts:
        pytest.skip("students have accounts of their own only when the room runs as root")
    code = """
import os, pwd
print(pwd.getpwuid(os.getuid()).pw_name, os.getcwd())
for other in ("/home/room-bo", "/home/room-bo/01_model.ipynb"):
    try:
        open(other).close() if other.endswith(".ipynb") else os.listdir(other)
        print("read", other)
    except PermissionError:
        print("refused", other)
"""
    assert run_in_kernel(students["ada"], "ada", code).splitlines() == [
        "room-ada /home/room-ada",
        "refused /home/room-bo",
        "refused /home/room-bo/01_model.ipynb",
    ]


@pytest.mark.slow
def test_a_wrong_password_a_name_no_account_can_have_and_a_student_posing_as_teacher_are_refused(
    open_room: room.Room,
) -> None:
    room_password = open_room.students_password
    for name, password in [
        ("ada", "wrong-one"),
        ("teacher", room_password),
        ("Ada L", room_password),
        ("../a", room_password),
    ]:
        with httpx.Client(base_url=open_room.url, timeout=SERVER_TIMEOUT_S) as client:
            client.get("hub/login")
            answer = client.post(
                "hub/login", data={"username": name, "password": password, "_xsrf": client.cookies["_xsrf"]}
            )
            assert answer.status_code == 403 and "Invalid username or password" in answer.text
            assert SIGN_IN_HINT in answer.text
            assert "jupyterhub-hub-login" not in client.cookies


@pytest.mark.slow
def test_the_room_listens_on_loopback_only(open_room: room.Room) -> None:
    outside = address()
    if outside.startswith("127.") or not outside[0].isdigit():
        pytest.skip("this machine has no address but loopback")
    with (
        pytest.raises(ConnectionRefusedError),
        socket.create_connection((outside, httpx.URL(open_room.url).port), timeout=5),
    ):
        pass


@pytest.fixture(scope="module")
def teacher_tab(open_room: room.Room, browser) -> Iterator[object]:
    """The teacher signed in with Chromium: they land on their page, with no server of their own."""
    tab = sign_in_with_chromium(browser, open_room, "teacher", open_room.teacher_password)
    tab.wait_for_url(f"{open_room.url}services/room/")
    yield tab
    tab.context.close()


@pytest.fixture(scope="module")
def teacher(open_room: room.Room, teacher_tab) -> Iterator[httpx.Client]:
    with contextlib.closing(session_of(teacher_tab, open_room)) as client:
        yield client


@pytest.mark.slow
def test_the_teacher_signs_in_and_sees_every_student(students, teacher: httpx.Client) -> None:
    listed = teacher.get("hub/api/users", headers=xsrf(teacher, "/hub/")).raise_for_status().json()
    users = {user["name"]: (user["admin"], user["server"] is not None) for user in listed}
    assert users == {"ada": (False, True), "bo": (False, True), "cy": (False, True), "teacher": (True, False)}
    assert students["ada"].get("hub/api/users", headers=xsrf(students["ada"], "/hub/")).status_code == 403


@pytest.mark.slow
def test_a_student_beyond_the_rooms_seats_reads_that_it_is_full_and_gets_no_server(
    open_room: room.Room, students, teacher: httpx.Client, browser
) -> None:
    tab = sign_in_with_chromium(browser, open_room, "dee", open_room.students_password)
    try:
        tab.get_by_text(capacity.full(len(STUDENTS))).wait_for()
        dee = teacher.get("hub/api/users/dee", headers=xsrf(teacher, "/hub/")).raise_for_status().json()
        assert dee["server"] is None and dee["servers"] == {}
        assert not any(user.pw_name == accounts.account_name("dee") for user in pwd.getpwall())
    finally:  # the other tests see the three students only
        tab.context.close()
        teacher.delete("hub/api/users/dee", headers=xsrf(teacher, "/hub/")).raise_for_status()


def test_the_teacher_is_never_refused_and_a_student_only_when_every_seat_is_taken() -> None:
    assert capacity.refusal(is_admin=True, others_working=5, seats=3) is None
    assert capacity.refusal(is_admin=False, others_working=2, seats=3) is None
    assert capacity.refusal(is_admin=False, others_working=3, seats=3) == capacity.full(3)
    assert "ask your teacher" in capacity.full(3)


@pytest.mark.parametrize(
    ("available_gb", "asked", "students", "words"),
    [
        (10.3, None, 10, "This machine holds 10 students: 10.3 GB of memory available, 1 GB per student. One more"),
        (
            10.3,
            4,
            4,
            "holds 4 students: 10.3 GB of memory available, 1 GB per student (--students 4; its memory would hold 10)",
        ),
        (2.3, 5, 5, "--students 5 is more than its memory holds (2): students' kernels may be killed"),
        (1.2, None, 0, "This machine holds 0 students"),
    ],
)
def test_capacity_counts_students_from_memory_less_the_rooms_own(
    available_gb: float, asked: int | None, students: int, words: str
) -> None:
    seats = capacity.capacity(round(available_gb * 1e9), 1.0, asked)  # 0.3 GB for the hub, its proxy and page
    assert seats.students == students and words in seats.line()


def space_of(the_room: room.Room, name: str) -> Path:
    return Path("/home", accounts.account_name(name)) if the_room.own_accounts else the_room.folder / "students" / name


@pytest.fixture(scope="module")
def room_at_work(open_room: room.Room, students, practice: Path) -> dict[str, str]:
    """ada runs two self-checks in 01 and saves it; cy has saved 03's network; bo's build/ is a link to cy's; bo saved
    02 with two errors in it."""
    printed = run_in_kernel(
        students["ada"],
        "ada",
        "from mnist_tutorial.selfcheck import model as check\n"
        "check.parameter_count(109386)\n"
        "check.fc2_output_shape((64, 32))",
    )
    assert [line.split(":")[0] for line in printed.splitlines()] == ["Correct", "Not yet"]
    saved = json.loads((practice / "01_model.ipynb").read_text())
    saved["cells"][0]["source"] = "ada's notes"
    answer = students["ada"].put(
        "user/ada/api/contents/01_model.ipynb",
        headers=xsrf(students["ada"], "/user/ada/"),
        json={"type": "notebook", "format": "json", "content": saved},
    )
    answer.raise_for_status()
    with_errors = json.loads((practice / "02_data.ipynb").read_text())
    code_cells = [cell for cell in with_errors["cells"] if cell["cell_type"] == "code"]
    for cell, (name, value) in zip(code_cells, [("NameError", "name 'x' is not defined"), LONG_ERROR], strict=False):
        cell["outputs"] = [{"output_type": "error", "ename": name, "evalue": value, "traceback": []}]
    students["bo"].put(
        "user/bo/api/contents/02_data.ipynb",
        headers=xsrf(students["bo"], "/user/bo/"),
        json={"type": "notebook", "format": "json", "content": with_errors},
    ).raise_for_status()
    checkpoint = space_of(open_room, "cy") / "build" / "03_training" / "model.pt"
    checkpoint.parent.mkdir(parents=True)
    verdict = "above 87% after 10 epochs: as expected with the lesson's settings"
    state = {"model": NeuralNetwork().state_dict(), "epoch": 10, "test_accuracy": 0.8925, "verdict": verdict}
    torch.save(state, checkpoint)
    (space_of(open_room, "bo") / "build").symlink_to(checkpoint.parent.parent)  # the page reads through no link
    return {"verdict": verdict}


LONG_ERROR = ("ValueError", "\x1b[31mshape mismatch\x1b[0m: " + "x" * 200 + "\nthe second line")


def page_rows(page: str) -> dict[str, list[str]]:
    """The teacher's page as {student: the text of their other cells}, a cell's list items joined by " | "."""
    rows = {}
    for row in re.findall(r"<tr><td>(.*?)</td></tr>", page):
        cells = [" | ".join(re.findall(r"<li>(.*?)</li>", cell) or [cell]) for cell in row.split("</td><td>")]
        rows[html.unescape(cells[0])] = [html.unescape(cell) for cell in cells[1:]]
    return rows


@pytest.mark.slow
def test_the_teachers_page_shows_each_students_saves_self_checks_and_03(
    teacher: httpx.Client, room_at_work: dict[str, str]
) -> None:
    page = teacher.get("services/room/")  # JupyterHub's OAuth, then the page
    assert page.status_code == 200 and page.url.path == "/services/room/"
    rows = page_rows(page.text)
    assert sorted(rows) == list(STUDENTS)
    assert all(server == "running" and re.fullmatch(r"\d\d:\d\d", last) for server, last, *_ in rows.values())
    time = r"at \d\d:\d\d"
    assert re.fullmatch(f"01_model.ipynb {time}", rows["ada"][2]) and rows["cy"][2] == "none"
    assert re.fullmatch(f"02_data.ipynb {time}", rows["bo"][2])
    assert re.fullmatch(
        f"parameter_count in 01_model.ipynb {time}: Correct \\| fc2_output_shape in 01_model.ipynb {time}: Not yet",
        rows["ada"][3],
    )
    assert rows["bo"][3] == rows["cy"][3] == "none yet"
    assert rows["cy"][4] == f"89.25% after 10 epochs: {room_at_work['verdict']}"
    assert rows["ada"][4] == rows["bo"][4] == "not saved yet"  # bo's build/ is a link, not followed
    cut_short = ("ValueError: shape mismatch: " + "x" * 200)[:99] + "…"  # its colours and second line left out
    assert re.fullmatch(re.escape(cut_short) + f" in 02_data.ipynb {time}", rows["bo"][5])
    assert rows["ada"][5] == rows["cy"][5] == "none"


@pytest.mark.slow
def test_the_teacher_downloads_everyones_notebooks_as_one_zip(
    teacher: httpx.Client, room_at_work, practice: Path
) -> None:
    answer = teacher.get("services/room/collection.zip").raise_for_status()
    assert answer.headers["content-type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(answer.content))
    notebooks = sorted(path.name for path in practice.glob("*.ipynb"))
    assert archive.namelist() == [f"{name}/{notebook}" for name in STUDENTS for notebook in notebooks]
    assert "ada's notes" in archive.read("ada/01_model.ipynb").decode()
    assert archive.read("bo/03_training.ipynb") == (practice / "03_training.ipynb").read_bytes()


@pytest.mark.slow
def test_the_teachers_page_passes_axe_core_in_chromium(teacher_tab, room_at_work) -> None:
    teacher_tab.reload()  # every student's row filled in
    assert teacher_tab.title() == "The room"
    assert axe_violations(teacher_tab) == []


@pytest.mark.slow
def test_a_student_is_refused_the_teachers_page(students) -> None:
    for path in ("services/room/", "services/room/collection.zip"):
        assert students["bo"].get(path).status_code == 403


@pytest.mark.slow
def test_a_room_that_cannot_open_says_why_and_leaves_nothing_running(
    practice: Path, student_python: Path, tmp_path: Path
) -> None:
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "configurable-http-proxy").write_text("#!/bin/sh\necho 'no proxy today' >&2\nexit 3\n")
    (tmp_path / "bin" / "configurable-http-proxy").chmod(0o755)
    with (
        pytest.MonkeyPatch.context() as patch,
        pytest.raises(
            room.RoomError, match="JupyterHub did not start; its last words: RuntimeError: Proxy failed to start"
        ),
    ):
        patch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
        room.start(folder=tmp_path / "room", practice=practice, port=free_port(), python=student_python)
    processes = subprocess.run(["ps", "-eo", "args="], capture_output=True, text=True, check=True).stdout
    assert str(tmp_path / "room") not in processes
    assert "no proxy today" in (tmp_path / "room" / "jupyterhub.log").read_text()


@pytest.mark.slow
def test_each_students_server_runs_in_a_memory_cgroup_of_their_own(open_room: room.Room, students) -> None:
    if open_room.memory_cgroups is None:
        pytest.skip(f"memory is not limited here: {open_room.unlimited}")
    for name in STUDENTS:
        cgroup = open_room.memory_cgroups / accounts.account_name(name)
        assert abs(cgroups.limit_of(cgroup) - STUDENT_MEMORY_GB * 1e9) < 4096  # v1 rounds it to a page
        pids = [int(pid) for pid in (cgroup / "cgroup.procs").read_text().split()]
        assert any(
            "jupyterhub.singleuser" in " ".join(psutil.Process(pid).cmdline())
            and psutil.Process(pid).username() == accounts.account_name(name)
            for pid in pids
        )


@pytest.mark.slow
def test_a_kernel_past_its_memory_limit_dies_and_the_other_students_work_on(open_room: room.Room, students) -> None:
    if open_room.memory_cgroups is None:
        pytest.skip(f"memory is not limited here: {open_room.unlimited}")
    too_much = round(STUDENT_MEMORY_GB * 1e9) + 200 * 2**20
    assert run_in_kernel(students["cy"], "cy", f"held = b'x' * {too_much}\nprint('held')") == "kernel restarting"
    assert run_in_kernel(students["ada"], "ada", "print(6 * 7)") == "42\n"


@pytest.mark.slow
def test_an_idle_culler_watches_the_room_and_a_stopped_server_keeps_its_files(
    open_room: room.Room, students, teacher: httpx.Client, room_at_work
) -> None:
    services = teacher.get("hub/api/services", headers=xsrf(teacher, "/hub/")).raise_for_status().json()
    assert services[CULLER]["command"][-1] == f"--timeout={IDLE_MINUTES * 60}"
    assert services[CULLER]["pid"] > 0 and psutil.pid_exists(services[CULLER]["pid"])
    # what the culler does to a server idle for IDLE_MINUTES: stop it through the hub's API, keeping its user
    teacher.delete("hub/api/users/ada/server", headers=xsrf(teacher, "/hub/")).raise_for_status()
    deadline = time.monotonic() + SERVER_TIMEOUT_S
    while (row := page_rows(teacher.get("services/room/").text)["ada"])[0] != "stopped":
        assert time.monotonic() < deadline, f"ada's server did not stop: {row}"
        time.sleep(0.5)
    assert "ada's notes" in (space_of(open_room, "ada") / "01_model.ipynb").read_text()


@pytest.mark.slow
def test_stopping_leaves_nothing_running_and_clean_removes_the_accounts(open_room: room.Room, students) -> None:
    open_room.stop()
    assert open_room.process.returncode is not None
    proxy = f"--port {httpx.URL(open_room.url).port} "

    def left() -> list[str]:
        processes = subprocess.run(["ps", "-eo", "user:32=,args="], capture_output=True, text=True, check=True).stdout
        return [
            line
            for line in processes.splitlines()
            if line.startswith(accounts.PREFIX)  # a student's account
            # the hub, the proxy, the students' servers, the teacher's page
            or any(mark in line for mark in (str(open_room.folder), proxy, "jupyterhub.singleuser", "teacher_page"))
        ]

    deadline = time.monotonic() + SERVER_TIMEOUT_S  # a kernel killed for its memory may wait a moment to be reaped
    while (still := left()) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert still == []
    if open_room.own_accounts:
        assert set(room.clean(STUDENTS)) == {accounts.account_name(name) for name in STUDENTS}
        assert not {user.pw_name for user in pwd.getpwall()} & {accounts.account_name(name) for name in STUDENTS}
        assert not any(Path("/home", accounts.account_name(name)).exists() for name in STUDENTS)


def test_hand_out_keeps_the_students_work_and_never_writes_through_a_link(practice: Path, tmp_path: Path) -> None:
    (tmp_path / "01_model.ipynb").write_text("my work")
    (tmp_path / "02_data.ipynb").symlink_to(tmp_path / "elsewhere")
    copied = accounts.hand_out(practice, tmp_path)
    assert "01_model.ipynb" not in copied and "02_data.ipynb" not in copied and "glossary.md" in copied
    assert (tmp_path / "01_model.ipynb").read_text() == "my work" and not (tmp_path / "elsewhere").exists()
    assert (tmp_path / "03_training.ipynb").read_bytes() == (practice / "03_training.ipynb").read_bytes()
    assert not (tmp_path / make_student.MARKER).exists() and accounts.hand_out(practice, tmp_path) == []


@pytest.mark.parametrize("own_accounts", [True, False])
def test_the_announcement_says_whether_students_share_one_account_how_many_it_holds_and_their_memory(
    own_accounts: bool, tmp_path: Path
) -> None:
    seats = capacity.capacity(round(6.3e9), 1.5)
    unlimited = "" if own_accounts else "the room is not run as root, and only root may limit each student's memory"
    cgroup = tmp_path / "cgroup" if own_accounts else None
    the_room = room.Room(
        "http://127.0.0.1:8000/",
        "students1",
        "t" * 32,
        tmp_path,
        own_accounts,
        False,
        None,
        0,
        seats,
        cgroup,
        unlimited,
    )
    lines = the_room.announcement().splitlines()
    assert (
        "Students open http://127.0.0.1:8000/ and sign in with a name of their own and the room password: students1"
        in lines
    )
    assert (OWN_ACCOUNTS if own_accounts else SHARED_ACCOUNT) in lines
    assert seats.line().startswith("This machine holds 4 students: 6.3 GB of memory available, 1.5 GB per student")
    assert seats.line() in lines
    memory = "Each student's server and kernels may use 1.5 GB of memory: a kernel that needs more is stopped"
    assert any(
        line.startswith(memory if own_accounts else f"Memory is not limited per student: {unlimited}.")
        for line in lines
    )
    assert "A server nobody used for 30 minutes is stopped; the student's files stay." in lines


@pytest.mark.parametrize(
    ("settings", "words"),
    [
        ({"practice": ROOT / "notebooks"}, "`practice` must be a folder written by `make student`"),
        ({"students_password": "short"}, "`students_password` needs at least 8 characters"),
        ({"teacher_password": "short"}, "`teacher_password` needs at least 32 characters"),
        ({"students_password": "x" * 32, "teacher_password": "x" * 32}, "must differ"),
        ({"students": 0}, "`students` must be at least 1, not 0"),
        ({"idle_minutes": 0}, "`idle_minutes` must be more than 0, not 0"),
    ],
)
def test_start_refuses_bad_settings_in_words(settings: dict, words: str, practice: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=words):
        room.start(folder=tmp_path / "room", **{"practice": practice, "python": Path(sys.executable)} | settings)
    assert not (tmp_path / "room").exists()


@pytest.mark.skipif(not AS_ROOT, reason="without root every server runs as the teacher's own account")
def test_as_root_start_refuses_a_python_the_students_cannot_run(practice: Path, tmp_path: Path) -> None:
    closed = tmp_path / "closed"
    closed.mkdir(mode=0o700)
    (closed / "python").touch(mode=0o755)
    with pytest.raises(ConfigError, match=r"cannot run `python`.* is closed to other accounts"):
        room.start(folder=tmp_path / "room", practice=practice, python=closed / "python")


def test_in_the_room_a_students_files_go_into_their_own_folder_even_from_a_checkout(tmp_path: Path) -> None:
    env = {**os.environ, ROOM_RECORD_ENV: str(tmp_path / ".selfchecks.jsonl")}
    code = "from mnist_tutorial.defaults import BUILD_DIR, DATA_DIR; print(BUILD_DIR); print(DATA_DIR)"
    shown = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert shown.stdout.split() == [str(tmp_path / "build"), str(tmp_path / "data")]


def test_the_last_error_column_reads_any_file_a_student_left_without_failing() -> None:
    from mnist_tutorial.room.teacher_page import errors_in

    error = {"output_type": "error", "ename": "KeyError", "evalue": "'a'", "traceback": []}
    assert errors_in(json.dumps({"cells": [{"outputs": [error]}, {"cell_type": "markdown"}]}).encode()) == [
        "KeyError: 'a'"
    ]
    for mangled in (b"not json", b"[]", b'{"cells": 3}', b'{"cells": [{"outputs": [7]}]}', b"[" * 100_000):
        assert errors_in(mangled) == []
