"""The iris pipeline: four flower measurements in centimetres -> one of three species."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

from components.models.iris import features
from pipelines.config import PipelineConfig


@dataclasses.dataclass
class IrisModelConfig:
    """The notes' classifier: Dense softmax with L2, optionally after hidden layers."""

    hidden_units: tuple[int, ...] = ()
    """Sizes of ReLU hidden layers before the softmax; empty is the notes' single layer."""
    l2: float = 0.001
    """L2 weight penalty on every Dense kernel (the notes use Keras' default, 0.01, which
    held eval accuracy at 0.88 in a pipeline run here)."""
    learning_rate: float = 0.1
    """Adam's step size."""
    batch_size: int = 32
    """Examples per training step."""
    seed: int = 0
    """Seeds weight initialization and shuffling, so an unchanged run trains the same model."""


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

    data_dir: str = "data/iris"
    train_steps: int = 500
    eval_steps: int = 10
    blessing_threshold: float = 0.9
    model: IrisModelConfig = dataclasses.field(default_factory=IrisModelConfig)

    def label_class_names(self) -> tuple[str, ...]:
        return features.SPECIES_NAMES
