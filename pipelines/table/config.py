"""The table pipeline: any folder of CSV files, one column (`label`) predicted from the others.

`tfpipe run table --name NAME --set data_dir=FOLDER --set label=COLUMN`. Whether it is a
classification or a regression is read from the label's values (text, or whole numbers with few
distinct values: classification; other numbers: regression) unless `task` says; the classes are the
label's distinct values. Numeric columns are scaled to [0, 1] and text columns become vocabulary ids
in Transform (components/models/table/preprocessing.py); an MLP learns from them. The schema is
TFDV's inference from the data at the pipeline's first run, written beside the named pipeline's
record for review (`tfpipe schema NAME`), then held to on every later run. Blessing needs the model
to do no worse than the naive baseline: the train split's majority class, or its mean label.

Unlike the other pipelines', its label, metrics and outputs follow the user's label and task: the
attributes that are class attributes elsewhere are properties here, and every reader reads them from
a config (pipelines/factory.py, pipelines/history.py, tfpipe/run_view.py).
"""

from __future__ import annotations

import csv
import dataclasses
import re
from pathlib import Path
from typing import ClassVar

from components.models.table import features
from pipelines.config import ConfigError, PipelineConfig, Setting, TransformConfig
from pipelines.csv_input import CSV_SUFFIX
from pipelines.tuning import SearchSpace, varies

# A label of whole numbers with at most this many distinct values is a class; with more, a quantity.
MAX_INTEGER_CLASSES = 20
# How text columns reach the model (components/models/table/model.py).
CATEGORICAL_ENCODINGS = ("embedding", "one_hot")
# Column names the model's inputs and signatures can carry (TensorFlow's op names).
_COLUMN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]*")


@dataclasses.dataclass
class TableModelConfig:
    """An MLP over the transformed columns: numeric ones as they are, text ones embedded or one-hot."""

    hidden_units: tuple[int, ...] = (32, 16)
    """Sizes of the ReLU hidden layers."""
    categorical: str = "embedding"
    """How a text column's vocabulary ids reach the MLP: `embedding` (a learned vector of
    embedding_dim per value) or `one_hot`."""
    embedding_dim: int = 4
    """Size of each text column's embedding vectors (categorical=embedding)."""
    dropout: float = 0.0
    """Dropout rate after each hidden layer."""
    l2: float = 0.0001
    """L2 weight penalty on every Dense kernel."""
    learning_rate: float = 0.01
    """Adam's step size."""
    batch_size: int = 32
    """Rows per training step."""
    seed: int = 0
    """Seeds weight initialization and shuffling."""


@dataclasses.dataclass(frozen=True)
class TableTransformConfig(TransformConfig):
    """What the table's preprocessing_fn reads (components/models/table/preprocessing.py)."""

    label: str
    task: str
    class_names: tuple[str, ...]


@dataclasses.dataclass
class TableSearchSpace(SearchSpace):
    """What `--set tuning.trials=N` searches: candidates of each key, comma-separated with --set."""

    hidden_units: tuple[str, ...] = varies("model.hidden_units", ("16", "32 16", "64 32"))
    """Hidden layer sizes, each candidate's sizes separated by spaces."""
    learning_rate: tuple[float, ...] = varies("model.learning_rate", (0.003, 0.01, 0.03))
    """Adam's step sizes."""


