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
import fnmatch
import math
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Literal, TypeVar

from components.example_gen import spans
from pipelines import csv_input, tuning
from pipelines.tuning import SearchSpace, TuningConfig

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

REPO_ROOT = Path(__file__).resolve().parent.parent
# Where pipelines/kubeflow/Dockerfile puts the project in the image the containers run.
IMAGE_ROOT = "/tfpipe"


class ConfigError(ValueError):
    """A `--set` override names an unknown field or carries a value of the wrong type or out of range."""


@dataclasses.dataclass(frozen=True)
class Range:
    """The values a number field (or each number of a tuple field) may take; None: no bound."""

    low: float | None = None
    high: float | None = None
    low_included: bool = True
    high_included: bool = True

    def __contains__(self, value: float) -> bool:
        if self.low is not None and (value < self.low or (value == self.low and not self.low_included)):
            return False
        return not (self.high is not None and (value > self.high or (value == self.high and not self.high_included)))

    def describe(self) -> str:
        """The bounds in words: "1 or more", "above 0", "from 0 to 1", "0 or more and below 1"."""
        if self.low is not None and self.high is not None and self.low_included and self.high_included:
            return f"from {self.low:g} to {self.high:g}"
        low = None if self.low is None else f"{self.low:g} or more" if self.low_included else f"above {self.low:g}"
        high = None if self.high is None else f"{self.high:g} or less" if self.high_included else f"below {self.high:g}"
        return " and ".join(bound for bound in (low, high) if bound)


AT_LEAST_1 = Range(low=1)
AT_LEAST_0 = Range(low=0)
ABOVE_0 = Range(low=0, low_included=False)
FRACTION = Range(low=0, high=1)
# Early stopping's held-out share of the training split: some, and never more than half of it.
VALIDATION_FRACTION = Range(low=0, high=0.5, low_included=False)
# A field's allowed values: `dataclasses.field(metadata={"range": Range(...)})` on the field, or else
# the first of these rules whose pattern matches its name (so a new pipeline's `batch_size` or
# `learning_rate` is checked without a word). Every float must also be finite.
RANGE_RULES: tuple[tuple[str, Range], ...] = (
    ("*_steps", AT_LEAST_1),
    ("epochs", AT_LEAST_1),
    ("*batch_size", AT_LEAST_1),
    ("*_days", AT_LEAST_1),
    ("*units", AT_LEAST_1),
    ("image_height", AT_LEAST_1),
    ("image_width", AT_LEAST_1),
    ("*learning_rate", ABOVE_0),
    ("*_fraction", FRACTION),
    ("*dropout", Range(low=0, high=1, high_included=False)),
    ("l2", AT_LEAST_0),
    ("*patience", AT_LEAST_0),
    ("seed", AT_LEAST_0),
    ("*_degrees", Range(low=0, high=180)),
    ("trials", AT_LEAST_0),
    ("max_minutes", ABOVE_0),
)


def field_range(field: dataclasses.Field) -> Range | None:
    """The Range a field's values must lie in, if any (see RANGE_RULES)."""
    if "range" in field.metadata:
        return field.metadata["range"]
    return next((rule for pattern, rule in RANGE_RULES if fnmatch.fnmatchcase(field.name, pattern)), None)


def check_ranges(config: DataclassInstance, prefix: str = "") -> None:
    """Raises ConfigError (one sentence, naming the key) for the first field out of its range."""
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            check_ranges(value, f"{prefix}{field.name}.")
        else:
            _check_value(field, value, f"{prefix}{field.name}")


