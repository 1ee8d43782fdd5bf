"""Transform module for images: decode, convert to the configured channels, resize, scale to [0, 1].

The same graph runs inside the serving signature, so a served image of any size or channel
count is prepared exactly as the training images were.
"""

import tensorflow as tf

from components.models.images import features
from pipelines.images import ImageTransformConfig


def preprocessing_fn(inputs: dict, custom_config: dict) -> dict:
    """`custom_config`: ImageTransformConfig's (pipelines/images.py)."""
    image = ImageTransformConfig.from_custom_config(custom_config)
    encoded = tf.reshape(inputs[features.IMAGE_KEY], [-1])
    return {
        features.PIXELS_KEY: to_pixels(encoded, image.image_height, image.image_width, image.channels),
        features.LABEL_KEY: inputs[features.LABEL_KEY],
    }


def decode(encoded: tf.Tensor, channels: int) -> tf.Tensor:
    """One encoded BMP, GIF, JPEG or PNG image -> uint8 [height, width, channels].

    `channels` 0 keeps the file's own; 1 or 3 converts (GIF and BMP cannot become grayscale).
    ImageExampleGen admits an image only if this decodes it, so Transform never meets one it cannot read.
    """
    return tf.io.decode_image(encoded, channels=channels, expand_animations=False)


def to_pixels(encoded: tf.Tensor, height: int, width: int, channels: int) -> tf.Tensor:
    """A batch of encoded images [batch] -> float32 [batch, height, width, channels] in [0, 1]."""

    def one(image_bytes):
        image = tf.image.convert_image_dtype(decode(image_bytes, channels), tf.float32)
        # Antialiasing averages the pixels a smaller size merges, as the 8x8 digits were made
        # from 32x32 bitmaps; plain bilinear would sample a few and alias.
        return tf.image.resize(image, [height, width], antialias=True)

    return tf.map_fn(one, encoded, fn_output_signature=tf.TensorSpec([height, width, channels], tf.float32))
