"""The room's load test: as many students as this machine holds, each running the worked 03 in their own kernel.

Run as root from the checkout, with configurable-http-proxy on PATH (`make room-proxy`):

    PATH=build/room-proxy/node_modules/.bin:$PATH .venv/bin/python benchmarks/bench_room.py [--students N]

It starts a room on 127.0.0.1 (students' accounts of their own, a memory cgroup each), signs the students in, puts
notebooks/03_training.ipynb (worked, not the practice copy) into each one's folder, and runs it cell by cell in
every student's kernel at once through the Jupyter server's REST and kernel websocket API. Then one student runs 03
and then 05 alone. It prints each student's peak memory and wall time and the machine, and writes them to
benchmarks/results/room-DATE.json. Every wait is bounded; nothing but loopback is sent to.
"""

import argparse
import concurrent.futures
import contextlib
import datetime
import importlib
import importlib.util
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import websocket  # websocket-client, a dependency of jupyter_server

from mnist_tutorial import room
from mnist_tutorial.defaults import STUDENT_MEMORY_GB
from mnist_tutorial.room import accounts, cgroups, hub_config
from mnist_tutorial.room.capacity import capacity
from mnist_tutorial.room.start import closed_to_others, free_port

ROOT = Path(__file__).resolve().parent.parent
CELL_TIMEOUT_S = 900  # one cell of 03 with every student training at once; only catches a hang
SIGN_IN_TIMEOUT_S = 300  # a student's server starting while the others start too
SAMPLE_EVERY_S = 2.0  # how often each student's processes' memory is read


