"""The code's shape: no import cycles in the four packages, and no TensorFlow for the CLI and configs."""

import ast
import subprocess
import sys
from pathlib import Path

from conftest import REPO_ROOT

PACKAGES = ("tfpipe", "pipelines", "components", "serving")


def _module_name(path: Path) -> str:
    parts = path.relative_to(REPO_ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _project_modules() -> dict[str, Path]:
    return {_module_name(path): path for package in PACKAGES for path in (REPO_ROOT / package).rglob("*.py")}


def _imports(path: Path, modules: dict[str, Path]) -> set[str]:
    """The project modules `path` imports, at the top or inside functions (TYPE_CHECKING blocks too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from package import module` names a module; `from module import name` a name in it.
            names = [f"{node.module}.{alias.name}" for alias in node.names] + [node.module]
        else:
            continue
        for name in names:
            if name in modules:
                found.add(name)
    return found


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a path of module names, or None."""
    state: dict[str, str] = {}
    stack: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = "open"
        stack.append(module)
        for imported in sorted(graph[module]):
            if state.get(imported) == "open":
                return stack[stack.index(imported) :] + [imported]
            if imported not in state and (cycle := visit(imported)):
                return cycle
        state[module] = "done"
        stack.pop()
        return None

    for module in sorted(graph):
        if module not in state and (cycle := visit(module)):
            return cycle
    return None


def test_no_import_cycles():
    modules = _project_modules()
    # A package's __init__ runs before any of its modules: importing `a.b` imports `a` too.
    graph = {
        name: _imports(path, modules) | ({name.rsplit(".", 1)[0]} & set(modules) if "." in name else set())
        for name, path in modules.items()
    }
    assert _cycle(graph) is None, " -> ".join(_cycle(graph) or [])


def test_the_cycle_check_finds_a_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_cli_and_every_pipeline_config_load_no_tensorflow():
    configs = sorted(_module_name(path) for path in (REPO_ROOT / "pipelines").glob("*/config.py"))
    assert "pipelines.iris.config" in configs
    code = (
        "import importlib, sys\n"
        f"for name in {['tfpipe.cli', 'pipelines.registry', *configs]!r}:\n"
        "    importlib.import_module(name)\n"
        "heavy = ('tensorflow', 'tfx', 'apache_beam', 'tensorflow_transform', 'mlflow')\n"
        "heavy = sorted(m for m in heavy if m in sys.modules)\n"
        "print(','.join(heavy))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO_ROOT, check=True)
    assert result.stdout.strip() == ""


def test_importing_components_has_no_side_effect():
    code = (
        "import os, sys\n"
        "import components, components.models, components.example_gen\n"
        "print('TF_USE_LEGACY_KERAS' in os.environ, 'tensorflow' in sys.modules)\n"
    )
    env = {key: value for key, value in __import__("os").environ.items() if key != "TF_USE_LEGACY_KERAS"}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO_ROOT, env=env, check=True
    )
    assert result.stdout.split() == ["False", "False"]
