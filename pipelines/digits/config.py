"""The digits pipeline: scikit-learn's 8x8 images of handwritten digits -> 0-9, with the notes' CNN zoo.

An image pipeline is a config over the shared image code (pipelines/images.py,
components/models/images/): this one sets the data and the image size.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

from pipelines.images import ImageConfig


@dataclasses.dataclass
class DigitsConfig(ImageConfig):
    name: ClassVar[str] = "digits"
    description: ClassVar[str] = "Handwritten digits 0-9 from 8x8 images (the notes' CNN zoo; baseline CNN by default)."

    data_dir: str = "data/digits"
    """Folder of images in one of the layouts of components/example_gen/layouts.py: a labels file
    and its image folder, one sub-folder per class, or TFRecord files; defaults are relative to the
    repository, a folder given with --set to the current directory."""
    image_height: int = 8
    image_width: int = 8
    train_steps: int = 1000
    eval_steps: int = 20
    blessing_threshold: float = 0.95
