"""The image pipelines' reader for FileExampleGen (components/example_gen/file_example_gen.py).

An image is admitted only if the op Transform decodes it with can decode it to the configured
channels, so Transform never meets one it cannot read.
"""

import tensorflow as tf

from components.example_gen.rejected_inputs import op_message
from components.models.images import features
from components.models.images.preprocessing import decode

CONTENT_KEY = features.IMAGE_KEY


def read(content: bytes, options: dict) -> dict[str, int]:
    """The stored height, width and channels; ValueError saying why when the image cannot be used.

    `options`: {"channels": 1 or 3}, what Transform converts every image to.
    """
    channels = int(options["channels"])
    try:
        stored = decode(content, 0)
        if stored.shape[-1] != channels:
            decode(content, channels)
    except tf.errors.InvalidArgumentError as error:
        raise ValueError(
            f"is not an image Transform can decode to {channels} channel(s) ({op_message(error)})"
        ) from None
    height, width, stored_channels = stored.shape
    return {features.HEIGHT_KEY: height, features.WIDTH_KEY: width, features.CHANNELS_KEY: stored_channels}
