"""The mnist pipeline: 6,000 real MNIST digits (28x28), shipped as TFRecord files -> 0-9.

An image pipeline is a config over the shared image code (pipelines/images.py,
components/models/images/): this one sets the data, the size and the default model. Its data
arrives as TFRecords of tf.Examples (data/make_mnist.py), so every run reads the TFRecord layout.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

from pipelines.images import ImageConfig, ImageModelConfig


@dataclasses.dataclass
class MnistConfig(ImageConfig):
    name: ClassVar[str] = "mnist"
    description: ClassVar[str] = "Real MNIST digits 0-9, 28x28, from TFRecord files (the notes' LeNet5 by default)."
    light_on_dark: ClassVar[bool] = True

    data_dir: str = "data/mnist"
    """Folder of images in one of the layouts of components/example_gen/layouts.py; the shipped one
    holds mnist_train.tfrecord.gz and mnist_test.tfrecord.gz, the train and eval splits."""
    image_height: int = 28
    image_width: int = 28
    # LeNet5 at Adam 0.003 is the one of the notes' models that passes 0.97 on 5,000 training
    # images within a CPU-friendly budget: about 15 passes over them.
    train_steps: int = 2400
    epochs: int = 6
    eval_steps: int = 32
    blessing_threshold: float = 0.97
    model: ImageModelConfig = dataclasses.field(default_factory=lambda: ImageModelConfig(name="lenet5"))
