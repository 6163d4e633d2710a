"""The package's shape, read from its import statements: the lesson at the top, folders by job, layers, no cycles."""

import ast
import graphlib
import importlib.metadata
import importlib.util
import json
import re
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

import mnist_tutorial

PACKAGE = Path(mnist_tutorial.__file__).parent
MODULES = {
    ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__"): path
    for path in sorted(PACKAGE.rglob("*.py"))
}
TREES = {module: ast.parse(path.read_text()) for module, path in MODULES.items()}

# The top level is the lesson: what notebooks 01-04 import, and nothing else (plus the package's two doors).
LESSON = {"checkpoint", "data", "defaults", "errors", "evaluate", "files", "history", "model", "plots", "progress"}
LESSON |= {"settings", "train"}
DOORS = {"__init__", "__main__"}  # the names the notebooks import; `python -m mnist_tutorial`
# Every other module lives in a folder named for its job, in a layer: a module imports only its own folder, the
# core, and the layers below its own. Faces are imported by nothing in the package but the command line.
LAYERS = {
    "datasets": 0,  # where images come from: part of the core, with the lesson
    "parallel": 1,  # torch.distributed training and its launcher (07)
    "deploy": 1,  # ONNX export, the drawing specification, the offline page (05, 08)
    "selfcheck": 1,  # the exercises' checks (01-04)
    "run": 2,  # whole runs from one RunConfig, as the command line offers them
    "widgets": 3,  # a face: JupyterLab views (04, 05)
    "doctor": 3,  # a face: the pre-flight (00)
    "room": 3,  # a face: the workshop's JupyterHub (docs/room.md)
    "cli": 4,  # a face: flags, one-line errors, exit codes
}
FACES = ("widgets", "doctor", "room", "cli")
ROOM_EXTRA = {"jupyterhub", "tornado"}  # pyproject.toml's `room` extra: only mnist_tutorial/room/ may import it
SOFT_MAX_LINES = 250  # a warning sign that a module may hold two jobs; never a reason to split by itself


