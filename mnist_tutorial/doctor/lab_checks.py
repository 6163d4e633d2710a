"""The pre-flight's JupyterLab checks: its command, and the widgets' front-end extensions (without the right one,
a widget shows "Error displaying widget")."""

import importlib.metadata as metadata
import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

from packaging.version import Version

from .checks import Check, fix, install_hint, ok

WIDGETS_MAJOR = {8: 5, 7: 3}  # ipywidgets' major version -> the jupyterlab-manager major version that speaks it


def check_jupyterlab() -> Check:
    """JupyterLab installed beside this Python, with its `jupyter-lab` command."""
    try:
        version = metadata.version("jupyterlab")
    except metadata.PackageNotFoundError:
        return fix("jupyter-lab", f"not installed in this Python: {install_hint('jupyterlab')}")
    command = Path(sys.executable).parent / ("jupyter-lab.exe" if os.name == "nt" else "jupyter-lab")
    if not command.exists() and shutil.which("jupyter-lab") is None:
        hint = install_hint("jupyterlab", force=True)
        return fix("jupyter-lab", f"{version} is installed but has no jupyter-lab command: {hint}")
    return ok("jupyter-lab", f"JupyterLab {version} and its command")


def frontend_extensions() -> dict[str, tuple[str, bool]]:
    """JupyterLab's prebuilt extensions, as `jupyter labextension list` shows them: {name: (version, enabled)}."""
    from jupyter_core.paths import jupyter_path
    from jupyterlab.commands import AppOptions, get_app_info

    info = get_app_info(AppOptions(labextensions_path=jupyter_path("labextensions")))
    disabled = info.get("disabled", {})
    disabled = disabled if isinstance(disabled, dict) else dict.fromkeys(disabled, True)
    return {name: (ext["version"], not disabled.get(name, False)) for name, ext in info["federated_extensions"].items()}


def check_frontend(name: str, kernel_package: str, fits: Callable[[Version, Version], bool], extra: str = "") -> Check:
    """The front-end extension `name` is installed, enabled, and speaks the kernel side's version."""
    reinstall = f"{install_hint(kernel_package, force=True)}{extra}"
    try:
        kernel_version = metadata.version(kernel_package)
    except metadata.PackageNotFoundError:
        return fix(name, f"{kernel_package} is not installed: {install_hint(kernel_package)}{extra}")
    try:
        extensions = frontend_extensions()
    except Exception as error:  # JupyterLab missing or broken: check_jupyterlab says how to fix that
        return fix(name, f"cannot list JupyterLab's extensions ({error}): {install_hint('jupyterlab', force=True)}")
    if name not in extensions:
        return fix(name, f'front-end extension missing, so widgets show "Error displaying widget": {reinstall}')
    version, enabled = extensions[name]
    if not enabled:
        return fix(name, f"front-end extension {version} is disabled: jupyter labextension enable {name}")
    if not fits(Version(kernel_version), Version(version)):
        return fix(
            name,
            f"front-end {version} does not match {kernel_package} {kernel_version} in the kernel "
            f'("Error displaying widget"): {reinstall}',
        )
    return ok(name, f"front-end {version}, enabled, matches {kernel_package} {kernel_version}")


def check_widget_frontends() -> list[Check]:
    """ipywidgets' and ipycanvas' JupyterLab extensions, the cause of "Error displaying widget"."""
    return [
        check_frontend(
            "@jupyter-widgets/jupyterlab-manager",
            "ipywidgets",
            lambda kernel, frontend: WIDGETS_MAJOR.get(kernel.major) == frontend.major,
            " jupyterlab_widgets",
        ),
        # ipycanvas pins its front end to "^major.minor"
        check_frontend("ipycanvas", "ipycanvas", lambda kernel, frontend: kernel.release[:2] == frontend.release[:2]),
    ]
