"""Named pipelines: a shipped pipeline's code over your own data, kept apart under a name you choose.

`tfpipe run mnist --name fashion --set data_dir=~/fashion` runs the mnist pipeline's module code,
schema and defaults, with the given settings, as the pipeline `fashion`: its own folder in the
workdir (ML Metadata, artifacts, runs), its own served model (`serving/fashion/`), MLflow experiment
and registered model. Its models are compared with its own earlier models only, never with mnist's,
and never replace mnist's served one.

The name, the shipped pipeline it is based on and the settings that define it (the --config file's
and --set's of the `run` that named it) are recorded in `<workdir>/<name>/named_pipeline.json`.
Later commands find it there by name: `tfpipe run fashion` (its --set values apply on top of the
recorded ones for that run only), `predict fashion`, `runs fashion`, `list`, `schema fashion`; a
new `run mnist --name fashion ...` defines it anew. No TensorFlow here.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import tempfile
from pathlib import Path

from pipelines.config import ConfigError, PipelineConfig, Setting, apply_settings
from pipelines.registry import PIPELINES, UnknownPipelineError

RECORD = "named_pipeline.json"
# Names as the shipped pipelines' are: they name folders, MLflow experiments, served models and TFX
# pipelines (where orchestrators allow lower case, digits and one separator).
_NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")
# Folders of the workdir that are not pipelines (pipelines/workdir.py).
_RESERVED = ("serving", "mlflow")


@dataclasses.dataclass(frozen=True)
class NamedPipeline:
    name: str
    based_on: str
    """The shipped pipeline whose code, schema and defaults it runs."""
    settings: tuple[tuple[str, Setting], ...]
    """What defines it, in order: (dotted key, value) as apply_settings takes them."""
    folder: Path | None = dataclasses.field(default=None, compare=False)
    """Its folder in the workdir (where its record is)."""

    def config_class(self) -> type[PipelineConfig]:
        return named_class(PIPELINES[self.based_on], self.name, self.folder)

    def config(self) -> PipelineConfig:
        """Its config: the shipped pipeline's defaults with the defining settings."""
        return apply_settings(self.config_class()(), self.settings)


def named_class(shipped: type[PipelineConfig], name: str, folder: Path | None = None) -> type[PipelineConfig]:
    """`shipped`'s config class under the pipeline name `name`: everything keyed by the pipeline's name
    (workdir folder, served model, MLflow experiment, TFX pipeline) is then the variant's own. `folder`:
    its folder in the workdir, where what it keeps beside its record is (a table's inferred schema)."""
    description = f"Named pipeline on {shipped.name}'s code and defaults."
    attributes = {"name": name, "based_on": shipped.name, "description": description}
    if folder is not None:
        attributes["pipeline_folder"] = str(folder.resolve())
    return type(shipped.__name__, (shipped,), attributes)


def check_name(name: str) -> None:
    """ConfigError, in one sentence, for a name that cannot be a named pipeline's."""
    if not _NAME.fullmatch(name):
        raise ConfigError(
            f"--name {name}: expected a lower-case letter, then up to 39 lower-case letters, digits or underscores."
        )
    if name in PIPELINES:
        raise ConfigError(f"--name {name}: {name} is a shipped pipeline; choose a name of your own.")
    if name in _RESERVED:
        raise ConfigError(f"--name {name}: the workdir keeps its {name} folder under that name; choose another.")


def read(workdir: Path, name: str) -> NamedPipeline | None:
    """The named pipeline `name` of `workdir`, or None if it has none by that name."""
    path = workdir / name / RECORD
    if not _NAME.fullmatch(name) or not path.is_file():
        return None
    try:
        record = json.loads(path.read_text())
        named = NamedPipeline(
            name=record["name"],
            based_on=record["based_on"],
            settings=tuple((key, value) for key, value in record["settings"]),
            folder=workdir / name,
        )
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ConfigError(
            f"{path}: not a named pipeline's record ({error}); remove it, then name the pipeline again."
        ) from None
    if named.based_on not in PIPELINES:
        raise ConfigError(
            f"{path}: {name} is based on {named.based_on}, which this version of tfpipe does not have; "
            f"name it again on one of {', '.join(sorted(PIPELINES))}."
        )
    return named


def write(workdir: Path, named: NamedPipeline) -> None:
    """Records `named` in the workdir, whole or not at all."""
    folder = workdir / named.name
    folder.mkdir(parents=True, exist_ok=True)
    record = {"name": named.name, "based_on": named.based_on, "settings": [list(pair) for pair in named.settings]}
    with tempfile.NamedTemporaryFile("w", dir=folder, suffix=".tmp", delete=False) as f:
        json.dump(record, f, indent=2)
    os.replace(f.name, folder / RECORD)


def all_named(workdir: Path) -> list[NamedPipeline]:
    """Every named pipeline of `workdir`, by name."""
    if not workdir.is_dir():
        return []
    found = (read(workdir, path.name) for path in sorted(workdir.iterdir()) if (path / RECORD).is_file())
    return [named for named in found if named is not None]


def define(workdir: Path, name: str, based_on: str, settings: list[tuple[str, Setting]]) -> NamedPipeline:
    """The named pipeline `name` on `based_on` with `settings` (not yet recorded: `write` it once its
    config checks out). ConfigError when the name is taken by a pipeline based on another."""
    check_name(name)
    existing = read(workdir, name)
    if existing is not None and existing.based_on != based_on:
        raise ConfigError(
            f"--name {name}: {workdir} already has {name}, based on {existing.based_on}; choose another name, "
            f"or run it as `tfpipe run {name}`."
        )
    return NamedPipeline(name, based_on, tuple(settings), workdir / name)


def pipeline(workdir: Path, name: str) -> tuple[type[PipelineConfig], list[tuple[str, Setting]]]:
    """The config class of the pipeline called `name` (shipped, or named in `workdir`) and the settings
    that define it (none for a shipped one). UnknownPipelineError, listing both kinds, if neither."""
    if name in PIPELINES:
        return PIPELINES[name], []
    named = read(workdir, name)
    if named is None:
        raise UnknownPipelineError(name, tuple(other.name for other in all_named(workdir)))
    return named.config_class(), list(named.settings)