@dataclasses.dataclass
class TableConfig(PipelineConfig):
    name: ClassVar[str] = "table"
    description: ClassVar[str] = (
        "Any CSV table: one column predicted from the others (classification or regression, MLP); "
        "run it under a name: --name NAME --set data_dir=FOLDER --set label=COLUMN."
    )
    preprocessing_module: ClassVar[str] = "components.models.table.preprocessing"
    model_module: ClassVar[str] = "components.models.table.model"
    request_module: ClassVar[str] = "components.models.table.prediction_inputs"
    infers_schema: ClassVar[bool] = True
    # The label as Transform makes it (a class index, or the value itself for TFMA): TFMA gets it
    # from the model's `transform_features` signature.
    label_key: ClassVar[str] = features.LABEL_KEY
    json_signature: ClassVar[str] = "predict_row"
    evaluation_signature: ClassVar[str] = "evaluation"
    evaluation_preprocessing: ClassVar[tuple[str, ...]] = ("transform_features",)

    data_dir: str = ""
    """Folder of CSV files, each with a header line naming the columns (every file in it is read)."""
    label: str = ""
    """The column to predict; every other column is a feature."""
    task: str = ""
    """classification or regression; empty: read from the label's values (text, or whole numbers with
    at most 20 distinct values: classification; other numbers: regression)."""
    class_names: tuple[str, ...] = ()
    """A classification's classes, the label's values (read from the data when not given); the model's
    class i is class_names[i]."""
    must_beat_baseline: bool = True
    """Bless only a model that does no worse than the naive baseline on the eval split: the train
    split's majority class (accuracy), or its mean label (squared error)."""
    train_steps: int = 1000
    epochs: int = 10
    eval_steps: int = 10
    model: TableModelConfig = dataclasses.field(default_factory=TableModelConfig)
    search_space: TableSearchSpace = dataclasses.field(default_factory=TableSearchSpace)

    # --- What follows the task (class attributes in the other pipelines). `task` is read from the data
    # before anything runs; a config not yet given one (`tfpipe list`, --help) reads as a classification.

    @property
    def is_regression(self) -> bool:
        return self.task == features.REGRESSION

    @property
    def prediction_key(self) -> str:  # type: ignore[override]
        return "prediction" if self.is_regression else "probabilities"

    @property
    def baseline_outputs(self) -> tuple[str, ...]:  # type: ignore[override]
        return (features.MEAN,) if self.is_regression else (features.MAJORITY,)

    @property
    def win_measure(self) -> str:  # type: ignore[override]
        return "squared_error" if self.is_regression else "correct"

    @property
    def win_measure_higher_is_better(self) -> bool:  # type: ignore[override]
        return not self.is_regression

    @property
    def metrics(self) -> tuple[str, ...]:  # type: ignore[override]
        if self.is_regression:
            return ("MeanSquaredError", "RootMeanSquaredError", "MeanAbsoluteError")
        return ("SparseCategoricalAccuracy", "MultiClassConfusionMatrixPlot")

    @property
    def slice_features(self) -> tuple[str, ...]:  # type: ignore[override]
        return () if self.is_regression or not self.label else (self.label,)

    @property
    def blessing_metric(self) -> str:  # type: ignore[override]
        return "RootMeanSquaredError" if self.is_regression else "SparseCategoricalAccuracy"

    @property
    def blessing_higher_is_better(self) -> bool:  # type: ignore[override]
        return not self.is_regression

    @property
    def tuning_objective(self) -> str:  # type: ignore[override]
        return "val_loss" if self.is_regression else "val_sparse_categorical_accuracy"

    @property
    def tuning_higher_is_better(self) -> bool:  # type: ignore[override]
        return not self.is_regression

    @property
    def schema_path(self) -> Path:
        """A named table pipeline's schema: beside its record in the workdir, inferred at its first run."""
        if self.pipeline_folder:
            return Path(self.pipeline_folder) / "schema.pbtxt"
        return super().schema_path

    def required_wins(self) -> tuple[str, ...]:
        return self.baseline_outputs if self.must_beat_baseline else ()

    def transform_config(self) -> TableTransformConfig:
        return TableTransformConfig(label=self.label, task=self.task, class_names=self.class_names)

    # --- Checks, before TensorFlow loads.

    def check(self) -> None:
        if not self.based_on:
            raise ConfigError(
                "the table pipeline runs your table under a name of your own, so that two tables never share "
                "a model: add --name NAME (tfpipe run table --name NAME --set data_dir=FOLDER --set label=COLUMN)."
            )
        if not self.data_dir:
            raise ConfigError("no data folder given; add --set data_dir=FOLDER, a folder of CSV files.")
        if not self.resolved_data_dir().is_dir():
            raise ConfigError(
                f"data folder {self.resolved_data_dir()} does not exist; --set data_dir=FOLDER with a folder of "
                "CSV files."
            )
        super().check()

    def check_values(self) -> None:
        super().check_values()
        if self.task and self.task not in features.TASKS:
            raise ConfigError(f"--set task={self.task}: expected {' or '.join(features.TASKS)}.")
        if self.model.categorical not in CATEGORICAL_ENCODINGS:
            raise ConfigError(
                f"--set model.categorical={self.model.categorical}: expected {' or '.join(CATEGORICAL_ENCODINGS)}."
            )

    def check_data(self, data_dir: Path) -> None:
        super().check_data(data_dir)
        columns, first = _columns(data_dir)
        self._check_columns(data_dir, columns, first)
        self._check_label(_label_values(data_dir, self.label), columns, first)

    def _check_columns(self, data_dir: Path, columns: list[str], first: Path) -> None:
        """The label names a column, every file has the same columns, and each can name a model input."""
        if not self.label:
            raise ConfigError(
                f"no label given; add --set label=COLUMN, the column to predict, one of {first}'s columns: "
                f"{', '.join(columns)}."
            )
        if self.label not in columns:
            raise ConfigError(
                f"{first} has no column {self.label!r}; --set label=COLUMN with one of its columns: "
                f"{', '.join(columns)}."
            )
        for path in _csv_files(data_dir):
            other = _header(path)
            if other != columns:
                raise ConfigError(
                    f"{path} has the columns {', '.join(other)}, {first} {', '.join(columns)}; every CSV file of "
                    "data_dir must have the same columns, in the same order."
                )
        unusable = [column for column in columns if not _COLUMN_NAME.fullmatch(column)]
        if unusable:
            raise ConfigError(
                f"{first}: the column name(s) {', '.join(map(repr, unusable))} hold characters a model input "
                "cannot be named by; rename them with letters, digits, '_', '.' and '-' only."
            )
        if len(columns) < 2:
            raise ConfigError(f"{first} has only the label column {self.label!r}; add feature columns to learn from.")

    def _check_label(self, values: set[str], columns: list[str], first: Path) -> None:
        """Two or more label values, of a kind the task (given or read) can learn."""
        if len(values) < 2:
            shown = f"one value only ({next(iter(values))!r})" if values else "no values"
            raise ConfigError(
                f"the label column {self.label!r} of {first} holds {shown}; a model needs two or more: "
                f"--set label=COLUMN with another of {', '.join(column for column in columns if column != self.label)}."
            )
        kind = _kind(values)
        if self.task == features.REGRESSION and kind == "text":
            raise ConfigError(
                f"--set task=regression: the label column {self.label!r} of {first} holds text "
                f"({', '.join(sorted(values)[:3])}, ...); leave task out or --set task=classification."
            )
        if self.task == features.CLASSIFICATION:
            if kind == "number":
                raise ConfigError(
                    f"--set task=classification: the label column {self.label!r} of {first} holds numbers with "
                    "fractions; classes must be text or whole numbers: leave task out or --set task=regression."
                )
            unknown = sorted(values - set(self.class_names))
            if unknown:
                raise ConfigError(
                    f"the label column {self.label!r} of {first} holds {', '.join(unknown[:5])}, not in class_names "
                    f"({','.join(self.class_names)}); --set class_names=... naming every class, or leave it out."
                )

    def read_from_data(self, given: set[str]) -> list[tuple[str, Setting]]:
        """The task from the label's values, and a classification's class names (sorted, numbers by value)."""
        data_dir = self.resolved_data_dir()
        if not (self.data_dir and self.label and data_dir.is_dir()):
            return []
        try:
            values = _label_values(data_dir, self.label)
        except (OSError, ValueError, ConfigError):
            return []  # check_data says what is wrong
        if len(values) < 2:
            return []
        kind = _kind(values)
        read: list[tuple[str, Setting]] = []
        task = self.task
        if "task" not in given:
            integer_classes = kind == "integer" and len(values) <= MAX_INTEGER_CLASSES
            task = features.CLASSIFICATION if kind == "text" or integer_classes else features.REGRESSION
            read.append(("task", task))
        if task == features.CLASSIFICATION and "class_names" not in given and kind != "number":
            ordered = sorted(values, key=int) if kind == "integer" else sorted(values)
            read.append(("class_names", ",".join(ordered)))
        return read


