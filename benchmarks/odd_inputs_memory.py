"""Peak memory of reading one bad input, as the ExampleGens' readers read it on the default settings:
each input in a fresh process, whose peak resident memory (ru_maxrss) includes TensorFlow's own, so a
process that reads nothing is measured too. The inputs are tests/odd_inputs.py's.

  .venv/bin/python benchmarks/odd_inputs_memory.py [--results-fp PATH]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from results import Results, add_results_option

REPO_ROOT = Path(__file__).resolve().parent.parent

_CHILD = """
import json, resource, sys
sys.path.insert(0, "tests")
from components import tf_setup
tf_setup.configure()
import odd_inputs
from components.example_gen.text_example_gen import _numbered_lines, _ReadLine
from components.models.images import ingest as images
from components.models.spoken_digits import ingest as audio
from pipelines.images import ImageConfig
from pipelines.letters.config import LettersConfig
from pipelines.spoken_digits.config import SpokenDigitsConfig

kind, name, path, max_pixels = sys.argv[1:5]
outcome = "read nothing"
try:
    if kind == "image":
        content = odd_inputs.png_bomb(7000, 7000) if name == "7000x7000 PNG" else odd_inputs.images()[name]
        images.read(content, {"channels": 3, "max_pixels": int(max_pixels or ImageConfig().max_image_pixels)})
        outcome = "used"
    elif kind == "recording":
        seconds = SpokenDigitsConfig().max_recording_seconds
        audio.read(odd_inputs.recordings()[name], {"sample_rate": 8000, "max_seconds": seconds})
        outcome = "used"
    elif kind == "word list":
        letters = LettersConfig()
        reader = _ReadLine(letters.example_reader, {"min_context": 1, "max_context": 10})
        reader.setup()
        lines = _numbered_lines(path, "/", letters.max_line_bytes)
        outputs = [output for line in lines for output in reader.process(line)]
        outcome = f"{sum(hasattr(output, 'tag') for output in outputs)} line(s) listed"
except ValueError as error:
    outcome = "refused: " + str(error)
print(json.dumps({"peak": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, "outcome": outcome}))
"""

# (kind, input, max_image_pixels where not the default)
INPUTS = (
    ("none", "(imports only)", ""),
    ("image", "bomb-400-megapixels.png", ""),
    ("image", "jpeg-claiming-3600-megapixels.jpg", ""),
    ("image", "jpeg-claiming-100-megapixels.jpg", ""),
    ("image", "jpeg-claiming-100-megapixels.jpg", "100000000"),
    ("image", "7000x7000 PNG", ""),
    ("recording", "eleven-minutes.wav", ""),
    ("word list", "huge-line.txt", ""),
    ("word list", "huge-word.txt", ""),
)
GiB = 1 << 30


def peak(kind: str, name: str, max_pixels: str, folder: Path) -> tuple[float, str]:
    """(peak resident memory in GiB, what the reader did) of a fresh process reading the one input."""
    sys.path.insert(0, str(REPO_ROOT / "tests"))
    import odd_inputs

    path = ""
    if kind == "word list":
        path = str(folder / name)
        Path(path).write_bytes(odd_inputs.word_lists()[name])
    result = subprocess.run(
        [sys.executable, "-c", _CHILD, kind, name, path, max_pixels],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        check=True,
    )
    measured = json.loads(result.stdout.strip().splitlines()[-1])
    return round(measured["peak"] / GiB, 2), measured["outcome"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_results_option(parser)
    args = parser.parse_args()
    recorded = Results("odd_inputs_memory")
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for kind, name, max_pixels in INPUTS:
            gib, outcome = peak(kind, name, max_pixels, Path(folder))
            setting = f"max_image_pixels={int(max_pixels):,}" if max_pixels else "default settings"
            label = f"{name}, {setting}" if kind != "none" else name
            recorded.figure(f"peak memory: {label}", gib, "GiB")
            rows.append([kind, name, setting, gib, outcome[:120]])
            print(f"{label:<75} {gib:5.2f} GiB  {outcome[:100]}")
    recorded.table(
        "Peak resident memory of a process reading one input (TensorFlow's own included)",
        ["kind", "input", "settings", "peak (GiB)", "what the reader did"],
        rows,
    )
    recorded.write(args.results_fp)


if __name__ == "__main__":
    main()
