"""`tfpipe predict` for image pipelines: each input is an image file; one line per image out.

A photo is sent as its file's bytes where the model's own decoder reads it as it is (JPEG or PNG, 8-bit
grayscale, RGB, RGBA or palette, upright); any other image PIL reads (a CMYK or 16-bit file, WebP,
TIFF, a phone photo whose EXIF says it is turned) is sent upright as a PNG in RGB, or grayscale for a
grayscale model. The model resizes it to its input size, whatever its size.

For a model trained on light strokes on a dark ground (`light_on_dark`: MNIST), a mostly light photo
(its median brightness above half: dark ink on paper) is first made to look like the training images,
as the course notes' app does (it inverts and thresholds before it asks): see `ink_on_paper_to_digit`.
"""

from io import BytesIO
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from components.models.images import features
from components.tf_example import serialized

# What the model's decoder (tf.io.decode_image in components/models/images/preprocessing.py) reads as it is.
_SENT_AS_IS = {"formats": ("JPEG", "PNG"), "modes": ("L", "RGB", "RGBA", "LA", "P")}
# MNIST's digits fill a 20x20 box in the middle of the 28x28 image.
_DIGIT_BOX, _DIGIT_FRAME = 20, 28
# Ink is a pixel darker than the paper by this fraction of the paper-to-ink contrast, once the digit is
# shrunk to MNIST's size: the notes' app counts every pixel below 200 of 255 as ink after shrinking, a
# rule for white paper, here measured from the photo's own paper and ink.
_INK_FRACTION = 0.2


def to_examples(inputs: list[str], config) -> list[bytes]:
    """Image file paths -> serialized tf.Examples holding each image's encoded bytes, as served examples do."""
    return [serialized({features.IMAGE_KEY: encoded_for_model(name, config)}) for name in inputs]


def encoded_for_model(name: str, config) -> bytes:
    """The bytes sent for the image file `name` (see the module's docstring); ValueError saying why
    the file cannot be used."""
    path = Path(name)
    if not path.is_file():
        raise ValueError(f"{name} is not a file; expected the path of an image (JPEG, PNG, or another PIL reads).")
    content = path.read_bytes()
    try:
        image = Image.open(BytesIO(content))
        image.load()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise ValueError(f"{name} cannot be decoded as an image; expected a PNG or JPEG file.") from None
    upright = ImageOps.exif_transpose(image)
    turned = upright.size != image.size or upright.tobytes() != image.tobytes()
    if config.light_on_dark:
        gray = _to_8bit_gray(upright)
        if np.median(gray) > 127.5:
            return _png(ink_on_paper_to_digit(gray))
    if image.format in _SENT_AS_IS["formats"] and image.mode in _SENT_AS_IS["modes"] and not turned:
        return content
    if config.channels == 1:
        return _png(Image.fromarray(_to_8bit_gray(upright)))
    return _png(_to_8bit(upright).convert("RGB"))


