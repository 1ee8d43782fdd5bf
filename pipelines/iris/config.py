"""The iris pipeline: four flower measurements in centimetres -> one of three species."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

from components.models.iris import features
from pipelines.config import ConfigError, PipelineConfig
from pipelines.tuning import SearchSpace, varies

# The notes' optimizer comparison (components/models/iris/model.py OPTIMIZERS): plain SGD, SGD with
# momentum 0.9, Adagrad, RMSProp and Adam.
OPTIMIZERS = ("sgd", "momentum", "adagrad", "rmsprop", "adam")


@dataclasses.dataclass
class IrisModelConfig:
    """The notes' classifier: Dense softmax with L2, optionally after hidden layers."""

    hidden_units: tuple[int, ...] = ()
    """Sizes of ReLU hidden layers before the softmax; empty is the notes' single layer."""
    l2: float = 0.001
    """L2 weight penalty on every Dense kernel (the notes use Keras' default, 0.01, which
    held eval accuracy at 0.88 in a pipeline run here)."""
    optimizer: str = "adam"
    """sgd, momentum (SGD with momentum 0.9), adagrad, rmsprop or adam: the notes' comparison."""
    learning_rate: float = 0.1
    """The optimizer's step size."""
    batch_size: int = 32
    """Examples per training step."""
    seed: int = 0
    """Seeds weight initialization and shuffling, so an unchanged run trains the same model."""


@dataclasses.dataclass
class IrisSearchSpace(SearchSpace):
    """What `--set tuning.trials=N` searches: candidates of each key, comma-separated with --set."""

    hidden_units: tuple[str, ...] = varies("model.hidden_units", ("8", "16", "16 8"))
    """Hidden layer sizes, each candidate's sizes separated by spaces."""
    l2: tuple[float, ...] = varies("model.l2", (0.0, 0.001, 0.01))
    """L2 penalties."""
    learning_rate: tuple[float, ...] = varies("model.learning_rate", (0.01, 0.05, 0.1))
    """Step sizes."""
    optimizer: tuple[str, ...] = varies("model.optimizer", OPTIMIZERS)
    """Optimizers."""


@dataclasses.dataclass
class IrisConfig(PipelineConfig):
    name: ClassVar[str] = "iris"
    description: ClassVar[str] = "Iris species from four flower measurements (MLP, softmax with L2)."
    preprocessing_module: ClassVar[str] = "components.models.iris.preprocessing"
    model_module: ClassVar[str] = "components.models.iris.model"
    request_module: ClassVar[str] = "components.models.iris.prediction_inputs"
    label_key: ClassVar[str] = "species"
    json_signature: ClassVar[str] = "predict_measurements"
    prediction_key: ClassVar[str] = "probabilities"
    metrics: ClassVar[tuple[str, ...]] = ("SparseCategoricalAccuracy", "MultiClassConfusionMatrixPlot")
    slice_features: ClassVar[tuple[str, ...]] = ("species",)
    blessing_metric: ClassVar[str] = "SparseCategoricalAccuracy"
    tuning_objective: ClassVar[str] = "val_sparse_categorical_accuracy"
    tuning_higher_is_better: ClassVar[bool] = True

    data_dir: str = "data/iris"
    train_steps: int = 500
    eval_steps: int = 10
    blessing_threshold: float = 0.9
    model: IrisModelConfig = dataclasses.field(default_factory=IrisModelConfig)
    search_space: IrisSearchSpace = dataclasses.field(default_factory=IrisSearchSpace)

    def check_values(self) -> None:
        super().check_values()
        if self.model.optimizer not in OPTIMIZERS:
            raise ConfigError(f"--set model.optimizer={self.model.optimizer}: expected one of {', '.join(OPTIMIZERS)}.")

    def label_class_names(self) -> tuple[str, ...]:
        return features.SPECIES_NAMES