@dataclasses.dataclass
class EarlyStoppingConfig:
    """Stop training once a validation slice of the training split stops improving, and keep the best
    epoch's weights (components/models/training.py). The slice is held out of the training split, never
    taken from the eval split, which blesses the model: a model chosen on the eval split would be scored
    on data that chose it."""

    enabled: bool = False
    """Hold out the validation slice and stop early; false trains every epoch on the whole training split."""
    validation_fraction: float = dataclasses.field(default=0.1, metadata={"range": VALIDATION_FRACTION})
    """The share of the training split's examples held out as the validation slice (above 0, at most 0.5)."""
    patience: int = dataclasses.field(default=3, metadata={"range": AT_LEAST_1})
    """Epochs (each a check of the validation slice) without a better `monitor` before training stops."""
    monitor: str = "val_loss"
    """The validation metric watched: `val_` and a name of the model's Keras logs (the loss or a metric);
    lower is better unless its name says accuracy (Keras' rule)."""
    restore_best_weights: bool = True
    """End with the weights of the epoch with the best `monitor`, whether or not training stopped early."""


_TransformT = TypeVar("_TransformT", bound="TransformConfig")
_ConfigT = TypeVar("_ConfigT", bound="PipelineConfig")


@dataclasses.dataclass(frozen=True)
class TransformConfig:
    """What a pipeline's preprocessing_fn reads of its config, typed: each family subclasses it with
    those fields only. It is Transform's custom_config, on which TFX keys Transform's cache, so it
    holds nothing else: a value the preprocessing does not read would analyze the data again for
    nothing when it changed. This base has no field (a preprocessing_fn that takes no config)."""

    def to_custom_config(self) -> dict:
        """Transform's custom_config: the fields, JSON-ready, in their declared order."""
        return _jsonable(dataclasses.asdict(self))

    @classmethod
    def from_custom_config(cls: type[_TransformT], custom_config: dict) -> _TransformT:
        """The typed sub-config a preprocessing_fn was given as custom_config."""
        return from_dict(cls, custom_config)


# The settings only the Evaluator's config reads (pipelines/factory.py), never the module code.
EVALUATOR_KEYS = ("blessing_threshold", "max_regression", "regression_relative")
# The settings only the DAG and its orchestrators read: which data, the InfraValidator, schedule and retries.
ORCHESTRATION_KEYS = (
    "span_window",
    "infra_validation_requests",
    "infra_validation_seconds",
    "schedule",
    "retries",
    "retry_delay_seconds",
    "bulk_inference_dir",
)
# The ExampleGen that reads bulk_inference_dir, and its one split, which TFX's BulkInferrer scores.
UNLABELLED_EXAMPLE_GEN = "UnlabelledExampleGen"
UNLABELLED_SPLIT = "unlabelled"
# Blessing metrics (Keras metric classes) whose values are shares, between 0 and 1.
_SHARE_METRICS = ("Accuracy", "BinaryAccuracy", "CategoricalAccuracy", "SparseCategoricalAccuracy", "AUC")