def folder_of(module: str) -> str | None:
    """The folder a module lives in (None for the top level)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 2 or (len(parts) == 2 and parts[1] in LAYERS) else None


def layer_of(module: str) -> int:
    return LAYERS.get(folder_of(module), 0)


def imported_names(tree: ast.AST, module: str = "") -> list[tuple[str, str | None]]:
    """(module, name) for every import in `tree`, relative ones read from `module`: name is None for `import x`."""
    package = module if module in MODULES and MODULES[module].name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, None) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = importlib.util.resolve_name("." * node.level + (node.module or ""), package)
            found += [(base, alias.name) for alias in node.names]
    return found


def package_modules(imports: list[tuple[str, str | None]], exclude: str = "") -> set[str]:
    """The package modules these imports load (a name that is itself a module counts as that module)."""
    targets = {f"{base}.{name}" if name and f"{base}.{name}" in MODULES else base for base, name in imports}
    return {target for target in targets if target in MODULES and target != exclude}


GRAPH = {module: package_modules(imported_names(tree, module), exclude=module) for module, tree in TREES.items()}


def test_the_top_level_holds_the_lesson_and_folders_named_for_their_jobs():
    files = {path.stem for path in PACKAGE.glob("*.py")}
    folders = {path.name for path in PACKAGE.iterdir() if (path / "__init__.py").is_file()}
    assert files == LESSON | DOORS and len(files) <= 14
    assert folders == set(LAYERS)


def notebook_imports(path: Path) -> list[tuple[str, str | None]]:
    """The imports in a notebook's code cells (shell and magic lines left out)."""
    cells = [c["source"] for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"]
    lines = [line for cell in cells for line in "".join(cell).splitlines()]
    return imported_names(ast.parse("\n".join(re.sub(r"^(\s*)[!%].*", r"\1pass", line) for line in lines)))


def test_every_top_level_module_serves_the_lesson_notebooks():
    exported = {name: base for base, name in imported_names(TREES["mnist_tutorial"], "mnist_tutorial")}
    reached: set[str] = set()
    for path in sorted((PACKAGE.parent / "notebooks").glob("0[1-4]_*.ipynb")):
        for base, name in notebook_imports(path):
            if base == "mnist_tutorial" and exported.get(name) in MODULES:  # a re-exported name: its module
                reached.add(exported[name])
            reached |= package_modules([(base, name)])
    todo = list(reached)
    while todo:
        for dependency in GRAPH[todo.pop()] - reached:
            reached.add(dependency)
            todo.append(dependency)
    top_level = {f"mnist_tutorial.{name}" for name in LESSON}
    assert top_level - reached == set(), "top-level modules no lesson notebook needs: move them into a folder"


def test_no_two_modules_share_a_name():
    # selfcheck/ has one module per lesson notebook, named for its topic (model, data, training, evaluation).
    paths = [p for p in PACKAGE.rglob("*.py") if p.name != "__init__.py" and p.parent.name != "selfcheck"]
    names = [path.name for path in paths]
    assert sorted(name for name in set(names) if names.count(name) > 1) == []


def test_no_import_cycle_among_package_modules():
    # Package __init__ files only re-export; a cycle through them is not a cycle of jobs.
    graph = {m: {d for d in deps if MODULES[d].name != "__init__.py"} for m, deps in GRAPH.items()}
    try:
        graphlib.TopologicalSorter(graph).prepare()
    except graphlib.CycleError as cycle:
        pytest.fail("import cycle: " + " -> ".join(cycle.args[1]))


def layer_violations(graph: dict[str, set[str]]) -> list[str]:
    """Imports that run back up a layer, sideways into another folder of the same layer, or into a face."""
    found = []
    for module, dependencies in graph.items():
        for dependency in dependencies:
            mine, theirs = folder_of(module), folder_of(dependency)
            if module == "mnist_tutorial.__main__" or dependency == "mnist_tutorial" or mine == theirs:
                continue  # the door that starts the command line; the lesson; a folder's own modules
            upward = layer_of(dependency) > layer_of(module)
            sideways = layer_of(dependency) == layer_of(module) > 0
            if upward or sideways or (theirs in FACES and mine != "cli"):
                found.append(f"{module} -> {dependency}")
    return found


def test_every_import_runs_down_the_layers():
    # The rule sees imports: these edges are known to exist, and planted ones into a face are caught.
    assert "mnist_tutorial.train" in GRAPH["mnist_tutorial.run.training"]
    assert "mnist_tutorial.run" in GRAPH["mnist_tutorial.cli.commands"]
    assert "mnist_tutorial.errors" in GRAPH["mnist_tutorial.cli"]
    assert "mnist_tutorial.datasets.sources" in GRAPH["mnist_tutorial.data"]
    planted = {**GRAPH, "mnist_tutorial.train": {*GRAPH["mnist_tutorial.train"], "mnist_tutorial.widgets.display"}}
    assert layer_violations(planted) == ["mnist_tutorial.train -> mnist_tutorial.widgets.display"]
    planted = {**GRAPH, "mnist_tutorial.run.training": {"mnist_tutorial.doctor.report"}}
    assert layer_violations(planted) == ["mnist_tutorial.run.training -> mnist_tutorial.doctor.report"]
    assert layer_violations(GRAPH) == []


def test_importing_the_package_loads_the_lesson_alone_and_the_runs_on_first_use():
    # A fresh interpreter: what `import mnist_tutorial` loads, read from the modules it leaves behind.
    code = "import sys, mnist_tutorial; print(' '.join(sorted(sys.modules)))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    ours = {name for name in loaded if name.startswith("mnist_tutorial.")}
    assert {folder_of(name) for name in ours} <= {None, "datasets"}, sorted(ours)
    assert "matplotlib" not in loaded  # plots, the one lesson module that needs it, is imported where it is used
    assert {f"mnist_tutorial.{name}" for name in LESSON - {"plots"}} <= ours
    assert {name: getattr(mnist_tutorial, name).__module__ for name in mnist_tutorial.ON_FIRST_USE} == {
        "evaluate_checkpoint": "mnist_tutorial.run.evaluation",
        "train_and_save": "mnist_tutorial.run.training",
    }
    with pytest.raises(AttributeError, match="has no attribute 'nothing_here'"):
        mnist_tutorial.nothing_here  # noqa: B018


def test_long_modules_are_flagged_not_failed():
    lengths = {module: len(path.read_text().splitlines()) for module, path in MODULES.items()}
    assert len(lengths) > 30 and min(lengths.values()) >= 1
    for module in [module for module, lines in lengths.items() if lines > SOFT_MAX_LINES]:
        warnings.warn(f"{module} has {lengths[module]} lines: does it hold two jobs?", stacklevel=1)


def test_every_third_party_import_is_a_declared_dependency():
    def normal(distribution: str) -> str:  # a distribution's name as pip compares them (PEP 503)
        return re.sub(r"[-_.]+", "-", distribution).lower()

    runtime = [spec for spec in importlib.metadata.requires("mnist-tutorial") or [] if "extra ==" not in spec]
    declared = {normal(re.split(r"[<>=!~ \[;(]", spec)[0]) for spec in runtime}  # what pip installs for the course
    imported = {
        base.split(".")[0]
        for module, tree in TREES.items()
        for base, _ in imported_names(tree, module)
        if not (module.startswith("mnist_tutorial.room") and base.split(".")[0] in ROOM_EXTRA)
    }
    third_party = {name for name in imported if name not in sys.stdlib_module_names and name != "mnist_tutorial"}
    distributions = importlib.metadata.packages_distributions()  # import name -> distributions (PIL -> Pillow)
    missing = {name for name in third_party if not {normal(d) for d in distributions.get(name, [name])} & declared}
    assert missing == set(), f"imported but not in pyproject.toml's dependencies: {sorted(missing)}"
    assert {"torch", "packaging"} <= third_party


def test_library_messages_name_arguments_not_command_line_flags():
    raised = [  # every string literal inside a `raise` statement, f-string parts included
        (module, node.lineno, part.value)
        for module, tree in TREES.items()
        for node in ast.walk(tree)
        if isinstance(node, ast.Raise) and node.exc is not None
        for part in ast.walk(node.exc)
        if isinstance(part, ast.Constant) and isinstance(part.value, str)
    ]
    assert any(module.endswith("settings") and "not a positive whole number" in text for module, _, text in raised)
    offenders = [f"{module}:{line}: {text!r}" for module, line, text in raised if "--" in text]
    assert [offender for offender in offenders if folder_of(offender.split(":")[0]) != "cli"] == []