def _header(path: Path) -> list[str]:
    with path.open(newline="", encoding="utf-8") as f:
        return [name.strip('"') for name in next(csv.reader(f), [])]


def _csv_files(data_dir: Path) -> list[Path]:
    """The CSV files of `data_dir`, as the ExampleGen reads them (pipelines/csv_input.py's rule)."""
    return [path for path in sorted(data_dir.iterdir()) if path.is_file() and path.suffix.lower() == CSV_SUFFIX]


def _columns(data_dir: Path) -> tuple[list[str], Path]:
    """The first CSV file's column names, and that file."""
    first = _csv_files(data_dir)[0]
    return _header(first), first


def _label_values(data_dir: Path, label: str) -> set[str]:
    """The distinct non-empty values of the column `label` in every CSV file of `data_dir`."""
    values: set[str] = set()
    for path in _csv_files(data_dir):
        with path.open(newline="", encoding="utf-8") as f:
            reader = csv.reader(f)
            header = [name.strip('"') for name in next(reader, [])]
            if label not in header:
                raise ConfigError(f"{path} has no column {label!r}.")
            index = header.index(label)
            values.update(row[index].strip() for row in reader if len(row) > index and row[index].strip())
    return values


def _kind(values: set[str]) -> str:
    """`integer`, `number` (some with fractions) or `text`: what the label's values all are."""

    def parses(kind: type, value: str) -> bool:
        try:
            kind(value)
        except ValueError:
            return False
        return True

    if all(parses(int, value) for value in values):
        return "integer"
    return "number" if all(parses(float, value) for value in values) else "text"
