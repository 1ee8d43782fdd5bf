"""What every pipeline's config has, and `--set key=value` overrides.

Each pipeline subclasses `PipelineConfig` in `pipelines/<name>/config.py`:
class attributes describe the pipeline's structure (its label, metrics, module
code), dataclass fields are the tunable values a user may override with
`tfpipe run <name> --set field=value` (nested with dots: `model.learning_rate=0.01`).

This module must not import TensorFlow: the CLI reads configs for `--help`
and `tfpipe list`.
"""

from __future__ import annotations

import dataclasses
import typing
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

REPO_ROOT = Path(__file__).resolve().parent.parent
# Where pipelines/kubeflow/Dockerfile puts the project in the image the containers run.
IMAGE_ROOT = "/tfpipe"


class ConfigError(ValueError):
    """A `--set` override names an unknown field or carries a value of the wrong type."""


@dataclasses.dataclass
class PipelineConfig:
    """Tunable values shared by every pipeline; subclasses add their own."""

    # --- Structure, fixed per pipeline (not settable with --set). ---
    name: ClassVar[str]
    description: ClassVar[str]
    # Module code, as paths relative to the repository root. TFX packages these
    # files, so a change to them invalidates the cache of Transform / Trainer.
    preprocessing_module: ClassVar[str]
    model_module: ClassVar[str]
    # The module `tfpipe predict` uses to turn its command-line inputs into serialized
    # tf.Examples and the model's outputs into lines (see tfpipe/cli.py).
    request_module: ClassVar[str]
    label_key: ClassVar[str]
    # The output of `evaluation_signature` that TFMA scores.
    prediction_key: ClassVar[str]
    # The SavedModel signature TFMA calls with serialized raw tf.Examples.
    evaluation_signature: ClassVar[str] = "serving_default"
    # Other outputs of that signature scored beside the prediction with the same label and
    # metrics: naive forecasts the model should beat. Empty for a single-output signature.
    baseline_outputs: ClassVar[tuple[str, ...]] = ()
    # TFMA metrics (tf.keras.metrics class names) computed overall and per slice.
    metrics: ClassVar[tuple[str, ...]]
    slice_features: ClassVar[tuple[str, ...]]
    # The metric (one of `metrics`) that decides blessing, and whether larger values are better.
    blessing_metric: ClassVar[str]
    blessing_higher_is_better: ClassVar[bool] = True

    # --- Tunable values. ---
    data_dir: str = ""
    """Folder of input files that ExampleGen reads (every file in it); defaults are relative
    to the repository, a folder given with --set to the current directory."""
    train_steps: int = 500
    """Training steps (batches) the Trainer runs, over all epochs."""
    epochs: int = 10
    """Epochs the training steps are split into; evaluation metrics are recorded after each."""
    eval_steps: int = 50
    """Batches of the eval split the Trainer scores after training."""
    blessing_threshold: float = 0.0
    """The blessing metric must reach this value (or stay below it when lower is better)."""
    max_regression: float = 0.0
    """How far the blessing metric may fall behind the latest blessed model's."""
    warm_start: bool = False
    """Start training from the weights of the latest blessed model (the notes' checkpoint resume)
    instead of from scratch; the model must have the same architecture."""

    @property
    def schema_path(self) -> Path:
        """The curated schema that ExampleValidator checks the data against."""
        return REPO_ROOT / "schemas" / self.name / "schema.pbtxt"

    @property
    def model_name(self) -> str:
        """The name the model is served under: `<serving dir>/<model_name>/<version>/`."""
        return self.name

    def example_gen(self):
        """The component that reads `data_dir` into tf.Examples with train and eval splits.

        CsvExampleGen (every CSV file, split train:eval 2:1 by hash) unless a pipeline
        overrides this. Imports TFX when called, not when this module loads.
        """
        from tfx.components import CsvExampleGen

        return CsvExampleGen(input_base=str(self.resolved_data_dir()))

    def check(self) -> None:
        """Raises ConfigError, saying what was expected, when this config cannot run on its data."""
        data_dir = self.resolved_data_dir()
        if not data_dir.is_dir():
            raise ConfigError(f"data folder {data_dir} does not exist; point data_dir at a folder of input files.")
        self.check_data(data_dir)

    def check_data(self, data_dir: Path) -> None:
        """The default suits ExampleGens that read the files directly in the folder (CSV)."""
        if not any(path.is_file() for path in data_dir.iterdir()):
            raise ConfigError(f"data folder {data_dir} has no files; expected the pipeline's input files in it.")

    def module_path(self, relative: str) -> str:
        return str(REPO_ROOT / relative)

    def required_wins(self) -> tuple[str, ...]:
        """Baseline outputs the model must score no worse than (by mean squared error) to be blessed.

        For each, the evaluation signature has an output `excess_squared_error_vs_<baseline>`:
        the model's squared error minus the baseline's, per example."""
        return ()

    def transform_params(self) -> dict:
        """The Transform's custom_config, for a preprocessing_fn that takes one."""
        return {}

    def trainer_custom_config(self) -> dict:
        """The Trainer's custom_config: the whole config, which run_fn turns back into this typed
        config (pipelines.registry.config_from_custom_config). TFX keys the Trainer's cache on it,
        so any changed value trains anew."""
        return {"pipeline": self.name, "config": self.to_dict()}

    def resolved_data_dir(self) -> Path:
        path = Path(self.data_dir)
        return path if path.is_absolute() else (REPO_ROOT / path)

    def to_dict(self) -> dict:
        """The tunable values, JSON-ready (for logs and custom_config)."""
        return _jsonable(dataclasses.asdict(self))


