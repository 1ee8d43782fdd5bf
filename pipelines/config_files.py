"""Config files (`tfpipe run <pipeline> --config my.yaml`) and the description of each settable key.

A config file is YAML (JSON is YAML too): the same keys as `--set`, nested or dotted,

    train_steps: 2000
    model:
      name: lenet5
      learning_rate: 0.001
    augmentation.rotation_degrees: 10

and `--set` assignments given with it apply on top. No TensorFlow here.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import textwrap
import typing
from pathlib import Path

from pipelines.config import ConfigError, Setting


def settings_from_file(path: Path) -> list[tuple[str, Setting]]:
    """The file's settings as (dotted key, value) pairs, in the file's order, each value as YAML typed
    it (for pipelines.config.apply_settings)."""
    import yaml

    try:
        loaded = yaml.safe_load(path.read_text())
    except OSError as error:
        raise ConfigError(f"--config {path}: cannot be read ({error.strerror}).") from None
    except yaml.YAMLError as error:
        where = getattr(error, "problem_mark", None)
        line = f" at line {where.line + 1}" if where else ""
        raise ConfigError(f"--config {path}: not valid YAML{line}.") from None
    if loaded is None:
        return []
    if not isinstance(loaded, dict):
        raise ConfigError(f"--config {path}: expected a mapping of keys to values, such as `train_steps: 2000`.")
    return _flatten(loaded, "", path)


def _flatten(mapping: dict, prefix: str, path: Path) -> list[tuple[str, Setting]]:
    pairs: list[tuple[str, Setting]] = []
    for key, value in mapping.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            pairs.extend(_flatten(value, f"{name}.", path))
        else:
            for item in value if isinstance(value, list) else [value]:
                _check_scalar(item, name, path)
            pairs.append((name, value))
    return pairs


def _check_scalar(value, key: str, path: Path) -> None:
    if not isinstance(value, (bool, int, float, str)):
        raise ConfigError(f"--config {path}: {key} is {value!r}; expected a number, a string, true/false or a list.")


def field_descriptions(config_class: type) -> dict[str, str]:
    """Each settable key of `config_class` (nested with dots) and the docstring under its field,
    joined into one line; a field without one inherits its base class's."""
    descriptions: dict[str, str] = {}
    hints = typing.get_type_hints(config_class)
    own = _attribute_docstrings(config_class)
    for field in dataclasses.fields(config_class):
        kind = hints[field.name]
        if dataclasses.is_dataclass(kind) and isinstance(kind, type):
            for key, text in field_descriptions(kind).items():
                descriptions[f"{field.name}.{key}"] = text
        elif field.name in own:
            descriptions[field.name] = own[field.name]
    return descriptions


def _attribute_docstrings(config_class: type) -> dict[str, str]:
    """Docstrings written under annotated class attributes, the nearest class in the MRO first."""
    found: dict[str, str] = {}
    for klass in reversed(config_class.__mro__):
        try:
            tree = ast.parse(textwrap.dedent(inspect.getsource(klass)))
        except (OSError, TypeError):  # builtins, classes without source
            continue
        body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.ClassDef) else []
        for statement, following in zip(body, body[1:]):
            if (
                isinstance(statement, ast.AnnAssign)
                and isinstance(statement.target, ast.Name)
                and isinstance(following, ast.Expr)
                and isinstance(following.value, ast.Constant)
                and isinstance(following.value.value, str)
            ):
                found[statement.target.id] = " ".join(following.value.value.split())
    return found