def make_practice(folder: Path) -> Path:
    spec = importlib.util.spec_from_file_location("make_student", ROOT / "tools" / "make_student.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.make_student(folder)
    return folder


@contextlib.contextmanager
def students_python() -> Iterator[Path]:
    """A Python every account can run with this one's packages (as tests/test_room.py: this one may be under /root)."""
    if not closed_to_others(Path(sys.executable)):
        yield Path(sys.executable)
        return
    folder = Path(tempfile.mkdtemp(prefix="room-python-"))
    try:
        folder.chmod(0o755)
        system = f"/usr/bin/python{sys.version_info.major}.{sys.version_info.minor}"
        subprocess.run([system, "-m", "venv", "--without-pip", folder], check=True)
        shared = sysconfig.get_paths()["purelib"]
        site = Path(sysconfig.get_paths(vars={"base": str(folder)})["purelib"])
        (site / "course.pth").write_text(f"import site; site.addsitedir({shared!r})\n")
        for jupyter in ("etc/jupyter", "share/jupyter"):
            (folder / jupyter).parent.mkdir(exist_ok=True)
            (folder / jupyter).symlink_to(Path(sys.prefix, jupyter))
        yield folder / "bin" / "python"
    finally:
        shutil.rmtree(folder)


def sign_in(url: str, name: str, password: str) -> httpx.Client:
    """A student's session through the hub's sign-in form; returns once their JupyterLab answers."""
    client = httpx.Client(base_url=url, follow_redirects=True, timeout=60)
    client.get("hub/login")
    client.post("hub/login", data={"username": name, "password": password, "_xsrf": client.cookies["_xsrf"]})
    deadline = time.monotonic() + SIGN_IN_TIMEOUT_S
    while client.get(f"user/{name}/lab").url.path != f"/user/{name}/lab":  # the hub's "starting" page, then OAuth
        if time.monotonic() > deadline:
            raise RuntimeError(f"{name}'s server did not start in {SIGN_IN_TIMEOUT_S} s")
        time.sleep(1)
    return client


def headers(client: httpx.Client, name: str) -> dict[str, str]:
    return {"X-XSRFToken": client.cookies.get("_xsrf", path=f"/user/{name}/") or ""}


def put_notebook(client: httpx.Client, name: str, notebook: Path) -> None:
    content = {"type": "notebook", "format": "json", "content": json.loads(notebook.read_text())}
    client.put(
        f"user/{name}/api/contents/{notebook.name}", headers=headers(client, name), json=content
    ).raise_for_status()


class Kernel:
    """A kernel for one of a student's notebooks (Jupyter's sessions API), driven over its websocket."""

    def __init__(self, client: httpx.Client, name: str, notebook: str) -> None:
        self.client, self.name = client, name
        wanted = {"path": notebook, "type": "notebook", "kernel": {"name": "python3"}}
        answer = client.post(f"user/{name}/api/sessions", headers=headers(client, name), json=wanted)
        self.session = answer.raise_for_status().json()
        self.reconnects = 0
        self.connect()

    def connect(self) -> None:
        cookies = "; ".join(f"{cookie.name}={cookie.value}" for cookie in self.client.cookies.jar)
        base = str(self.client.base_url.copy_with(scheme="ws"))
        url = f"{base}user/{self.name}/api/kernels/{self.session['kernel']['id']}/channels"
        self.channel = websocket.create_connection(url, cookie=cookies, timeout=CELL_TIMEOUT_S)

    def run(self, code: str) -> str | None:
        """Run one cell; its error as "name: value", None if it ran."""
        header = {"msg_id": uuid.uuid4().hex, "msg_type": "execute_request", "session": uuid.uuid4().hex}
        content = {"code": code, "silent": False, "store_history": True, "user_expressions": {}, "allow_stdin": False}
        self.channel.send(
            json.dumps({"header": header | {"version": "5.3"}, "parent_header": {}, "metadata": {}, "content": content})
        )
        answered = False
        while True:
            try:
                frame = self.channel.recv()  # raises after CELL_TIMEOUT_S of silence
            except websocket.WebSocketConnectionClosedException:
                if answered or self.reconnects:
                    raise
                # Lost before the kernel said anything about this cell: reconnect and send it again, as
                # JupyterLab reconnects (counted in the results).
                self.reconnects += 1
                self.connect()
                return self.run(code)
            answered = answered or (not isinstance(frame, bytes) and header["msg_id"] in frame)
            if isinstance(frame, bytes):  # a message with binary buffers (05's widgets): never the reply
                continue
            message = json.loads(frame)
            state = message["content"].get("execution_state")
            if message["msg_type"] == "status" and state in ("restarting", "dead"):
                return f"the kernel died ({state})"
            if message["parent_header"].get("msg_id") == header["msg_id"] and message["msg_type"] == "execute_reply":
                reply = message["content"]
                return None if reply["status"] == "ok" else f"{reply.get('ename')}: {reply.get('evalue')}"

    def run_notebook(self, notebook: Path) -> dict:
        """Every code cell of `notebook` in order, until one fails: seconds, and the error if any."""
        began = time.monotonic()
        for cell in json.loads(notebook.read_text())["cells"]:
            if cell["cell_type"] == "code" and (error := self.run("".join(cell["source"]))):
                return {"seconds": time.monotonic() - began, "error": error, "reconnects": self.reconnects}
        return {"seconds": time.monotonic() - began, "error": None, "reconnects": self.reconnects}

    def close(self) -> None:
        self.channel.close()
        url = f"user/{self.name}/api/sessions/{self.session['id']}"
        self.client.delete(url, headers=headers(self.client, self.name))


class Sampler(threading.Thread):
    """Each student's processes' memory every SAMPLE_EVERY_S: the peak of their resident and unique sums, and the
    machine's memory in use."""

    def __init__(self, names: list[str]) -> None:
        super().__init__(daemon=True)
        self.accounts = {accounts.account_name(name): name for name in names}
        self.rss = dict.fromkeys(names, 0)
        self.uss = dict.fromkeys(names, 0)
        self.used_peak = psutil.virtual_memory().total - psutil.virtual_memory().available
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.wait(SAMPLE_EVERY_S):
            rss, uss = {}, {}
            for process in psutil.process_iter(["username"]):
                name = self.accounts.get(process.info["username"])
                with contextlib.suppress(psutil.Error):
                    if name is not None:
                        memory = process.memory_full_info()
                        rss[name] = rss.get(name, 0) + memory.rss
                        uss[name] = uss.get(name, 0) + memory.uss
            for name in rss:
                self.rss[name] = max(self.rss[name], rss[name])
                self.uss[name] = max(self.uss[name], uss[name])
            memory = psutil.virtual_memory()
            self.used_peak = max(self.used_peak, memory.total - memory.available)


def cgroup_peak(the_room: room.Room, name: str) -> int:
    if the_room.memory_cgroups is None:
        return 0
    return cgroups.peak_of(the_room.memory_cgroups / accounts.account_name(name))


def all_at_once(clients: dict[str, httpx.Client], notebook: Path) -> dict[str, dict]:
    """Each student runs `notebook` in a kernel of their own, all at the same time."""
    results: dict[str, dict] = {}

    def one(name: str) -> None:
        try:
            kernel = Kernel(clients[name], name, notebook.name)
            try:
                results[name] = kernel.run_notebook(notebook)
            finally:
                kernel.close()
        except Exception as error:  # a kernel that never answered: the run did not finish
            results[name] = {"seconds": None, "error": f"{type(error).__name__}: {error}"}

    threads = [threading.Thread(target=one, args=(name,)) for name in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def alone(the_room: room.Room, client: httpx.Client, name: str, sampler: Sampler, close_03: bool) -> dict:
    """One student runs 03 then 05 (03's kernel shut down first, or left running as a student may)."""
    if the_room.memory_cgroups is not None:
        cgroups.reset_peak(the_room.memory_cgroups / accounts.account_name(name))
    sampler.rss[name] = sampler.uss[name] = 0
    first = Kernel(client, name, "03_training.ipynb")
    runs = {"03": first.run_notebook(ROOT / "notebooks" / "03_training.ipynb")}
    if close_03:
        first.close()
    second = Kernel(client, name, "05_playground.ipynb")
    runs["05"] = second.run_notebook(ROOT / "notebooks" / "05_playground.ipynb")
    time.sleep(2 * SAMPLE_EVERY_S)  # a last sample with both kernels still there
    second.close()
    if not close_03:
        first.close()
    return {
        "runs": runs,
        "cgroup_peak": cgroup_peak(the_room, name),
        "rss_peak": sampler.rss[name],
        "uss_peak": sampler.uss[name],
    }


def machine() -> dict:
    memory = psutil.virtual_memory()
    return {
        "cores": os.cpu_count(),
        "cpu": platform.processor() or platform.machine(),
        "memory_total": memory.total,
        "memory_available_at_start": memory.available,
        "load_average_at_start": os.getloadavg(),
        "python": platform.python_version(),
    }


def gb(value: float) -> str:
    return f"{value / 1e9:.2f} GB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, help="how many (default: as many as this machine holds)")
    parser.add_argument("--limit-gb", type=float, default=3.0, help="each student's memory limit while measured")
    parser.add_argument("--kernel-threads", choices=("one", "default"), default="one", help="OMP_NUM_THREADS=1 or not")
    parser.add_argument("--load-only", action="store_true", help="leave out the one student running 03 then 05 alone")
    parser.add_argument("--out", type=Path, help="the JSON written (default: benchmarks/results/room-DATE.json)")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench_room.py: run it as root, so that each student has an account and a memory cgroup of their own")
    held = capacity(psutil.virtual_memory().available, STUDENT_MEMORY_GB).by_memory
    count = args.students or held
    # Measured with a roomy limit, so that the limit does not decide the peak it measures.
    importlib.import_module("mnist_tutorial.room.start").STUDENT_MEMORY_GB = args.limit_gb
    if args.kernel_threads == "default":
        hub_config.STUDENT_ENVIRONMENT.pop("OMP_NUM_THREADS")
    names = [f"s{number:02d}" for number in range(1, count + 1)]
    facts = {"machine": machine(), "students": count, "held_by_memory": held, "student_memory_gb": STUDENT_MEMORY_GB}
    facts |= {
        "limit_gb": args.limit_gb,
        "kernel_threads": args.kernel_threads,
        "date": datetime.date.today().isoformat(),
    }
    print(
        f"{count} students (this machine holds {held} at {STUDENT_MEMORY_GB:g} GB each); {facts['machine']}", flush=True
    )
    with tempfile.TemporaryDirectory() as scratch, students_python() as python:
        practice = make_practice(Path(scratch) / "practice")
        the_room = room.start(
            folder=Path(scratch) / "room", practice=practice, port=free_port(), python=python, students=count
        )
        sampler = Sampler(names)
        try:
            print(
                *(line for line in the_room.announcement().splitlines() if "holds" in line or "emory" in line), sep="\n"
            )
            began = time.monotonic()
            with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:  # a room signs in within minutes
                signed_in = pool.map(lambda name: sign_in(the_room.url, name, the_room.students_password), names)
                clients = dict(zip(names, signed_in, strict=True))
            facts["sign_in_all_s"] = time.monotonic() - began
            for name, client in clients.items():
                put_notebook(client, name, ROOT / "notebooks" / "03_training.ipynb")
                put_notebook(client, name, ROOT / "notebooks" / "05_playground.ipynb")
            facts["machine_used_before"] = sampler.used_peak
            sampler.start()
            began = time.monotonic()
            runs = all_at_once(clients, ROOT / "notebooks" / "03_training.ipynb")
            facts["all_03_wall_s"] = time.monotonic() - began
            facts["per_student"] = {
                name: runs[name]
                | {
                    "cgroup_peak": cgroup_peak(the_room, name),
                    "rss_peak": sampler.rss[name],
                    "uss_peak": sampler.uss[name],
                }
                for name in names
            }
            facts["machine_used_peak"] = sampler.used_peak
            for key, close_03 in [("alone_closing_03", True), ("alone_keeping_03", False)] * (not args.load_only):
                facts[key] = alone(the_room, clients[names[0]], names[0], sampler, close_03)
        finally:
            sampler.halt.set()
            the_room.stop()
            room.clean(names)  # this room's students only: another room may be open on this machine
    report(facts)
    out = args.out or ROOT / "benchmarks" / "results" / f"room-{facts['date']}.json"
    out.write_text(json.dumps(facts, indent=2) + "\n")
    print(f"written: {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}")
    failed = [name for name, run in facts["per_student"].items() if run["error"]]
    sys.exit(f"{len(failed)} runs did not finish: {failed}" if failed else 0)


def memory_cells(run: dict) -> str:
    return f"{gb(run['cgroup_peak']):>12} {gb(run['rss_peak']):>10} {gb(run['uss_peak']):>12}"


def report(facts: dict) -> None:
    print(f"{'student':8} {'03 s':>7} {'cgroup peak':>12} {'RSS peak':>10} {'unique peak':>12}  error")
    runs = facts["per_student"]
    for name, run in runs.items():
        seconds = f"{run['seconds']:.1f}" if run["seconds"] is not None else "-"
        print(f"{name:8} {seconds:>7} {memory_cells(run)}  {run['error'] or ''}")
    seconds = statistics.median(run["seconds"] for run in runs.values() if run["seconds"] is not None)
    print(f"all {facts['students']} ran 03 at once in {facts['all_03_wall_s']:.1f} s (median {seconds:.1f} s)")
    grown = (facts["machine_used_peak"] - facts["machine_used_before"]) / facts["students"]
    most = max(run["uss_peak"] for run in runs.values())
    print(f"unique memory per student, max: {gb(most)}; the machine's memory in use grew by {gb(grown)} per student")
    for key in ("alone_closing_03", "alone_keeping_03") if "alone_closing_03" in facts else ():
        run = facts[key]
        times = ", ".join(
            f"{notebook} {done['seconds']:.1f} s {done['error'] or ''}" for notebook, done in run["runs"].items()
        )
        print(f"{key}: {times}; cgroup, RSS, unique peaks: {memory_cells(run)}")


if __name__ == "__main__":
    main()
