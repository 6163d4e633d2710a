"""The package's shape, read from its import statements: layers, no cycles, small modules, library words."""

import ast
from pathlib import Path

import pytest

import mnist_tutorial

PACKAGE = Path(mnist_tutorial.__file__).parent
MODULES = {
    ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__"): path
    for path in sorted(PACKAGE.rglob("*.py"))
}
FACES = ("mnist_tutorial.cli", "mnist_tutorial.widgets")
RUN_LAYER = "mnist_tutorial.run"
MAX_LINES = 220  # "about 200": one sitting


def resolve(module: str, node: ast.ImportFrom) -> str:
    """The absolute module name an ImportFrom refers to (before its imported names)."""
    if node.level == 0:
        return node.module or ""
    package = module if MODULES[module].name == "__init__.py" else module.rpartition(".")[0]
    for _ in range(node.level - 1):
        package = package.rpartition(".")[0]
    return f"{package}.{node.module}" if node.module else package


def imports_of(module: str) -> set[str]:
    """The package modules `module` imports, from its import statements (including those inside functions)."""
    found = set()
    for node in ast.walk(ast.parse(MODULES[module].read_text())):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = resolve(module, node)
            names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base for alias in node.names]
        else:
            continue
        found |= {name for name in names if name in MODULES and name != module}
    return found


GRAPH = {module: imports_of(module) for module in MODULES}


def within(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def test_no_import_cycle_among_package_modules():
    # Package __init__ files only re-export; a cycle through them is not a cycle of jobs.
    graph = {m: {d for d in deps if MODULES[d].name != "__init__.py"} for m, deps in GRAPH.items()}
    state: dict[str, str] = {}

    def visit(module: str, path: list[str]) -> None:
        state[module] = "open"
        for dependency in sorted(graph[module]):
            if state.get(dependency) == "open":
                pytest.fail("import cycle: " + " -> ".join([*path, module, dependency]))
            if dependency not in state:
                visit(dependency, [*path, module])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [])


def test_nothing_imports_the_command_line_and_the_core_imports_no_face_nor_the_run_layer():
    for module, dependencies in GRAPH.items():
        if not within(module, "mnist_tutorial.cli"):
            assert not {d for d in dependencies if within(d, "mnist_tutorial.cli")}, module
        core = module != "mnist_tutorial" and not any(within(module, p) for p in (*FACES, RUN_LAYER))
        if core:
            assert not {d for d in dependencies if any(within(d, p) for p in (*FACES, RUN_LAYER))}, module
        if within(module, "mnist_tutorial.widgets"):
            assert not {d for d in dependencies if within(d, RUN_LAYER)}, module


def test_the_layer_test_sees_imports():
    # Guard against a graph that is empty by mistake: these edges are known to exist.
    assert "mnist_tutorial.train" in GRAPH["mnist_tutorial.run.train"]
    assert "mnist_tutorial.run.train" in GRAPH["mnist_tutorial.cli.train"]
    assert "mnist_tutorial.errors" in GRAPH["mnist_tutorial.cli"]


@pytest.mark.parametrize("module", sorted(MODULES))
def test_modules_are_readable_in_one_sitting(module):
    lines = len(MODULES[module].read_text().splitlines())
    assert lines <= MAX_LINES, f"{module} has {lines} lines: split it by job"


def raised_strings(tree: ast.AST):
    """Every string literal inside a `raise` statement, f-string parts included."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Raise) and node.exc is not None:
            for part in ast.walk(node.exc):
                if isinstance(part, ast.Constant) and isinstance(part.value, str):
                    yield node.lineno, part.value


def test_library_messages_name_arguments_not_command_line_flags():
    offenders = [
        f"{module}:{line}: {text!r}"
        for module, path in MODULES.items()
        if not within(module, "mnist_tutorial.cli")
        for line, text in raised_strings(ast.parse(path.read_text()))
        if "--" in text
    ]
    assert offenders == []


def test_the_message_scan_finds_raised_strings():
    strings = [text for _, text in raised_strings(ast.parse(MODULES["mnist_tutorial.settings"].read_text()))]
    assert any("is not a positive whole number" in text for text in strings)
