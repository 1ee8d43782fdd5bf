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
# `mlp`, the functional builder, or the notes' own subclass (components/models/iris/notes_model.py), by its class name.
IRIS_MODELS = ("mlp", "IrisModel")
# components/models/training.py TRAINING_LOOPS: Keras' fit, or the notes' tf.GradientTape loop.
TRAINING_LOOPS = ("fit", "gradient_tape")


@dataclasses.dataclass
class IrisModelConfig:
    """The notes' classifier: Dense softmax with L2, optionally after hidden layers."""

    name: str = "mlp"
    """`mlp`: the classifier built with Keras' functional API, hidden layers as hidden_units says; or
    `IrisModel`: the notes' own `class IrisModel(Model)`, one Dense softmax layer (no hidden_units)."""
    training_loop: str = "fit"
    """`fit`: Keras' model.fit; `gradient_tape`: the notes' loop written with tf.GradientTape
    (components/models/training.py), with the same optimizer, loss, metrics and record."""
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
    bulk_inference_signature: ClassVar[str] = "score_examples"
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
        if self.model.name not in IRIS_MODELS:
            raise ConfigError(f"--set model.name={self.model.name}: expected one of {', '.join(IRIS_MODELS)}.")
        if self.model.name == "IrisModel" and self.model.hidden_units:
            raise ConfigError(
                "--set model.hidden_units: the notes' IrisModel has no hidden layers; "
                "leave hidden_units empty or use model.name=mlp."
            )
        if self.model.training_loop not in TRAINING_LOOPS:
            raise ConfigError(
                f"--set model.training_loop={self.model.training_loop}: expected one of {', '.join(TRAINING_LOOPS)}."
            )
        if self.model.optimizer not in OPTIMIZERS:
            raise ConfigError(f"--set model.optimizer={self.model.optimizer}: expected one of {', '.join(OPTIMIZERS)}.")

    def label_class_names(self) -> tuple[str, ...]:
        return features.SPECIES_NAMES