@dataclasses.dataclass
class PipelineConfig:
    """Tunable values shared by every pipeline; subclasses add their own."""

    # --- Structure, fixed per pipeline (not settable with --set). ---
    name: ClassVar[str]
    description: ClassVar[str]
    # A named pipeline's (pipelines/named.py): the shipped pipeline whose module code, schema and
    # defaults it runs under its own name; "" for a shipped pipeline.
    based_on: ClassVar[str] = ""
    # A named pipeline's folder in the workdir, where its record is; "" for a shipped pipeline.
    pipeline_folder: ClassVar[str] = ""
    # Whether the schema is TFDV's inference from the data, written to `schema_path` at the first run
    # for the user to review and held to on later runs (the table pipeline), rather than curated in schemas/.
    infers_schema: ClassVar[bool] = False
    # Every module of a pipeline's module code is named by its import name, as
    # `components.models.iris.model`. Run from this checkout, TFX packages the Transform's and
    # Trainer's module files (module_file), so a change to them invalidates their cache.
    preprocessing_module: ClassVar[str]
    model_module: ClassVar[str]
    # The module `tfpipe predict` uses to turn its command-line inputs into serialized
    # tf.Examples and the model's outputs into lines: a components.models.contracts.RequestModule.
    request_module: ClassVar[str]
    # What a prediction is: a label (RequestModule), a forecast for a day the input decides
    # (ForecastRequestModule) or the next step of a sequence it can continue (SequenceRequestModule).
    prediction_kind: ClassVar[Literal["label", "forecast", "sequence"]] = "label"
    label_key: ClassVar[str]
    # The output of `evaluation_signature` that TFMA scores.
    prediction_key: ClassVar[str]
    # The SavedModel signature over plain inputs, each named as its raw feature in the tf.Examples
    # (JSON clients of the model server; the model logged to MLflow). Its inputs' batch dimension
    # comes first; images and audio are the files' bytes.
    json_signature: ClassVar[str]
    # The SavedModel signature TFMA calls with serialized raw tf.Examples.
    evaluation_signature: ClassVar[str] = "serving_default"
    # Signatures of the SavedModel that TFMA calls first, with the same serialized raw tf.Examples,
    # for transformed features: where `label_key` is found when the label is made by Transform.
    evaluation_preprocessing: ClassVar[tuple[str, ...]] = ()
    # Other outputs of that signature scored beside the prediction with the same label and
    # metrics: naive forecasts the model should beat. Empty for a single-output signature.
    baseline_outputs: ClassVar[tuple[str, ...]] = ()
    # How a required win over a baseline output (required_wins) is measured, per example: the
    # evaluation signature's output `excess_<win_measure>_vs_<baseline>` is the model's measure
    # minus the baseline's. An error (squared_error, lower is better): its mean must be at most 0;
    # a score (correct: 1 for a right class, else 0; higher is better): at least 0.
    win_measure: ClassVar[str] = "squared_error"
    win_measure_higher_is_better: ClassVar[bool] = False
    # TFMA metrics (tf.keras.metrics class names) computed overall and per slice.
    metrics: ClassVar[tuple[str, ...]]
    # Where the classes of `metrics` are defined when they are not Keras' or TFMA's own (Keras Metric
    # subclasses of the pipeline's module code, by import name); "" when they all are.
    metrics_module: ClassVar[str] = ""
    slice_features: ClassVar[tuple[str, ...]]
    # The metric (one of `metrics`) that decides blessing, and whether larger values are better.
    blessing_metric: ClassVar[str]
    blessing_higher_is_better: ClassVar[bool] = True
    # What a model search (tuning.trials > 0) ranks trials by: a metric of the Keras history on the
    # eval split after a trial's last epoch, and whether larger values are better.
    tuning_objective: ClassVar[str] = "val_loss"
    tuning_higher_is_better: ClassVar[bool] = False
    # How early stopping's validation slice is taken from the training split: (series feature, time feature)
    # of the transformed examples, the slice being each series' latest examples by that time (a string that
    # sorts in time order, such as an ISO date, or a whole number); empty: every k-th example of the split
    # in file order, spread evenly over it (components/models/training.py).
    validation_slice_by_time: ClassVar[tuple[str, str] | tuple[()]] = ()
    # The SavedModel signature TFX's BulkInferrer scores bulk_inference_dir's examples with: serialized raw
    # tf.Examples without the label in, numbers out. Empty: bulk_inference_dir is refused, where an example is
    # no CSV row (which the BulkInferrer's ExampleGen reads) or the model has no such signature.
    bulk_inference_signature: ClassVar[str] = ""

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
    """The blessing metric must reach this value (or stay below it when lower is better; there, 0
    sets no bound)."""
    max_regression: float = 0.0
    """How far the blessing metric may fall behind the latest blessed model's."""
    regression_relative: bool = False
    """max_regression as a fraction of the latest blessed model's value (true) rather than in the
    metric's own units (false): the scale-free choice where the metric has units, such as prices."""
    cache_in_memory: bool = True
    """Keep the transformed training and eval data in memory after the Trainer's first pass over it
    (later epochs skip reading and parsing); false for data larger than memory."""
    min_class_examples: int = dataclasses.field(default=1, metadata={"range": AT_LEAST_0})
    """Where the label is a class: the fewest examples of each class each split must hold, or the data
    gate stops the run naming the class (0: no such check)."""
    warm_start: bool = False
    """Start training from the weights of the latest blessed model (the notes' checkpoint resume)
    instead of from scratch; the model must have the same architecture."""
    span_window: int = dataclasses.field(default=1, metadata={"range": AT_LEAST_0})
    """Where data_dir holds span folders (span-0001, span-0002, ...: data delivered over time), how many of
    the latest spans a run reads, the latest included (0: every span); a data_dir without spans is read whole."""
    infra_validation_requests: int = dataclasses.field(default=3, metadata={"range": AT_LEAST_1})
    """Examples of the eval split the InfraValidator sends, one gRPC Predict request each, to the candidate
    served by `tfpipe serve` in a separate process; the Pusher pushes only a model that loaded and answered."""
    infra_validation_seconds: int = dataclasses.field(default=120, metadata={"range": AT_LEAST_1})
    """How long the InfraValidator's server may take to start and load the candidate, in seconds."""
    schedule: str = ""
    """When the Airflow DAG runs, a cron expression in UTC ("0 22 * * 1-5": weekdays at 22:00); empty: only
    when triggered."""
    retries: int = dataclasses.field(default=2, metadata={"range": AT_LEAST_0})
    """How often Airflow and Kubeflow retry a failed component that reads or writes outside the pipeline
    (the ExampleGen, InfraValidator, Pusher, MlflowTracker), where a second try may pass; others fail alike."""
    retry_delay_seconds: int = dataclasses.field(default=60, metadata={"range": AT_LEAST_1})
    """The wait before the first retry, in seconds; it doubles for each further one."""
    bulk_inference_dir: str = ""
    """Folder of unlabelled CSV files (the data's columns, the label's left out) that TFX's BulkInferrer
    scores in the run with the Trainer's model, if blessed, writing PredictionLogs; empty: no bulk inference."""
    early_stopping: EarlyStoppingConfig = dataclasses.field(default_factory=EarlyStoppingConfig)
    tuning: TuningConfig = dataclasses.field(default_factory=TuningConfig)
    search_space: SearchSpace = dataclasses.field(default_factory=SearchSpace)
    """The candidate values a search tries (pipelines/tuning.py); each pipeline declares its own."""

    @property
    def schema_path(self) -> Path:
        """The curated schema that ExampleValidator checks the data against."""
        return REPO_ROOT / "schemas" / self.shipped_name / "schema.pbtxt"

    @property
    def shipped_name(self) -> str:
        """The shipped pipeline whose code this config runs: its own name, or a named pipeline's `based_on`."""
        return self.based_on or self.name

    @property
    def model_name(self) -> str:
        """The name the model is served under: `<serving dir>/<model_name>/<version>/`."""
        return self.name

    def example_gen(self):
        """The component that reads `data_dir` into tf.Examples with train and eval splits.

        CsvExampleGen (every CSV file, split train:eval 2:1 by hash; column names in quotes read
        without them) unless a pipeline overrides this. Imports TFX when called, not when this module loads.
        """
        from components.example_gen.csv_example_gen import CsvExampleGen

        return CsvExampleGen(str(self.resolved_data_dir()), len(self.input_dirs()) if self.latest_span() else None)

    def unlabelled_example_gen(self):
        """The component that reads `bulk_inference_dir` as `example_gen` reads `data_dir`, into one split."""
        from components.example_gen.csv_example_gen import CsvExampleGen

        return CsvExampleGen(str(self.resolved_bulk_inference_dir()), split=UNLABELLED_SPLIT).with_id(
            UNLABELLED_EXAMPLE_GEN
        )

    def check(self) -> None:
        """Raises ConfigError, saying what was expected, when this config cannot run on its data."""
        self.check_values()
        self.check_search()
        data_dir = self.resolved_data_dir()
        if not data_dir.is_dir():
            raise ConfigError(f"data folder {data_dir} does not exist; point data_dir at a folder of input files.")
        reads_csv = type(self).example_gen is PipelineConfig.example_gen
        if reads_csv and self.latest_span() is not None and self.span_window != 1:
            # TFX 1.16's driver refuses a rolling range of more than one span for a file-based ExampleGen.
            raise ConfigError(
                f"--set span_window={self.span_window}: the CSV pipelines read one span folder of {data_dir} at a "
                "time (TFX's CsvExampleGen reads the latest span only); expected span_window=1, the default."
            )
        for folder in self.input_dirs():
            self.check_data(folder)
        if self.bulk_inference_dir:
            unlabelled = self.resolved_bulk_inference_dir()
            if not unlabelled.is_dir():
                raise ConfigError(
                    f"--set bulk_inference_dir: folder {unlabelled} does not exist; expected a folder of CSV files."
                )
            problems = csv_input.folder_problems(unlabelled)
            if problems:
                raise ConfigError(f"--set bulk_inference_dir: {' '.join(problems)}")

    def check_values(self) -> None:
        """The checks that need no data: ranges, and what a pipeline adds (names its model code knows)."""
        check_ranges(self)
        if self.blessing_metric in _SHARE_METRICS and not 0 <= self.blessing_threshold <= 1:
            raise ConfigError(
                f"--set blessing_threshold={self.blessing_threshold}: {self.blessing_metric} is a share between 0 "
                "and 1; expected a threshold in that range."
            )
        if self.epochs > self.train_steps:
            raise ConfigError(
                f"epochs={self.epochs} with train_steps={self.train_steps}: each epoch needs at least one "
                "training step; expected epochs no more than train_steps."
            )
        if self.bulk_inference_dir and not self.bulk_inference_signature:
            raise ConfigError(
                "--set bulk_inference_dir: the DAG's BulkInferrer scores CSV rows with a signature of numbers out, "
                f"which {self.name} has not (iris has); score its inputs with tfpipe predict {self.name} --batch "
                "instead."
            )
        if not self.blessing_higher_is_better and self.blessing_threshold <= 0 and not self.required_wins():
            # TFX drops the no-regression threshold on a first run: nothing would be left to bless by.
            raise ConfigError(
                f"blessing_threshold={self.blessing_threshold} with no baseline to beat: a first run would have "
                f"nothing to bless its model by and would push none; expected a {self.blessing_metric} bound "
                "(--set blessing_threshold=...) or a required win over a baseline."
            )
        if not self.early_stopping.monitor.startswith("val_"):
            raise ConfigError(
                f"--set early_stopping.monitor={self.early_stopping.monitor}: expected a validation metric, "
                "val_loss or val_ and a metric's name."
            )

    def check_search(self) -> None:
        """With a search to run: its algorithm, and every candidate applied to this config passes check_values."""
        if not self.tuning.trials:
            return
        if self.tuning.algorithm not in tuning.ALGORITHMS:
            raise ConfigError(
                f"--set tuning.algorithm={self.tuning.algorithm}: expected one of {', '.join(tuning.ALGORITHMS)}."
            )
        if self.tuning.steps_per_trial < self.epochs:
            raise ConfigError(
                f"--set tuning.steps_per_trial={self.tuning.steps_per_trial}: expected at least one step for each "
                f"of the {self.epochs} epochs."
            )
        for field in dataclasses.fields(self.search_space):
            key, values = field.metadata["varies"], getattr(self.search_space, field.name)
            if not values:
                raise ConfigError(f"--set search_space.{field.name}: expected at least one candidate for {key}.")
            for value in values:
                try:
                    trial = self.with_trial({key: value})
                    trial.check_values()
                except ConfigError as error:
                    raise ConfigError(f"--set search_space.{field.name}={value}: refused, {error}") from None
                if trial.transform_config() != self.transform_config():
                    raise ConfigError(
                        f"--set search_space.{field.name}: {key} is a Transform setting, and every trial of a "
                        "search trains on the same Transform output; search it with separate runs."
                    )

    def with_trial(self, values: dict[str, typing.Any]) -> PipelineConfig:
        """This config with a trial's values (config key -> value) applied as --set values are."""
        return apply_overrides(self, [tuning.assignment(key, value) for key, value in values.items()])

    def read_from_data(self, given: set[str]) -> list[tuple[str, Setting]]:
        """Settings read from the data folder rather than typed (class names from class folders), for
        the keys the user did not give (`given`: the dotted keys of their --config and --set); applied
        before the config is checked. None by default."""
        del given
        return []

    def check_data(self, data_dir: Path) -> None:
        """The default suits ExampleGens that read every file in the folder as CSV (CsvExampleGen,
        TimeSeriesExampleGen): CSV files only, each with a clean header and rows (pipelines/csv_input.py)."""
        problems = csv_input.folder_problems(data_dir)
        if problems:
            raise ConfigError(" ".join(problems))

    def min_split_examples(self) -> dict[str, tuple[int, str]]:
        """Examples each split must hold for the pipeline to run, and why (DataValidationGate checks
        it): one full training batch (`model.batch_size`, where the pipeline has one), one to evaluate."""
        batch_size = getattr(getattr(self, "model", None), "batch_size", None)
        train = (1, "one example to train on; add data")
        if isinstance(batch_size, int):
            train = (batch_size, f"one training batch (model.batch_size={batch_size}); add data or lower it")
        return {"train": train, "eval": (1, "one example to evaluate the model on; add data")}

    def module_file(self, module: str) -> str:
        """The file of this checkout that holds the module of import name `module`."""
        return str(REPO_ROOT.joinpath(*module.split(".")).with_suffix(".py"))

    def required_wins(self) -> tuple[str, ...]:
        """Baseline outputs the model must score no worse than (by `win_measure`) to be blessed.

        For each, the evaluation signature has an output `win_output(baseline)`: the model's
        measure minus the baseline's, per example (for squared_error, its mean is MSE(model) -
        MSE(baseline); for correct, accuracy(model) - accuracy(baseline))."""
        return ()

    def win_output(self, baseline: str) -> str:
        """The evaluation signature's output whose mean says whether the model beat `baseline`."""
        return f"excess_{self.win_measure}_vs_{baseline}"

    def label_class_names(self) -> tuple[str, ...]:
        """The label's class names by class index, which summaries show for slices of the label
        (`species=setosa`, not `species=0`); empty where the label is no class index."""
        return ()

    def transform_config(self) -> TransformConfig:
        """What the pipeline's preprocessing_fn reads of this config (Transform's custom_config)."""
        return TransformConfig()

    def to_custom_config(self) -> dict:
        """The Trainer's custom_config: the pipeline's name and every tunable value but those only the
        Evaluator or the orchestration reads (EVALUATOR_KEYS, ORCHESTRATION_KEYS), which run_fn turns back
        into this typed config (from_custom_config). TFX keys the Trainer's cache on it, so any changed value
        it holds trains anew, and a changed blessing threshold only evaluates anew."""
        values = {
            key: value
            for key, value in self.to_dict().items()
            if key not in EVALUATOR_KEYS and key not in ORCHESTRATION_KEYS
        }
        return {"pipeline": self.name, "config": values}

    @classmethod
    def from_custom_config(cls: type[_ConfigT], custom_config: dict) -> _ConfigT:
        """The config `to_custom_config` gave, rebuilt as `cls`: the pipeline's own class, or a family
        base whose fields it has (the image pipelines' shared Trainer rebuilds an ImageConfig).
        ConfigError naming any key `cls` does not have."""
        return from_dict(cls, custom_config["config"])

    def resolved_data_dir(self) -> Path:
        path = Path(self.data_dir)
        return path if path.is_absolute() else (REPO_ROOT / path)

    def resolved_bulk_inference_dir(self) -> Path:
        path = Path(self.bulk_inference_dir)
        return path if path.is_absolute() else (REPO_ROOT / path)

    def input_dirs(self) -> list[Path]:
        """The folders a run reads: the latest `span_window` span folders of data_dir, or data_dir itself."""
        return spans.window(self.resolved_data_dir(), self.span_window)

    def latest_span(self) -> int | None:
        """The span a run reads last (the newest data), or None where data_dir has no span folders."""
        return spans.latest(self.resolved_data_dir())

    def window_read(self) -> spans.WindowRead:
        """What a file-reading ExampleGen (files, lines of text) takes of the folders a run reads: their names,
        the latest span and their fingerprint."""
        return spans.read_window(self.resolved_data_dir(), self.span_window)

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


