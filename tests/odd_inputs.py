"""Odd inputs of each kind as real users' folders, word lists and spreadsheet exports hold them:
photos in other colour models and formats, decompression bombs, recordings in other encodings or
of hours, word lists with enormous lines and foreign bytes, CSV files as R, Excel and European
spreadsheets write them, TFRecord files cut short or corrupt. (Odd requests to the server are
tests/serving_fuzzing.py's.) Each generator returns {name: bytes}, made here from fixed values (no
randomness), small on disk however large what they declare; each is made once a process (callers
must not change what they return).

tests/test_odd_inputs.py feeds each to the reader or check that meets it in a run: every one must be
used or refused in one sentence, within bounded memory.
"""

from __future__ import annotations

import functools
import io
import struct
import zlib

import numpy as np
import tensorflow as tf
from PIL import Image

# A photo-like test card: a gradient in each channel, so that a conversion that scrambles channels shows.
_CARD = np.stack(
    [
        np.tile(np.linspace(0, 255, 48, dtype=np.uint8), (32, 1)),
        np.tile(np.linspace(255, 0, 32, dtype=np.uint8)[:, None], (1, 48)),
        np.full((32, 48), 128, np.uint8),
    ],
    axis=-1,
)


def _saved(image: Image.Image, image_format: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, image_format, **options)
    return buffer.getvalue()


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bomb(width: int, height: int) -> bytes:
    """A valid grey PNG of `width` x `height` black pixels: a few hundred kilobytes that decode to
    width x height bytes (a decompression bomb at 20000 x 20000: 400 megapixels)."""
    compressor = zlib.compressobj(9)
    row = bytes(1 + width)  # filter byte 0, then the row's pixels
    rows_per_piece = max(1, (1 << 22) // len(row))
    pieces = []
    for start in range(0, height, rows_per_piece):
        pieces.append(compressor.compress(row * min(rows_per_piece, height - start)))
    pieces.append(compressor.flush())
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit grey
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", b"".join(pieces))
        + _png_chunk(b"IEND", b"")
    )


def jpeg_claiming(width: int, height: int) -> bytes:
    """A small JPEG whose header claims `width` x `height` pixels: a decoder that trusts it allocates them all."""
    whole = _saved(Image.fromarray(_CARD), "JPEG")
    marker = whole.index(b"\xff\xc0")  # the baseline frame header: length, precision, height, width
    return whole[: marker + 5] + struct.pack(">HH", height, width) + whole[marker + 9 :]


@functools.cache
def images() -> dict[str, bytes]:
    """Image files in the colour models and formats PIL reads, and ones no reader should decode."""
    rgb = Image.fromarray(_CARD)
    grey16 = Image.fromarray(_CARD[..., 0].astype(np.uint16) * 257)  # PIL's mode I;16
    palette = rgb.quantize(16)
    frames = [rgb, Image.fromarray(255 - _CARD)]
    return {
        "cmyk.jpg": _saved(rgb.convert("CMYK"), "JPEG"),
        "palette-transparency.png": _saved(palette, "PNG", transparency=0),
        "grey-alpha.png": _saved(rgb.convert("LA"), "PNG"),
        "grey-16-bit.png": _saved(grey16, "PNG"),
        "one-bit.png": _saved(rgb.convert("1"), "PNG"),
        "rgba.png": _saved(rgb.convert("RGBA"), "PNG"),
        "rgb.tiff": _saved(rgb, "TIFF"),
        "cmyk.tiff": _saved(rgb.convert("CMYK"), "TIFF"),
        "lab.tiff": _saved(rgb.convert("LAB"), "TIFF"),
        "rgb.webp": _saved(rgb, "WEBP"),
        "still.gif": _saved(palette, "GIF"),
        "animated.gif": _saved(frames[0], "GIF", save_all=True, append_images=frames[1:]),
        "rgba.bmp": _saved(rgb.convert("RGBA"), "BMP"),
        "float.tiff": _saved(Image.fromarray(_CARD[..., 0].astype(np.float32) / 255), "TIFF"),
        "empty.png": b"",
        "cut-short.png": _saved(rgb, "PNG")[:60],
        "text-named.png": b"name,size\nphoto,12\n",
        "bomb-400-megapixels.png": png_bomb(20000, 20000),
        "jpeg-claiming-100-megapixels.jpg": jpeg_claiming(10000, 10000),
        "jpeg-claiming-3600-megapixels.jpg": jpeg_claiming(60000, 60000),
    }


def _wav(samples: bytes, rate: int = 8000, channels: int = 1, bits: int = 16, audio_format: int = 1) -> bytes:
    block = channels * bits // 8
    fmt = struct.pack("<HHIIHH", audio_format, channels, rate, rate * block, block, bits)
    return (
        b"RIFF"
        + struct.pack("<I", 4 + 8 + len(fmt) + 8 + len(samples))
        + b"WAVE"
        + b"fmt "
        + struct.pack("<I", len(fmt))
        + fmt
        + b"data"
        + struct.pack("<I", len(samples))
        + samples
    )


