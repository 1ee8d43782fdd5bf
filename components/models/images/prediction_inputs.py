"""`tfpipe predict` for image pipelines: each input is an image file; one line per image out."""

from pathlib import Path

import numpy as np
import tensorflow as tf

from components.models.images import features
from components.models.images.preprocessing import decode
from components.tf_example import serialized


def to_examples(inputs: list[str], config) -> list[bytes]:
    """Image file paths -> serialized tf.Examples holding each file's bytes, as served examples do."""
    examples = []
    for name in inputs:
        path = Path(name)
        if not path.is_file():
            raise ValueError(f"{name} is not a file; expected the path of a PNG or JPEG image.")
        encoded = path.read_bytes()
        try:
            decode(encoded, 0)
        except tf.errors.InvalidArgumentError:
            raise ValueError(f"{name} cannot be decoded as an image; expected a PNG or JPEG file.") from None
        examples.append(serialized({features.IMAGE_KEY: encoded}))
    return examples


def describe(outputs: dict[str, np.ndarray], index: int) -> str:
    """The predicted class and its probability."""
    class_id = int(outputs["class_id"][index])
    return f"{outputs['class_name'][index].decode()} (probability {outputs['probabilities'][index][class_id]:.3f})"