def from_dict(config_class: type, values: dict):
    """The dataclass `config_class` with `values` (as to_dict gave them), nested dataclasses and
    tuples rebuilt; ConfigError naming any key the class does not have."""
    hints = typing.get_type_hints(config_class)
    fields = {field.name: field for field in dataclasses.fields(config_class)}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise ConfigError(f"{config_class.__name__} has no field(s) {', '.join(unknown)}; known: {', '.join(fields)}.")
    arguments = {}
    for name, value in values.items():
        kind = hints[name]
        if isinstance(kind, type) and dataclasses.is_dataclass(kind):
            value = from_dict(kind, value)
        elif typing.get_origin(kind) is tuple:
            value = tuple(value)
        arguments[name] = value
    return config_class(**arguments)


def _jsonable(value):
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, (tuple, list)):
        return [_jsonable(item) for item in value]
    return value


def apply_overrides(config: PipelineConfig, assignments: list[str]) -> PipelineConfig:
    """Returns a copy of `config` with each `key=value` assignment applied.

    Values are parsed by the field's declared type: int, float, bool
    (true/false/1/0/yes/no), str, or a tuple of ints/floats/strs written with
    commas (`model.hidden_units=16,8`; an empty value is an empty tuple).
    """
    config = _deep_copy(config)
    for assignment in assignments:
        key, sep, raw = assignment.partition("=")
        if not sep or not key:
            raise ConfigError(f"--set {assignment!r}: expected key=value, for example train_steps=100.")
        *parents, leaf = key.split(".")
        target = config
        for part in parents:
            target = _field_value(target, part, key)
            if not dataclasses.is_dataclass(target):
                raise ConfigError(f"--set {key}: {part!r} has no sub-fields.")
        field = _find_field(target, leaf, key)
        setattr(target, leaf, _parse(raw, _resolved_type(target, field), key))
    return config


def describe_fields(config: DataclassInstance, prefix: str = "") -> list[tuple[str, str]]:
    """(key, current value) for every settable field, nested ones with dots."""
    rows = []
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            rows.extend(describe_fields(value, f"{prefix}{field.name}."))
        else:
            shown = ",".join(map(str, value)) if isinstance(value, tuple) else str(value)
            rows.append((f"{prefix}{field.name}", shown))
    return rows


def _deep_copy(config):
    changes = {
        field.name: _deep_copy(getattr(config, field.name))
        for field in dataclasses.fields(config)
        if dataclasses.is_dataclass(getattr(config, field.name))
    }
    return dataclasses.replace(config, **changes)


def _find_field(target, name: str, key: str) -> dataclasses.Field:
    for field in dataclasses.fields(target):
        if field.name == name:
            return field
    known = ", ".join(key for key, _ in describe_fields(target))
    raise ConfigError(f"--set {key}: unknown field {name!r}; settable here: {known}.")


def _field_value(target, name: str, key: str):
    return getattr(target, _find_field(target, name, key).name)


def _resolved_type(target, field: dataclasses.Field):
    # Fields are declared with `from __future__ import annotations`, so their
    # types are strings until resolved.
    return typing.get_type_hints(type(target))[field.name]


_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


def _parse(raw: str, kind, key: str):
    origin = typing.get_origin(kind)
    if origin is tuple:
        item_kind = typing.get_args(kind)[0]
        return tuple(_parse(item.strip(), item_kind, key) for item in raw.split(",") if item.strip())
    try:
        if kind is bool:
            lowered = raw.strip().lower()
            if lowered in _TRUE | _FALSE:
                return lowered in _TRUE
            raise ValueError
        if kind in (int, float, str):
            return kind(raw)
    except ValueError:
        raise ConfigError(f"--set {key}={raw}: expected a value of type {kind.__name__}.") from None
    raise ConfigError(f"--set {key}: fields of type {kind} cannot be set from the command line.")
