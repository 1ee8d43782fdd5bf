"""The cifar10 pipeline: CIFAR-10's 32x32 colour photos, shipped as TFRecord files -> one of ten classes.

An image pipeline is a config over the shared image code (pipelines/images.py,
components/models/images/): this one sets the data, the size and colour, the classes, photo
augmentation and the default model. `pipelines/cifar10/notes.yaml` holds the course notes' own
training settings (`tfpipe run cifar10 --config pipelines/cifar10/notes.yaml`).
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

from pipelines.images import AugmentationConfig, ImageConfig, ImageModelConfig


@dataclasses.dataclass
class Cifar10Config(ImageConfig):
    name: ClassVar[str] = "cifar10"
    description: ClassVar[str] = "CIFAR-10 colour photos, 32x32, ten classes (a VGG variant with bfloat16 by default)."

    data_dir: str = "data/cifar10"
    """Folder of images in one of the layouts of components/example_gen/layouts.py; the shipped one
    holds cifar10_train.tfrecord.gz and cifar10_test.tfrecord.gz, the train and eval splits."""
    class_names: tuple[str, ...] = (
        "airplane",
        "automobile",
        "bird",
        "cat",
        "deer",
        "dog",
        "frog",
        "horse",
        "ship",
        "truck",
    )
    image_height: int = 32
    image_width: int = 32
    channels: int = 3
    # The VGG variant in bfloat16 with a cosine schedule over 24 passes: test accuracy 0.841 in a run of
    # 24.6 minutes on 2 shared cores (benchmarks/RESULTS.md#cifar10_run).
    train_steps: int = 9360
    epochs: int = 24
    eval_steps: int = 40
    blessing_threshold: float = 0.8
    model: ImageModelConfig = dataclasses.field(
        default_factory=lambda: ImageModelConfig(
            name="vgg6", learning_rate=0.003, learning_rate_schedule="cosine", batch_size=128
        )
    )
    # Mirror images and small shifts are still photos of the same thing; no rotation or zoom.
    augmentation: AugmentationConfig = dataclasses.field(
        default_factory=lambda: AugmentationConfig(flip_horizontal=True, shift_fraction=0.1)
    )
