"""The spoken digit pipeline's reader for FileExampleGen (components/example_gen/file_example_gen.py).

A recording is admitted only if it is a complete 16-bit PCM WAV file at the configured sample rate
with at least one sample and no longer than the configured cap (read from its header, before a
sample is decoded), and the op Transform decodes it with (`tf.audio.decode_wav`) decodes it:
Transform never meets one it cannot read. The RIFF header is read here first, so that each kind
of bad file gets its own reason (TensorFlow says "Data too short" of most of them).
"""

import struct

import tensorflow as tf

from components.example_gen.rejected_inputs import op_message
from components.models.spoken_digits import features
from components.models.spoken_digits.preprocessing import decode

CONTENT_KEY = features.AUDIO_KEY
PCM = 1


def read(content: bytes, options: dict) -> dict[str, int]:
    """The stored sample rate and sample count; ValueError saying why when the recording cannot be used.

    `options`: {"sample_rate": the rate in Hz every recording must have, "max_seconds": the longest
    recording read}.
    """
    expected_rate = int(options["sample_rate"])
    header = wav_header(content)
    if header["sample_rate"] != expected_rate:
        raise ValueError(f"is sampled at {header['sample_rate']} Hz; expected {expected_rate} Hz")
    seconds = header["data_bytes"] / (header["sample_rate"] * max(header["channels"], 1) * header["bits"] // 8)
    if seconds > options["max_seconds"]:
        raise ValueError(
            f"is {seconds:,.1f} s long; the longest recording read is {options['max_seconds']:g} s "
            "(max_recording_seconds)"
        )
    try:
        waveform, _ = decode(content)
    except tf.errors.OpError as error:
        raise ValueError(f"is not a WAV file Transform can decode ({op_message(error)})") from None
    except UnicodeDecodeError:  # TensorFlow failing to word its own error about some bytes
        raise ValueError("is not a WAV file Transform can decode") from None
    samples = int(waveform.shape[0])
    if samples == 0:
        raise ValueError("holds no samples")
    return {features.SAMPLE_RATE_KEY: header["sample_rate"], features.SAMPLES_KEY: samples}


def wav_header(content: bytes) -> dict[str, int]:
    """The format of a WAV file's bytes: {"channels", "sample_rate", "bits", "data_bytes"}; ValueError
    saying what is wrong for an empty, non-WAV, non-16-bit-PCM or truncated file."""
    if not content:
        raise ValueError("is empty")
    if len(content) < 12 or content[:4] != b"RIFF" or content[8:12] != b"WAVE":
        raise ValueError("is not a WAV file (no RIFF/WAVE header)")
    found: dict[str, int] = {}
    offset = 12
    while offset + 8 <= len(content) and "data_bytes" not in found:
        chunk_id, size = struct.unpack_from("<4sI", content, offset)
        body = content[offset + 8 : offset + 8 + size]
        if chunk_id == b"fmt ":
            found.update(_format_chunk(body))
        elif chunk_id == b"data":
            found["data_bytes"] = _data_chunk_size(body, size, found)
        offset += 8 + size + size % 2  # chunks are padded to an even size
    if "sample_rate" not in found:
        raise ValueError("is truncated (no format chunk)")
    if "data_bytes" not in found:
        raise ValueError("is truncated (no data chunk)")
    return found


def _format_chunk(body: bytes) -> dict[str, int]:
    if len(body) < 16:
        raise ValueError("is truncated (its format chunk is cut short)")
    audio_format, channels, sample_rate, _, _, bits = struct.unpack_from("<HHIIHH", body)
    if audio_format != PCM or bits != 16:
        raise ValueError(f"is not 16-bit PCM (format {audio_format}, {bits} bits per sample)")
    return {"channels": channels, "sample_rate": sample_rate, "bits": bits}


def _data_chunk_size(body: bytes, size: int, found: dict[str, int]) -> int:
    """The data chunk's size, once the format chunk before it was `found`."""
    if "sample_rate" not in found:
        raise ValueError("is not a valid WAV file (its data chunk comes before its format chunk)")
    if len(body) < size:
        raise ValueError(f"is truncated (its data chunk declares {size} bytes, {len(body)} are present)")
    return size