def ink_on_paper_to_digit(gray: np.ndarray) -> Image.Image:
    """A photo of a dark digit on light paper (8-bit grayscale [height, width]) -> a 28x28 grayscale image
    like MNIST's: the digit white on black, filling a 20x20 box in the middle.

    The rule, from the photo's own brightness: Otsu's threshold splits ink from paper; the paper level
    is the median of the paper pixels, the ink level the median of the ink pixels; the box around the ink
    is cut out (square, centred), inverted and scaled so that paper is 0 and ink 255, shrunk to 20x20
    with antialiasing, and thresholded as the notes' app does: a pixel at least `_INK_FRACTION` of the
    way from paper to ink is ink (255), any other is ground (0)."""
    threshold = _otsu(gray)
    ink = gray < threshold
    if not ink.any() or ink.all():
        return Image.fromarray(np.zeros((_DIGIT_FRAME, _DIGIT_FRAME), np.uint8))
    paper_level, ink_level = float(np.median(gray[~ink])), float(np.median(gray[ink]))
    rows, columns = np.nonzero(ink)
    top, bottom, left, right = rows.min(), rows.max() + 1, columns.min(), columns.max() + 1
    side = max(bottom - top, right - left)
    centre_row, centre_column = (top + bottom) // 2, (left + right) // 2
    square = np.full((side, side), paper_level, np.float32)
    row0, column0 = centre_row - side // 2, centre_column - side // 2
    # The part of the square inside the photo (a digit near the edge is padded with paper).
    r0, c0 = max(row0, 0), max(column0, 0)
    r1, c1 = min(row0 + side, gray.shape[0]), min(column0 + side, gray.shape[1])
    square[r0 - row0 : r1 - row0, c0 - column0 : c1 - column0] = gray[r0:r1, c0:c1]
    darkness = np.clip((paper_level - square) / max(paper_level - ink_level, 1.0), 0.0, 1.0)
    shrunk = Image.fromarray((darkness * 255).astype(np.uint8)).resize(
        (_DIGIT_BOX, _DIGIT_BOX), Image.Resampling.LANCZOS
    )
    digit = np.where(np.asarray(shrunk) >= _INK_FRACTION * 255, 255, 0).astype(np.uint8)
    frame = np.zeros((_DIGIT_FRAME, _DIGIT_FRAME), np.uint8)
    margin = (_DIGIT_FRAME - _DIGIT_BOX) // 2
    frame[margin : margin + _DIGIT_BOX, margin : margin + _DIGIT_BOX] = digit
    return Image.fromarray(frame)


def _otsu(gray: np.ndarray) -> float:
    """Otsu's threshold of an 8-bit image: the level that best splits its pixels into two classes."""
    histogram = np.bincount(gray.ravel(), minlength=256).astype(np.float64)
    levels = np.arange(256)
    weight_low = np.cumsum(histogram)
    weight_high = weight_low[-1] - weight_low
    sum_low = np.cumsum(histogram * levels)
    mean_low = sum_low / np.maximum(weight_low, 1)
    mean_high = (sum_low[-1] - sum_low) / np.maximum(weight_high, 1)
    between = weight_low * weight_high * (mean_low - mean_high) ** 2
    return float(np.argmax(between) + 1)


def _to_8bit(image: Image.Image) -> Image.Image:
    """16-bit and 32-bit images scaled to 8 bits (PIL's convert clips them instead)."""
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
        values = np.asarray(image, dtype=np.float64)
        top = 65535.0 if values.max() > 255 else 255.0
        return Image.fromarray(np.clip(values / top * 255, 0, 255).astype(np.uint8))
    return image


def _to_8bit_gray(image: Image.Image) -> np.ndarray:
    return np.asarray(_to_8bit(image).convert("L"))


def _png(image: Image.Image) -> bytes:
    buffer = BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def describe(outputs: dict[str, np.ndarray], index: int) -> str:
    """The predicted class and its probability, and with the scores of unlike inputs whether the image is
    unlike the training images, each score beside its threshold (components/models/images/familiarity.py)."""
    class_id = int(outputs["class_id"][index])
    line = f"{outputs['class_name'][index].decode()} (probability {outputs['probabilities'][index][class_id]:.3f})"
    if features.FLAG_OUTPUT not in outputs:
        return line
    likeness = "unlike" if outputs[features.FLAG_OUTPUT][index] else "like"
    scores = [
        f"{words} {_figure(outputs[name][index])}, threshold {_figure(outputs[features.THRESHOLDS[name]][index])}"
        for name, words in _SCORE_WORDS.items()
        if name in outputs
    ]
    return f"{line}; {likeness} the training images: {'; '.join(scores)}"


_SCORE_WORDS = {features.ERROR_OUTPUT: "reconstruction error", features.DISTANCE_OUTPUT: "feature distance"}


def _figure(value) -> str:
    """Two significant digits, whole numbers from 100 (a feature distance of 412, not 4.1e+02)."""
    return f"{float(value):.0f}" if abs(float(value)) >= 100 else f"{float(value):.2g}"
