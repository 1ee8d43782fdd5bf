"""Writes data/spoken_digits/: the Free Spoken Digit Dataset's 2,500 recordings, copied unchanged.

Run from the repository root: `.venv/bin/python data/make_spoken_digits.py [SOURCE]`, SOURCE being
the FSDD `recordings` folder (default /work/shared/data/fsdd/recordings).
The source is a copy of github.com/Jakobovski/free-spoken-digit-dataset, commit 26eb9aaf76e8 (after
tag v1.0.10): five speakers (george, jackson, nicolas, theo, yweweler) saying each digit 0-9 fifty
times, `{digit}_{speaker}_{index}.wav`, mono 8 kHz 16-bit PCM, trimmed to the word. FSDD
(Zohar Jackson et al.) is under Creative Commons Attribution-ShareAlike 4.0 International.
The layout is the file-name one (components/example_gen/layouts.py): the files directly in
data/spoken_digits/, each name starting with its class (the digit) and `_`; the pipeline reads the
speaker and the index from the rest of the name. Every file is checked (name, 8 kHz mono 16-bit
PCM, at least one sample) and copied byte for byte, so the folder is the same every time.
"""

import re
import shutil
import sys
import wave
from pathlib import Path

SOURCE = Path("/work/shared/data/fsdd/recordings")
TARGET = Path(__file__).parent / "spoken_digits"
NAME = re.compile(r"^([0-9])_([a-z]+)_([0-9]+)\.wav$")
EXPECTED_COUNT = 2500


def _check(path: Path) -> None:
    if not NAME.match(path.name):
        raise ValueError(f"{path.name}: expected a name `{{digit}}_{{speaker}}_{{index}}.wav`")
    with wave.open(str(path)) as recording:
        found = (recording.getframerate(), recording.getnchannels(), recording.getsampwidth())
        if found != (8000, 1, 2) or recording.getnframes() < 1:
            raise ValueError(
                f"{path.name}: expected 8 kHz mono 16-bit samples, got {found}, {recording.getnframes()} frames"
            )


def main() -> None:
    source = Path(sys.argv[1]) if len(sys.argv) > 1 else SOURCE
    files = sorted(source.glob("*.wav"))
    if len(files) != EXPECTED_COUNT:
        raise SystemExit(f"{source} holds {len(files)} WAV files; expected FSDD's {EXPECTED_COUNT}.")
    TARGET.mkdir(parents=True, exist_ok=True)
    for stale in TARGET.glob("*.wav"):
        stale.unlink()
    for path in files:
        _check(path)
        shutil.copyfile(path, TARGET / path.name)
    size = sum(path.stat().st_size for path in TARGET.glob("*.wav"))
    print(f"copied {len(files)} recordings ({size / 1e6:.1f} MB) to {TARGET}")


if __name__ == "__main__":
    main()
