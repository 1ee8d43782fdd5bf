"""The course assignment's own format from the FSDD recordings: spectrogram PNGs in class folders, for the
image pipeline (`tfpipe run digits --set data_dir=...`).

  .venv/bin/python -m components.models.spoken_digits.spectrogram_images OUT [RECORDINGS]

writes OUT/train/<digit>/*.png (40: four voices, one recording of each digit each) and
OUT/test/<digit>/*.png (20: george, two recordings of each digit), RECORDINGS defaulting to
data/spoken_digits. Each PNG is the spoken_digits Transform's spectrogram of one recording (log-mel,
the recording's own mean spectrum over its speech subtracted; no train statistics: those belong to
a pipeline), scaled to 0-255 over the image, mel bands as rows (low pitch at the bottom), frames as
columns: 32 x 49 pixels with the default config. The layout is one the image pipelines read as given
train and eval splits (components/example_gen/layouts.py).
"""

import io
import sys
from pathlib import Path

import numpy as np
import tensorflow as tf
from PIL import Image

from components.models.spoken_digits import preprocessing
from pipelines.config import REPO_ROOT
from pipelines.spoken_digits.config import SpokenDigitsConfig

TRAIN = [(speaker, 5) for speaker in ("jackson", "nicolas", "theo", "yweweler")]
TEST = [("george", 0), ("george", 1)]


def spectrogram_png(wav: bytes, config: SpokenDigitsConfig) -> bytes:
    """One recording -> its mean-normalised log-mel spectrogram as an 8-bit grayscale PNG."""
    spectrogram = preprocessing.recording_spectrograms(tf.constant([wav]), config.transform_config()).numpy()[0]
    low, high = spectrogram.min(), spectrogram.max()
    pixels = np.round(255 * (spectrogram - low) / max(high - low, 1e-6)).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(np.flipud(pixels.T)).save(buffer, "PNG")
    return buffer.getvalue()


def write_class_folders(recordings: Path, target: Path, config: SpokenDigitsConfig) -> dict[str, int]:
    """Writes target/train/<digit>/ and target/test/<digit>/ (above); the number of PNGs per split."""
    counts = {}
    for split, chosen in (("train", TRAIN), ("test", TEST)):
        for digit in config.class_names:
            folder = target / split / digit
            folder.mkdir(parents=True, exist_ok=True)
            for speaker, take in chosen:
                name = f"{digit}_{speaker}_{take}"
                png = spectrogram_png((recordings / f"{name}.wav").read_bytes(), config)
                (folder / f"{name}.png").write_bytes(png)
        counts[split] = len(config.class_names) * len(chosen)
    return counts


def main() -> None:
    if len(sys.argv) not in (2, 3):
        raise SystemExit("usage: python -m components.models.spoken_digits.spectrogram_images OUT [RECORDINGS]")
    target = Path(sys.argv[1])
    recordings = Path(sys.argv[2]) if len(sys.argv) == 3 else REPO_ROOT / SpokenDigitsConfig.data_dir
    counts = write_class_folders(recordings, target, SpokenDigitsConfig())
    print(f"wrote {counts['train']} training and {counts['test']} test spectrogram PNGs to {target}")


if __name__ == "__main__":
    main()
