"""`tfpipe predict` for spoken digits: each input is a WAV file; one line per recording out."""

from pathlib import Path

import numpy as np

from components.models.spoken_digits import features, ingest
from components.tf_example import serialized


def to_examples(inputs: list[str], config) -> list[bytes]:
    """WAV file paths -> serialized tf.Examples holding each file's bytes, as served examples do.

    A file the pipeline's reader would reject (not a WAV file, truncated, another sample rate, no
    samples) is a ValueError naming it and why; any length is fine, the model pads or trims it."""
    examples = []
    for name in inputs:
        path = Path(name)
        if not path.is_file():
            raise ValueError(f"{name} is not a file; expected the path of a WAV recording.")
        content = path.read_bytes()
        try:
            ingest.read(content, config.reader_options())
        except ValueError as error:
            raise ValueError(
                f"{name} {error}; expected a 16-bit PCM WAV recording at {config.sample_rate} Hz."
            ) from None
        examples.append(serialized({features.AUDIO_KEY: content}))
    return examples


def describe(outputs: dict[str, np.ndarray], index: int) -> str:
    """The predicted digit and its probability."""
    class_id = int(outputs["class_id"][index])
    return f"{outputs['class_name'][index].decode()} (probability {outputs['probabilities'][index][class_id]:.3f})"