Setting = bool | int | float | str | list
"""A value a config file gives a key (YAML's types), or the text of a `--set` assignment."""


def apply_overrides(config: PipelineConfig, assignments: list[str]) -> PipelineConfig:
    """Returns a copy of `config` with each `key=value` assignment applied.

    Values are parsed by the field's declared type: int, float, bool
    (true/false/1/0/yes/no), str, or a tuple of ints/floats/strs written with
    commas (`model.hidden_units=16,8`; an empty value is an empty tuple).
    """
    return apply_settings(config, assignment_settings(assignments))


def assignment_settings(assignments: Sequence[str]) -> list[tuple[str, Setting]]:
    """`key=value` assignments as (key, text) settings for apply_settings; ConfigError for one without `=`."""
    settings: list[tuple[str, Setting]] = []
    for assignment in assignments:
        key, sep, raw = assignment.partition("=")
        if not sep or not key:
            raise ConfigError(f"--set {assignment!r}: expected key=value, for example train_steps=100.")
        settings.append((key, raw))
    return settings


def apply_settings(config: PipelineConfig, settings: Sequence[tuple[str, Setting]]) -> PipelineConfig:
    """Returns a copy of `config` with each (dotted key, value) setting applied, in order.

    A text value is read as `--set` reads it (apply_overrides); a typed one (from a config file) is
    kept where it has the field's type (an int for a float field too, a list for a tuple field),
    else read from its text as `--set` would, so both give the same values and the same errors.
    """
    config = _deep_copy(config)
    for key, setting in settings:
        *parents, leaf = key.split(".")
        target = config
        for part in parents:
            target = _field_value(target, part, key)
            if not dataclasses.is_dataclass(target):
                raise ConfigError(f"--set {key}: {part!r} has no sub-fields.")
        field = _find_field(target, leaf, key)
        value = _typed(setting, _resolved_type(target, field), key)
        _check_value(field, value, key, setting_text(setting))
        setattr(target, leaf, value)
    return config


