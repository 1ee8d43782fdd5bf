"""Writes data/digits/: scikit-learn's 1,797 handwritten digits as PNG files plus a labels file.

Run from the repository root: `.venv/bin/python data/make_digits.py`.
The layout is the notes' one, an image folder and a labels text file beside it:
  data/digits/images/0000.png ... 1796.png   8x8 grayscale, white digit on black
  data/digits/images.txt                     one `<file name> <label>` line per image
scikit-learn's pixel values are ink counts from 0 to 16 (4x4 blocks of a 32x32 bitmap);
they are scaled to 0-255 so that the PNGs look like ordinary images.
"""

from pathlib import Path

import numpy as np
from PIL import Image
from sklearn.datasets import load_digits

TARGET = Path(__file__).parent / "digits"


def main() -> None:
    digits = load_digits()
    images_dir = TARGET / "images"
    images_dir.mkdir(parents=True, exist_ok=True)
    for stale in images_dir.glob("*.png"):
        stale.unlink()
    lines = []
    for index, (ink, label) in enumerate(zip(digits.images, digits.target)):
        name = f"{index:04d}.png"
        pixels = np.rint(ink * 255 / 16).astype(np.uint8)
        Image.fromarray(pixels).save(images_dir / name)  # uint8 and 2-D: 8-bit grayscale
        lines.append(f"{name} {label}\n")
    (TARGET / "images.txt").write_text("".join(lines))
    print(f"wrote {len(lines)} images to {images_dir} and their labels to {TARGET / 'images.txt'}")


if __name__ == "__main__":
    main()