@functools.cache
def recordings() -> dict[str, bytes]:
    """WAV files as recorders and converters write them, and files that only claim to be WAV."""
    tone = (np.sin(np.arange(8000) * 2 * np.pi * 440 / 8000) * 8000).astype("<i2")
    hour_header = bytearray(_wav(tone.tobytes()))
    struct.pack_into("<I", hour_header, 40, 3600 * 8000 * 2)  # the data chunk claims an hour
    return {
        "pcm16.wav": _wav(tone.tobytes()),
        "stereo.wav": _wav(np.repeat(tone, 2).tobytes(), channels=2),
        "pcm8.wav": _wav((tone // 256 + 128).astype(np.uint8).tobytes(), bits=8),
        "pcm24.wav": _wav(b"".join(int(v * 256).to_bytes(3, "little", signed=True) for v in tone), bits=24),
        "float32.wav": _wav((tone / 32768).astype("<f4").tobytes(), bits=32, audio_format=3),
        "16khz.wav": _wav(np.repeat(tone, 2).tobytes(), rate=16000),
        "no-samples.wav": _wav(b""),
        "header-claims-an-hour.wav": bytes(hour_header),
        "eleven-minutes.wav": _wav(bytes(2 * 8000 * 660)),
        "empty.wav": b"",
        "mp3-named.wav": b"ID3\x03\x00\x00\x00\x00\x00\x0f" + bytes(64),
    }


def _records(examples: list[bytes]) -> bytes:
    """TFRecord framing of `examples`, as tf.io.TFRecordWriter writes it."""
    path = "ram://odd-inputs.tfrecord"  # TensorFlow's in-memory file system
    with tf.io.TFRecordWriter(path) as writer:
        for example in examples:
            writer.write(example)
    content = tf.io.gfile.GFile(path, "rb").read()
    tf.io.gfile.remove(path)
    return content


def image_record(index: int, label: int | None, image: bytes | None = None) -> bytes:
    """A tf.Example as the image pipelines' TFRecords hold one: a PNG of the test card (brightened by
    `index`, so that no two are alike) under `image` and its class index under `label`."""
    if image is None:
        image = _saved(Image.fromarray(np.clip(_CARD.astype(int) + index, 0, 255).astype(np.uint8)), "PNG")
    feature = {"image": tf.train.Feature(bytes_list=tf.train.BytesList(value=[image]))}
    if label is not None:
        feature["label"] = tf.train.Feature(int64_list=tf.train.Int64List(value=[label]))
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


@functools.cache
def tfrecords() -> dict[str, bytes]:
    """TFRecord files of image examples: whole, cut short, corrupt, gzip-named but plain, not TFRecords at
    all, and whole files holding records that are no tf.Example, lack a label or name no class."""
    whole = _records([image_record(index, index % 10) for index in range(30)])
    flipped = bytearray(whole)
    flipped[100] ^= 0xFF  # inside the first record's data: its checksum no longer matches
    return {
        "whole.tfrecord": whole,
        "cut-short.tfrecord": whole[: len(whole) // 2],
        "flipped-byte.tfrecord": bytes(flipped),
        "plain-named-gzip.tfrecord.gz": whole,
        "text.tfrecord": b"label,image\n3,photo.png\n" * 20,
        "odd-records.tfrecord": _records(
            [
                b"not a protocol buffer \xff\xfe",
                image_record(31, None),
                image_record(32, 12),
                image_record(33, 1, b"GIF"),
            ]
        ),
    }


# What a word list's odd lines hold (letters' reader: one word of letters per line).
HUGE_LINE_CHARACTERS = 52_000_000


@functools.cache
def word_lists() -> dict[str, bytes]:
    """Word lists as editors, exports and accidents leave them: line ends, byte-order marks, foreign
    encodings, a line of 52 million characters, a word of ten million letters."""
    return {
        "crlf.txt": b"apple\r\nbanana\r\n",
        "bom.txt": "\ufeffcherry\ndate\n".encode(),
        "latin-1.txt": "caf\xe9\nelder\n".encode("latin-1"),
        "greek.txt": "καλημέρα\n".encode(),
        "nul.txt": b"fig\x00tree\ngrape\n",
        "emoji.txt": "kiwi\U0001f95d\nlemon\n".encode(),
        "blank-lines.txt": b"\n\n   \nmango\n\n",
        "no-final-newline.txt": b"nectarine\norange",
        "huge-line.txt": b"x y " * (HUGE_LINE_CHARACTERS // 4) + b"\npear\n",
        "huge-word.txt": b"a" * 10_000_000 + b"\nquince\n",
        "empty.txt": b"",
    }


IRIS_ROWS = [(5.1, 3.5, 1.4, 0.2, 0), (7.0, 3.2, 4.7, 1.4, 1), (6.3, 3.3, 6.0, 2.5, 2)]
IRIS_COLUMNS = ("sepal_length", "sepal_width", "petal_length", "petal_width", "species")


@functools.cache
def csv_files() -> dict[str, bytes]:
    """The iris rows as other tools write CSV: R's write.csv (quoted names, with and without its
    row-names column), a European spreadsheet (semicolons, decimal commas), tabs, Excel's UTF-8 with
    a byte-order mark, UTF-16, Windows line ends."""

    def written(separator: str, decimal: str = ".", quoted: bool = False, row_names: bool = False) -> str:
        names = [f'"{name}"' if quoted else name for name in IRIS_COLUMNS]
        lines = [separator.join((['""'] if row_names else []) + names)]
        for number, row in enumerate(IRIS_ROWS, start=1):
            cells = [str(value).replace(".", decimal) for value in row]
            lines.append(separator.join(([f'"{number}"'] if row_names else []) + cells))
        return "\n".join(lines) + "\n"

    return {
        "r-write-csv-quoted.csv": written(",", quoted=True).encode(),
        "r-write-csv-row-names.csv": written(",", quoted=True, row_names=True).encode(),
        "european-semicolons.csv": written(";", decimal=",").encode(),
        "semicolons.csv": written(";").encode(),
        "tabs.csv": written("\t").encode(),
        "excel-bom.csv": "\ufeff".encode() + written(",").encode(),
        "utf-16.csv": written(",").encode("utf-16"),
        "windows-line-ends.csv": written(",").replace("\n", "\r\n").encode(),
        "header-only.csv": (",".join(IRIS_COLUMNS) + "\n").encode(),
        "empty.csv": b"",
    }