def setting_text(setting: Setting) -> str:
    """A setting as `--set` writes it: true/false, numbers as Python prints them, lists with commas."""
    if isinstance(setting, bool):
        return "true" if setting else "false"
    if isinstance(setting, list):
        return ",".join(setting_text(item) for item in setting)
    return str(setting)


def _typed(setting: Setting, kind, key: str):
    """`setting` as a value of the field type `kind` (see apply_settings)."""
    if isinstance(setting, str):
        return _parse(setting, kind, key)
    if typing.get_origin(kind) is tuple:
        items = setting if isinstance(setting, list) else [setting]
        return tuple(_typed(item, typing.get_args(kind)[0], key) for item in items)
    if isinstance(setting, bool):
        return setting if kind is bool else _parse(setting_text(setting), kind, key)
    if kind is float and isinstance(setting, (int, float)):
        return float(setting)
    if kind is int and isinstance(setting, int):
        return setting
    return _parse(setting_text(setting), kind, key)


def _check_value(field: dataclasses.Field, value, key: str, raw: str | None = None) -> None:
    shown = raw if raw is not None else (",".join(map(str, value)) if isinstance(value, tuple) else value)
    allowed = field_range(field)
    for item in value if isinstance(value, tuple) else (value,):
        if isinstance(item, bool) or not isinstance(item, (int, float)):
            continue
        if isinstance(item, float) and not math.isfinite(item):
            raise ConfigError(f"--set {key}={shown}: expected a finite number.")
        if allowed is not None and item not in allowed:
            kind = "whole number" if isinstance(item, int) else "number"
            expected = (
                f"{kind}s, each {allowed.describe()}" if isinstance(value, tuple) else f"a {kind} {allowed.describe()}"
            )
            raise ConfigError(f"--set {key}={shown}: expected {expected}.")


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
