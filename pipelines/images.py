"""What every image classification pipeline's config has: `pipelines/<name>/config.py` of an image
pipeline subclasses ImageConfig and sets its name, data folder, class names and sizes; the module
code (`components/models/images/`) and the DAG are shared.

No TensorFlow here: the CLI reads configs for `--help` and `tfpipe list`.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import ClassVar

from components.example_gen import layouts
from components.precision import CHOICES as PRECISIONS
from pipelines import files
from pipelines.config import AT_LEAST_0, AT_LEAST_1, ConfigError, PipelineConfig, Range, Setting, TransformConfig
from pipelines.tuning import SearchSpace, varies

# components/models/images/zoo.py MODELS, by name (checked before anything runs): the notes' six
# CNNs, a dense baseline, vgg6 (a VGG16 cut to CPU size), the rows-as-time-steps readers, and the notes'
# subclassed classes by their class names (components/models/images/notes_models.py).
IMAGE_MODELS = (
    "mlp",
    "baseline",
    "lenet5",
    "alexnet8",
    "vgg16",
    "vgg6",
    "inception10",
    "resnet18",
    "rnn_rows",
    "lstm_rows",
    "bilstm_rows",
    "Baseline",
)
# The notes' CNN chapter: the six networks it trains and compares.
NOTES_CNNS = ("baseline", "lenet5", "alexnet8", "vgg16", "inception10", "resnet18")

SCHEDULES = ("constant", "cosine")
# What makes an input `unlike_training_data` (components/models/images/familiarity.py): the autoencoder's
# reconstruction error, the classifier's feature distance, or either above its threshold.
RECONSTRUCTION = "reconstruction"
FEATURE_DISTANCE = "feature_distance"
EITHER = "either"
SCORES = (RECONSTRUCTION, FEATURE_DISTANCE, EITHER)
# The notes' subclassed classes have no functional layer whose input is their penultimate features.
SUBCLASSED_MODELS = ("Baseline",)


@dataclasses.dataclass
class ImageModelConfig:
    """Which model of the zoo, and how it is trained."""

    name: str = "baseline"
    """The zoo model: mlp, baseline, lenet5, alexnet8, vgg16, inception10, resnet18, the VGG variant
    vgg6, the rows readers rnn_rows, lstm_rows, bilstm_rows (components/models/images/zoo.py), or the notes'
    own subclassed `Baseline` class (components/models/images/notes_models.py)."""
    learning_rate: float = 0.003
    """Adam's step size (the first one, with learning_rate_schedule=cosine)."""
    learning_rate_schedule: str = "constant"
    """`constant`, or `cosine`: the step size falls from learning_rate to 0 over train_steps along half a cosine."""
    batch_size: int = 32
    """Images per training step."""
    seed: int = 0
    """Seeds weight initialization, shuffling and augmentation, so an unchanged run trains the same model."""
    precision: str = "auto"
    """The float type of training: `auto` (bfloat16 mixed precision for the convolutional models where the
    CPU has AVX-512-BF16 or AMX, float32 for the rows readers and elsewhere), `bfloat16` or `float32`. The
    exported model computes in float32 either way (components/precision.py)."""


@dataclasses.dataclass
class AugmentationConfig:
    """Random changes to each training image, by Keras preprocessing layers: the model applies
    them in training only, never when it serves. All zero or false: no augmentation."""

    rotation_degrees: float = 0.0
    """Largest rotation either way, in degrees."""
    shift_fraction: float = 0.0
    """Largest shift up or down and left or right, as a fraction of the image's height and width."""
    zoom_fraction: float = 0.0
    """Largest zoom in or out, as a fraction of the image's size."""
    flip_horizontal: bool = False
    """Mirror left-right at random (wrong for digits and text, right for most photos)."""
    flip_vertical: bool = False
    """Mirror top-bottom at random."""


@dataclasses.dataclass
class AutoencoderConfig:
    """The notes' convolutional autoencoder, trained beside the classifier on the same training images,
    and the classifier's own feature distance: served with every prediction, they say how unlike those
    images an input is (components/models/images/familiarity.py)."""

    enabled: bool = True
    """false: neither score; the model serves the class probabilities alone."""
    score: str = EITHER
    """What flags an input `unlike_training_data`: `reconstruction` (the autoencoder's error above its
    threshold), `feature_distance` (the classifier's penultimate features far from every class's training
    images, no autoencoder trained), or `either` (both computed, each above its own threshold)."""
    code_size: int = dataclasses.field(default=16, metadata={"range": AT_LEAST_1})
    """Numbers in the code the encoder squeezes an image into: the smaller, the more an image must be like
    the training images to come back whole."""
    threshold_percentile: float = dataclasses.field(
        default=99.0, metadata={"range": Range(low=0, high=100, low_included=False, high_included=False)}
    )
    """The share of held-out training images left unflagged, as a percentile (0-100, exclusive): 99 flags
    about 1 in 100 images like the training ones (with `either`, each score's threshold is raised until the
    two together flag no more)."""
    train_steps: int = dataclasses.field(default=0, metadata={"range": AT_LEAST_0})
    """Training steps of the autoencoder (batches of model.batch_size); 0: as many as the classifier's
    train_steps."""


@dataclasses.dataclass(frozen=True)
class ImageTransformConfig(TransformConfig):
    """What the image preprocessing_fn reads (components/models/images/preprocessing.py)."""

    image_height: int
    """Pixels."""
    image_width: int
    """Pixels."""
    channels: int
    """1 (grayscale) or 3 (RGB)."""


