"""The jupyterhub_config.py a room writes into its folder: who signs in how, where, and as which account."""

import os
import sys
from pathlib import Path

TEACHER = "teacher"  # the name the teacher signs in with; JupyterHub's admin
STUDENT_NAME = r"[a-z][a-z0-9_-]{0,26}"  # an OS user name once prefixed with accounts.PREFIX (32 characters at most)
SIGN_IN_HINT = "Sign in with a name of your own (small letters, digits, - or _) and the room password."
# What every student's kernel sees: the course's embedded sample, never a download (as `make lab ROOM=1`), and one
# thread for PyTorch, as defaults.CPU_THREADS: the same numbers whatever the server's cores; a full room ran 03 as
# fast as with a thread per core (benchmarks/README.md, bench_room.py --kernel-threads).
STUDENT_ENVIRONMENT = {"MNIST_TUTORIAL_SOURCE": "sample", "MNIST_TUTORIAL_OFFLINE": "1", "OMP_NUM_THREADS": "1"}

PAGE = "room"  # the teacher's page is JupyterHub's service of that name, at /services/room/
PAGE_SCOPES = ["list:users", "read:users", "read:servers"]  # the page's token: who signed in, whose server runs
CULLER = "idle-culler"  # jupyterhub-idle-culler, as its README configures it: it stops servers, never users
CULLER_SCOPES = ["list:users", "read:users:activity", "read:servers", "delete:servers"]

# The hub and the teacher's page need the room's modules, not the lesson: an empty package stands in for
# mnist_tutorial/__init__.py, which loads PyTorch (half a gigabyte of memory otherwise).
LIGHT_PACKAGE = """\
import sys
import types

sys.modules["mnist_tutorial"] = types.ModuleType("mnist_tutorial")
sys.modules["mnist_tutorial"].__path__ = [{package!r}]
"""

TEMPLATE = """\
# Written by mnist_tutorial.room for this room only; rewritten at each start. It holds the room's passwords.
{light_package}from mnist_tutorial.room import spawners  # noqa: E402

c = get_config()  # noqa: F821
c.JupyterHub.authenticator_class = "shared-password"
c.SharedPasswordAuthenticator.user_password = {students_password!r}
c.SharedPasswordAuthenticator.admin_password = {teacher_password!r}
c.Authenticator.admin_users = {{{teacher!r}}}
c.Authenticator.allow_all = True
c.Authenticator.username_pattern = {username_pattern!r}
c.JupyterHub.template_vars = {{"announcement_login": {hint!r}}}
c.JupyterHub.default_url = spawners.landing

c.JupyterHub.ip = {ip!r}
c.JupyterHub.port = {port!r}
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = {hub_port!r}
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{proxy_api_port}"
c.ConfigurableHTTPProxy.command = [{proxy!r}]
c.ConfigurableHTTPProxy.pid_file = {pid_file!r}
c.JupyterHub.db_url = {db_url!r}
c.JupyterHub.cookie_secret_file = {cookie_secret_file!r}

c.JupyterHub.spawner_class = spawners.{spawner}
c.SharedAccountSpawner.home_dir_template = {shared_homes!r}
c.Spawner.cmd = [{python!r}, "-m", "jupyterhub.singleuser"]
c.Spawner.default_url = "/lab"
c.Spawner.environment = {environment!r}
c.Spawner.mem_limit = {mem_limit!r}  # bytes: the student's cgroup (spawners.py); MEM_LIMIT in their environment
c.Spawner.pre_spawn_hook = spawners.prepare_from({practice!r}, {seats!r}, {memory_cgroups!r})

# The teacher's page (teacher_page.py). Only the admin holds access:services, so the hub lets only the teacher in.
c.JupyterHub.services = [
    {{"name": {page!r}, "url": "http://127.0.0.1:{page_port}", "command": {page_command!r}, "oauth_no_confirm": True}},
    {{"name": {culler!r}, "command": {culler_command!r}}},
]
c.JupyterHub.load_roles = [
    {{"name": "room-page", "services": [{page!r}], "scopes": {page_scopes!r}}},
    {{"name": {culler!r}, "services": [{culler!r}], "scopes": {culler_scopes!r}}},
]
"""


def write_config(
    folder: Path,
    *,
    students_password: str,
    teacher_password: str,
    public: bool,
    ports: tuple[int, int, int, int],
    practice: Path,
    own_accounts: bool,
    proxy: str,
    python: Path,
    seats: int,
    memory_limit: int,
    memory_cgroups: Path | None,
    idle_minutes: float,
) -> Path:
    """Write `folder`/jupyterhub_config.py, readable by its owner only.

    `ports`: the room's (what students open), then on loopback the hub's, the proxy's API and the teacher's page.
    `seats`: the most students' servers at once; `memory_limit`: each one's, in bytes, enforced in a cgroup of its
    own under `memory_cgroups` (None: not enforced); `idle_minutes`: a server unused that long is stopped.
    """
    port, hub_port, proxy_api_port, page_port = ports
    light_package = LIGHT_PACKAGE.format(package=str(Path(__file__).resolve().parent.parent))
    shared_homes = str(folder / "students" / "{username}")
    page_command = [sys.executable, "-c", f"{light_package}from mnist_tutorial.room.teacher_page import main\nmain()\n"]
    page_command += ["--practice", str(practice)] + ([] if own_accounts else ["--shared-homes", shared_homes])
    text = TEMPLATE.format(
        light_package=light_package,
        students_password=students_password,
        teacher_password=teacher_password,
        teacher=TEACHER,
        username_pattern=f"^{STUDENT_NAME}$",
        hint=SIGN_IN_HINT,
        ip="" if public else "127.0.0.1",  # "": every interface
        port=port,
        hub_port=hub_port,
        proxy_api_port=proxy_api_port,
        proxy=proxy,
        pid_file=str(folder / "proxy.pid"),
        db_url=f"sqlite:///{folder / 'jupyterhub.sqlite'}",
        cookie_secret_file=str(folder / "jupyterhub_cookie_secret"),
        spawner="StudentSpawner" if own_accounts else "SharedAccountSpawner",
        shared_homes=shared_homes,
        python=str(python),
        environment=STUDENT_ENVIRONMENT,
        practice=str(practice),
        mem_limit=memory_limit,
        seats=seats,
        memory_cgroups=str(memory_cgroups or ""),
        culler=CULLER,
        culler_command=[sys.executable, "-m", "jupyterhub_idle_culler", f"--timeout={round(idle_minutes * 60)}"],
        culler_scopes=CULLER_SCOPES,
        page=PAGE,
        page_port=page_port,
        page_command=page_command,
        page_scopes=PAGE_SCOPES,
    )
    path = folder / "jupyterhub_config.py"
    partial = path.with_suffix(".partial")
    partial.unlink(missing_ok=True)
    with os.fdopen(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w", encoding="utf-8") as file:
        file.write(text)
    partial.replace(path)
    return path
