"""The code's shape: no import cycles in the four packages, and no TensorFlow for the CLI and configs."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest
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


# --- The layering written in docs/design.md ("Layering"), checked on every import. ---

# The config layer besides pipelines/<name>/: the base, the family bases and what they read.
CONFIG_MODULES = {"pipelines.config", "pipelines.csv_input", "pipelines.files", "pipelines.images", "pipelines.tuning"}
# Module code every pipeline's may import: the Trainers' and Tuners' helpers, the image code, the contracts.
SHARED_MODULE_CODE = ("training", "tuning", "images", "contracts")
# Imports against the layering that stay, each with its reason: none.
LAYERING_EXCEPTIONS: dict[tuple[str, str], str] = {}


def _pipeline_names() -> set[str]:
    return {path.parent.name for path in (REPO_ROOT / "pipelines").glob("*/config.py")}


def _layer(module: str, pipelines: set[str]) -> tuple[str, str]:
    """(layer, owner): the module's layer and, for config and module code, whose it is ("" if shared)."""
    parts = module.split(".")
    if parts[0] in ("tfpipe", "serving"):
        return parts[0], ""
    if parts[0] == "components":
        if parts[:2] != ["components", "models"]:
            return "components", ""
        family = parts[2] if len(parts) > 2 else ""
        layer = "features" if parts[-1] == "features" else "module code"
        return layer, "" if family in SHARED_MODULE_CODE else family
    if module in CONFIG_MODULES:
        return "config", ""
    if len(parts) > 1 and parts[1] in pipelines:
        return "config", parts[1]
    return "pipelines", ""


# What each layer may import (one line of docs/design.md's "Layering" each), as the reason a test failure gives.
LAYERING_RULES = {
    "tfpipe": "the CLI may import everything",
    "pipelines": "the DAG and the runners import configs, components and serving/, never module code or the CLI",
    "config": "a config imports the config bases, its own pipeline's features and generic components only",
    "module code": "module code imports its own pipeline's config and module code, the config bases, shared module "
    "code and generic components only (a request is built with components/tf_example.py, not serving's client)",
    "features": "a features module imports nothing of the project",
    "components": "a generic component imports only generic components and serving/, never a pipeline's code or config",
    "serving": "serving/ is the bottom layer: it imports nothing of components/, pipelines/ or tfpipe/",
}


def layering_violation(importer: str, imported: str, pipelines: set[str]) -> str | None:
    """Why `importer` may not import `imported` under the layering, or None where it may."""
    layer, owner = _layer(importer, pipelines)
    target, target_owner = _layer(imported, pipelines)
    own = target_owner in ("", owner)  # the importer's own pipeline's, or shared
    allowed = {
        "tfpipe": True,
        "pipelines": target not in ("tfpipe", "module code", "features"),
        "config": target == "components" or (target in ("config", "features") and own),
        "module code": target == "components" or (target in ("config", "module code", "features") and own),
        "features": False,
        "components": target in ("components", "serving"),
        "serving": target == "serving",
    }[layer]
    return None if allowed else LAYERING_RULES[layer]


def _named_imports(path: Path, modules: dict[str, Path]) -> set[str]:
    """The project modules `path` names in its imports: `from package import module` the module only,
    `from module import name` the module."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name in modules}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            submodules = {f"{node.module}.{alias.name}" for alias in node.names} & set(modules)
            named_in_module = len(submodules) < len(node.names)
            found |= submodules | ({node.module} & set(modules) if named_in_module else set())
    return found


def test_no_import_runs_against_the_layering():
    modules = _project_modules()
    pipelines = _pipeline_names()
    found = [
        f"{importer} -> {imported}: {why}"
        for importer, path in sorted(modules.items())
        for imported in sorted(_named_imports(path, modules))
        if (why := layering_violation(importer, imported, pipelines))
        and (importer, imported) not in LAYERING_EXCEPTIONS
    ]
    assert not found, "imports against the layering (docs/design.md):\n" + "\n".join(found)


@pytest.mark.parametrize(
    "importer, imported, allowed",
    [
        ("components.models.iris.model", "pipelines.iris.config", True),
        ("components.models.iris.model", "pipelines.letters.config", False),
        ("components.models.iris.model", "pipelines.registry", False),
        ("components.models.spoken_digits.model", "components.models.images.zoo", True),
        ("components.models.iris.model", "components.models.stock.windowing", False),
        ("components.models.iris.prediction_inputs", "serving.client", False),
        ("components.models.iris.features", "pipelines.config", False),
        ("pipelines.iris.config", "components.models.iris.features", True),
        ("pipelines.iris.config", "components.models.iris.model", False),
        ("pipelines.stock.config", "components.example_gen.time_series_example_gen", True),
        ("components.example_gen.time_series_example_gen", "components.models.stock.windowing", False),
        ("components.mlflow_tracker", "serving.push", True),
        ("components.mlflow_tracker", "pipelines.config", False),
        ("serving.push", "components.faults", False),
        ("pipelines.factory", "components.models.iris.model", False),
        ("pipelines.run", "tfpipe.console", False),
        ("tfpipe.cli", "pipelines.registry", True),
    ],
)
def test_the_layering_check_knows_each_rule(importer, imported, allowed):
    assert (layering_violation(importer, imported, {"iris", "letters", "stock"}) is None) == allowed


def test_no_module_of_the_packages_imports_the_tests():
    found = []
    for path in _project_modules().values():
        for node in ast.walk(ast.parse(path.read_text())):
            names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            found += [
                f"{path.relative_to(REPO_ROOT)}: {name}"
                for name in names
                if name.split(".")[0] in ("tests", "conftest")
            ]
    assert not found