@dataclasses.dataclass
class ImageSearchSpace(SearchSpace):
    """What `--set tuning.trials=N` searches: candidates of each key, comma-separated with --set."""

    model: tuple[str, ...] = varies("model.name", NOTES_CNNS)
    """Zoo models: by default the notes' six CNNs."""
    learning_rate: tuple[float, ...] = varies("model.learning_rate", (0.001, 0.003))
    """Adam's step sizes."""
    shift_fraction: tuple[float, ...] = varies("augmentation.shift_fraction", (0.0, 0.1))
    """Augmentation strength: the largest random shift, as a fraction of the image."""


@dataclasses.dataclass
class ImageConfig(PipelineConfig):
    """Images -> one of `class_names`, with the notes' image classifier zoo."""

    preprocessing_module: ClassVar[str] = "components.models.images.preprocessing"
    model_module: ClassVar[str] = "components.models.images.model"
    request_module: ClassVar[str] = "components.models.images.prediction_inputs"
    # FileExampleGen's reader for image files (components/example_gen/file_example_gen.py).
    example_reader: ClassVar[str] = "components.models.images.ingest"
    label_key: ClassVar[str] = layouts.LABEL_KEY
    json_signature: ClassVar[str] = "encoded_images"
    prediction_key: ClassVar[str] = "probabilities"
    metrics: ClassVar[tuple[str, ...]] = ("SparseCategoricalAccuracy", "MultiClassConfusionMatrixPlot")
    slice_features: ClassVar[tuple[str, ...]] = (layouts.LABEL_KEY,)
    blessing_metric: ClassVar[str] = "SparseCategoricalAccuracy"
    tuning_objective: ClassVar[str] = "val_sparse_categorical_accuracy"
    tuning_higher_is_better: ClassVar[bool] = True
    # The training images are light strokes on a dark ground (MNIST): `tfpipe predict` turns a mostly light
    # photo (dark ink on paper) into one like them first (components/models/images/prediction_inputs.py).
    light_on_dark: ClassVar[bool] = False

    class_names: tuple[str, ...] = tuple("0123456789")
    """The classes in label order: labels in a labels file and class folder names must be one
    of these; the model's class i is class_names[i]."""
    image_height: int = 28
    """Height in pixels every image is resized to before the model sees it."""
    image_width: int = 28
    """Width in pixels every image is resized to."""
    channels: int = 1
    """1 (grayscale) or 3 (RGB): every image is converted to this."""
    max_image_pixels: int = dataclasses.field(default=50_000_000, metadata={"range": AT_LEAST_1})
    """The most pixels (height x width) an image may have; a larger one is left out and listed before
    it is decoded (a decompression bomb, a 400-megapixel scan: every image is resized to a few thousand
    pixels anyway). PIL refuses more than about 179 million whatever this says."""
    model: ImageModelConfig = dataclasses.field(default_factory=ImageModelConfig)
    augmentation: AugmentationConfig = dataclasses.field(default_factory=AugmentationConfig)
    autoencoder: AutoencoderConfig = dataclasses.field(default_factory=AutoencoderConfig)
    search_space: ImageSearchSpace = dataclasses.field(default_factory=ImageSearchSpace)

    def check_values(self) -> None:
        if self.model.name not in IMAGE_MODELS:
            raise ConfigError(f"--set model.name={self.model.name}: expected one of {', '.join(IMAGE_MODELS)}.")
        if self.channels not in (1, 3):
            raise ConfigError(f"--set channels={self.channels}: expected 1 (grayscale) or 3 (RGB).")
        if self.image_height < 1 or self.image_width < 1:
            raise ConfigError(
                f"--set image_height/image_width: expected sizes of at least 1 pixel, "
                f"got {self.image_height}x{self.image_width}."
            )
        if self.model.precision not in PRECISIONS:
            raise ConfigError(f"--set model.precision={self.model.precision}: expected one of {', '.join(PRECISIONS)}.")
        if self.model.learning_rate_schedule not in SCHEDULES:
            raise ConfigError(
                f"--set model.learning_rate_schedule={self.model.learning_rate_schedule}: "
                f"expected one of {', '.join(SCHEDULES)}."
            )
        if self.autoencoder.score not in SCORES:
            raise ConfigError(f"--set autoencoder.score={self.autoencoder.score}: expected one of {', '.join(SCORES)}.")
        # `either` (the default) reads what the model can serve: the reconstruction error alone with these.
        if (
            self.autoencoder.enabled
            and self.autoencoder.score == FEATURE_DISTANCE
            and self.model.name in SUBCLASSED_MODELS
        ):
            raise ConfigError(
                f"--set autoencoder.score={self.autoencoder.score}: model.name={self.model.name} has no layer whose "
                "input is its penultimate features; expected autoencoder.score=reconstruction or either with it."
            )
        if len(self.class_names) < 2 or len(set(self.class_names)) != len(self.class_names):
            raise ConfigError(f"--set class_names={','.join(self.class_names)}: expected two or more different names.")
        super().check_values()

    def read_from_data(self, given: set[str]) -> list[tuple[str, Setting]]:
        return files.class_names_from_data(self, given)

    def check_data(self, data_dir: Path) -> None:
        files.check_class_names(data_dir, files.detect_layout(data_dir), self.class_names)

    def check(self) -> None:
        super().check()
        files.window_layout(self.resolved_data_dir(), self.input_dirs())

    def example_gen(self):
        """FileExampleGen with the image reader over the data folder's layout, split as the data comes
        or 2:1 by hash."""
        return files.file_example_gen(
            self,
            class_names=self.class_names,
            reader=self.example_reader,
            reader_options={"channels": self.channels, "max_pixels": self.max_image_pixels},
            component_id="ImageExampleGen",
        )

    def label_class_names(self) -> tuple[str, ...]:
        return self.class_names

    def transform_config(self) -> ImageTransformConfig:
        return ImageTransformConfig(
            image_height=self.image_height, image_width=self.image_width, channels=self.channels
        )
