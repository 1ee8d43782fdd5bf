"""The image pipelines' reader for FileExampleGen (components/example_gen/file_example_gen.py).

An image is admitted only if the op Transform decodes it with can decode it to the configured
channels, so Transform never meets one it cannot read. An image that op cannot convert (a CMYK
JPEG or a GIF to grey, a TIFF or WebP file, any colour model PIL reads) is converted the way the
notes read images, with PIL's `convert("L")` or `convert("RGB")`, and stored as a PNG of the
configured channels instead; 16-bit grey is scaled to 8 bits first (PIL's conversion would clip it).

Its size is read from its header first (PIL reads no pixel to know it): an image of more than
`max_pixels` pixels is refused before it is decoded, so one huge file cannot exhaust memory.
"""

import io
import warnings

import numpy as np
import tensorflow as tf
from PIL import Image, UnidentifiedImageError

from components.example_gen.rejected_inputs import op_message
from components.models.images import features
from components.models.images.preprocessing import decode

CONTENT_KEY = features.IMAGE_KEY
# PIL's modes of 16- and 32-bit integer grey pixels, scaled to 8 bits by dividing by 257 (65535 -> 255).
_WIDE_GREY_MODES = ("I", "I;16", "I;16B", "I;16L", "I;16N")
_PIL_MODES = {1: "L", 3: "RGB"}


def read(content: bytes, options: dict) -> dict[str, int | bytes]:
    """The stored height, width and channels, and the image as a PNG where it had to be converted;
    ValueError saying why when the image cannot be used.

    `options`: {"channels": 1 or 3, what Transform converts every image to; "max_pixels": the most
    pixels (height x width) an image may have}.
    """
    channels = int(options["channels"])
    opened = _opened(content, int(options["max_pixels"]))
    try:
        stored = decode(content, 0)
        if stored.shape[-1] != channels:
            decode(content, channels)
    except tf.errors.InvalidArgumentError as error:
        if opened is None:
            raise ValueError(
                f"is not an image Transform can decode to {channels} channel(s) ({op_message(error)})"
            ) from None
        content = _converted(opened, channels, op_message(error))
        stored = decode(content, 0)
        height, width, _ = stored.shape
        return {
            CONTENT_KEY: content,
            features.HEIGHT_KEY: height,
            features.WIDTH_KEY: width,
            features.CHANNELS_KEY: channels,
        }
    height, width, stored_channels = stored.shape
    return {features.HEIGHT_KEY: height, features.WIDTH_KEY: width, features.CHANNELS_KEY: stored_channels}


def _opened(content: bytes, max_pixels: int) -> Image.Image | None:
    """The image as PIL opens it (its header read, no pixel decoded); None when PIL does not know the
    format. ValueError when it has more than `max_pixels` pixels."""
    try:
        with warnings.catch_warnings():
            # The size is checked against max_pixels below: PIL's own warning would only repeat it.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(content))
    except Image.DecompressionBombError:
        raise ValueError(
            f"has more than {2 * (Image.MAX_IMAGE_PIXELS or 0):,} pixels, more than PIL opens; "
            f"the largest image read is {max_pixels:,} pixels (max_image_pixels)"
        ) from None
    except (UnidentifiedImageError, OSError, ValueError):
        return None
    width, height = image.size
    if width * height > max_pixels:
        raise ValueError(
            f"is {width}x{height} pixels ({width * height:,}); the largest image read is {max_pixels:,} pixels "
            "(max_image_pixels)"
        )
    return image


def _converted(image: Image.Image, channels: int, decode_problem: str) -> bytes:
    """`image` converted to `channels` by PIL and encoded as PNG; ValueError naming the conversion (or,
    where PIL cannot decode the image either, what the decoder said) when that fails."""
    mode = _PIL_MODES[channels]
    try:
        image.load()
    except (OSError, ValueError, SyntaxError):  # a truncated or corrupt file: PIL agrees with the decoder
        raise ValueError(f"is not an image Transform can decode to {channels} channel(s) ({decode_problem})") from None
    try:
        if image.mode in _WIDE_GREY_MODES:
            grey = np.asarray(image, dtype=np.int64).clip(0, 65535) // 257
            image = Image.fromarray(grey.astype(np.uint8))
        elif image.mode == "P" and "transparency" in image.info:
            image = image.convert("RGBA")  # PIL's advice for palettes with transparency, then the alpha is dropped
        try:
            converted = image.convert(mode)
        except ValueError:  # PIL converts some colour models (LAB) to RGB only
            converted = image.convert("RGB").convert(mode)
        buffer = io.BytesIO()
        converted.save(buffer, "PNG")
    except (OSError, ValueError) as error:
        raise ValueError(f"cannot be converted from PIL's colour model {image.mode} to {mode} ({error})") from None
    return buffer.getvalue()
