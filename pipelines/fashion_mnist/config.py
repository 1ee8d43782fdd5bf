"""The fashion_mnist pipeline: Fashion-MNIST's 28x28 grayscale clothing images, shipped as TFRecord
files -> one of ten kinds of garment.

An image pipeline is a config over the shared image code (pipelines/images.py,
components/models/images/): this one sets the data, the size, the classes and the default model.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

from pipelines.images import ImageConfig, ImageModelConfig


@dataclasses.dataclass
class FashionMnistConfig(ImageConfig):
    name: ClassVar[str] = "fashion_mnist"
    description: ClassVar[str] = "Fashion-MNIST clothing images, 28x28 grayscale, ten kinds (a VGG variant by default)."

    data_dir: str = "data/fashion_mnist"
    """Folder of images in one of the layouts of components/example_gen/layouts.py; the shipped one
    holds fashion_mnist_train.tfrecord.gz and fashion_mnist_test.tfrecord.gz, the train and eval splits."""
    class_names: tuple[str, ...] = (
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    )
    image_height: int = 28
    image_width: int = 28
    channels: int = 1
    # Ten passes over the 60,000 training images: test accuracy 0.934 in an 8-minute run on 2 cores
    # (benchmarks/RESULTS.md#fashion_mnist_run).
    train_steps: int = 4690
    epochs: int = 10
    eval_steps: int = 40
    blessing_threshold: float = 0.91
    model: ImageModelConfig = dataclasses.field(
        default_factory=lambda: ImageModelConfig(
            name="vgg6", learning_rate=0.003, learning_rate_schedule="cosine", batch_size=128
        )
    )
