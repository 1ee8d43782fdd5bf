"""Files as users really have them (issue 35): every odd input of tests/odd_inputs.py, of each kind, is
used (and then readable by Transform, converted as the notes would read it) or refused in one sentence,
by the reader or check a run meets it with; links that lead nowhere or round in a circle are listed and
left out by every file-reading ExampleGen; one bad input never takes more than 3 GiB; quoted CSV headers
are read, other CSV dialects refused naming file, separator and decimal mark; a split missing a class is
named at the gate; a workdir that cannot be written is one sentence and exit status 2."""

import io
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from conftest import REPO_ROOT, run_example_gen, run_tfpipe
from odd_inputs import (
    HUGE_LINE_CHARACTERS,
    IRIS_COLUMNS,
    csv_files,
    images,
    png_bomb,
    recordings,
    tfrecords,
    word_lists,
)
from PIL import Image
from test_digits_ingestion import Ingested, _write_class_folders

from components.example_gen import layouts, rejected_inputs
from components.models.images import features as image_features
from components.models.images import ingest as image_reader
from components.models.images.preprocessing import decode
from components.models.iris import features as iris_features
from components.models.letters import features as letter_features
from components.models.spoken_digits import ingest as audio_reader
from components.validation_gate import class_size_problems, examples_per_class
from pipelines import csv_input
from pipelines.config import apply_overrides
from pipelines.images import ImageConfig
from pipelines.registry import config_for
from pipelines.spoken_digits.config import SpokenDigitsConfig

IMAGE_OPTIONS = {"max_pixels": ImageConfig().max_image_pixels}
AUDIO_OPTIONS = {"sample_rate": 8000, "max_seconds": SpokenDigitsConfig().max_recording_seconds}
REFUSED_IMAGES = {
    "empty.png",
    "cut-short.png",
    "text-named.png",
    "bomb-400-megapixels.png",
    "jpeg-claiming-100-megapixels.jpg",
    "jpeg-claiming-3600-megapixels.jpg",
}
GiB = 1 << 30
PLAIN_WORDS = (
    "river", "stone", "cloud", "meadow", "forest", "candle", "window", "garden", "harbor", "lantern",
    "pepper", "thunder", "silver", "marble", "violet", "copper", "saddle", "timber", "velvet", "willow",
)  # fmt: skip


def _one_sentence(reason: str) -> None:
    assert "\n" not in reason and 0 < len(reason) <= rejected_inputs.MAX_LINE_CHARS, reason


@pytest.mark.parametrize("channels", [1, 3])
def test_every_odd_image_is_converted_for_the_model_or_refused_in_one_sentence(channels):
    odd = images()
    used = {}
    for name, content in odd.items():
        try:
            added = image_reader.read(content, {"channels": channels, **IMAGE_OPTIONS})
        except ValueError as error:
            assert name in REFUSED_IMAGES, f"{name}: {error}"
            _one_sentence(str(error))
            continue
        stored = added.get(image_reader.CONTENT_KEY, content)
        # What Transform will do with the stored bytes: they must decode to the model's channels.
        pixels = decode(stored, channels).numpy()
        assert (
            pixels.shape
            == (added[image_features.HEIGHT_KEY], added[image_features.WIDTH_KEY], channels)
            == (
                32,
                48,
                channels,
            )
        ), name
        used[name] = pixels
    assert set(odd) - set(used) == REFUSED_IMAGES
    # Converted as the notes' readers convert: PIL's convert("L") / convert("RGB") of the same picture.
    card = Image.open(io.BytesIO(odd["rgb.tiff"]))
    expected = np.asarray(card.convert("L" if channels == 1 else "RGB")).reshape(32, 48, channels).astype(int)
    for name in ("rgb.tiff", "cmyk.tiff", "lab.tiff", "rgb.webp", "cmyk.jpg", "still.gif", "grey-16-bit.png"):
        if name == "grey-16-bit.png":  # one channel of the card, scaled from 16 bits
            expected_here = np.repeat(np.asarray(card)[..., :1], channels, axis=-1).astype(int)
        else:
            expected_here = expected
        # Lossy or 16-colour formats, and LAB's round trip, are near the card, not equal to it.
        tolerance = 40 if name in ("cmyk.jpg", "rgb.webp", "still.gif", "lab.tiff") else 2
        assert np.abs(used[name].astype(int) - expected_here).mean() < tolerance, name


def test_an_image_over_the_pixel_cap_is_refused_naming_its_size_and_the_setting():
    with pytest.raises(ValueError) as refused:
        image_reader.read(images()["jpeg-claiming-100-megapixels.jpg"], {"channels": 3, **IMAGE_OPTIONS})
    assert str(refused.value) == (
        "is 10000x10000 pixels (100,000,000); the largest image read is 50,000,000 pixels (max_image_pixels)"
    )
    # The cap is the setting's: a 49-megapixel image, used on the default settings, is refused under a lower one.
    with pytest.raises(ValueError, match=r"is 7000x7000 pixels \(49,000,000\); the largest image read is 40,000,000"):
        image_reader.read(png_bomb(7000, 7000), {"channels": 1, "max_pixels": 40_000_000})


def test_every_odd_recording_is_used_or_refused_in_one_sentence():
    used = set()
    for name, content in recordings().items():
        try:
            audio_reader.read(content, AUDIO_OPTIONS)
            used.add(name)
        except ValueError as error:
            _one_sentence(str(error))
            if name == "eleven-minutes.wav":
                assert str(error) == "is 660.0 s long; the longest recording read is 600 s (max_recording_seconds)"
    assert used == {"pcm16.wav", "stereo.wav"}


def test_every_odd_csv_file_is_accepted_or_refused_naming_the_file(tmp_path):
    accepted = set()
    for name, content in csv_files().items():
        path = tmp_path / name
        path.write_bytes(content)
        problems = csv_input.file_problems(path)
        if not problems:
            accepted.add(name)
        for problem in problems:
            assert str(path) in problem and "\n" not in problem
    assert accepted == {"r-write-csv-quoted.csv", "windows-line-ends.csv"}
    [european] = csv_input.file_problems(tmp_path / "european-semicolons.csv")
    assert european.startswith(
        f"{tmp_path / 'european-semicolons.csv'} separates its columns with semicolons (';') and writes decimal "
        "commas ('5,1'), as a spreadsheet set to a European locale exports CSV;"
    )
    assert "pd.read_csv(path, sep=';', decimal=',').to_csv(path, index=False)" in european
    [row_names] = csv_input.file_problems(tmp_path / "r-write-csv-row-names.csv")
    assert "header column 1 has no name (R's write.csv writes row names there" in row_names


def test_a_link_that_leads_round_in_a_circle_beside_the_csv_is_named(tmp_path):
    (tmp_path / "iris.csv").write_bytes(csv_files()["windows-line-ends.csv"])
    os.symlink("more.csv", tmp_path / "more.csv")
    assert csv_input.folder_problems(tmp_path) == [
        f"data folder {tmp_path} holds more.csv (a link to more.csv, which cannot be followed) beside its CSV "
        "files; every file in it is read as CSV, so move the others out."
    ]


def test_a_european_export_stops_the_cli_before_anything_runs(tmp_path):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "iris.csv").write_bytes(csv_files()["european-semicolons.csv"])
    result = run_tfpipe("run", "iris", "--workdir", str(tmp_path / "workdir"), "--set", f"data_dir={data_dir}")
    assert result.returncode == 2
    assert result.stderr.startswith(f"tfpipe: {data_dir / 'iris.csv'} separates its columns with semicolons")
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "workdir").exists()


def _r_written_iris(data_dir, keep=lambda row: True) -> None:
    """The shipped iris rows under a header of quoted names, as R's write.csv(iris, row.names = FALSE) writes it."""
    _, *rows = (REPO_ROOT / "data" / "iris" / "iris.csv").read_text().splitlines()
    header = ",".join(f'"{name}"' for name in IRIS_COLUMNS)
    data_dir.mkdir()
    (data_dir / "iris.csv").write_text("\n".join([header, *[row for row in rows if keep(row)]]) + "\n")


def test_quoted_column_names_are_read_without_quotes_and_a_missing_class_is_named(tmp_path):
    data_dir = tmp_path / "data"
    _r_written_iris(data_dir, keep=lambda row: not row.endswith(",2"))  # no virginica
    config = apply_overrides(config_for("iris"), [f"data_dir={data_dir}"])
    examples = run_example_gen(config, tmp_path / "out")
    ingested = Ingested(examples)
    for split in ingested.splits.values():
        assert all(set(example.features.feature) == set(IRIS_COLUMNS) for example in split)
    counts = examples_per_class(examples, config.label_key, len(iris_features.SPECIES_NAMES))
    assert sum(sum(per_class) for per_class in counts.values()) == 100
    assert all(per_class[2] == 0 and min(per_class[:2]) > 0 for per_class in counts.values())
    assert class_size_problems(counts, list(iris_features.SPECIES_NAMES), 1) == [
        f"the {split} split has fewer than 1 example(s) of class 'virginica' (0); every class needs at least 1 "
        "in each split (min_class_examples): add examples of each, or leave it out of the pipeline's classes"
        for split in ("eval", "train")
    ]
    # A higher minimum names every class short of it, with its count.
    [short, _] = class_size_problems(counts, list(iris_features.SPECIES_NAMES), 10**6)
    assert "of class 'setosa' (" in short and "'versicolor' (" in short and "'virginica' (0)" in short


def _links(folder) -> None:
    os.symlink("nowhere.png", folder / "broken-link.png")
    os.symlink("circle.png", folder / "circle.png")


def test_image_folders_list_odd_images_and_dead_or_circular_links_and_use_the_rest(tmp_path):
    data_dir = tmp_path / "data"
    _write_class_folders(data_dir, range(30))  # 30 ordinary digits, so that both splits hold some
    for number, (name, content) in enumerate(sorted(images().items())):
        folder = data_dir / str(number % 2)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(content)
    _links(data_dir / "1")
    os.symlink("/dev/zero", data_dir / "1" / "endless.png")
    with open(data_dir / "1" / "two-gib.png", "wb") as sparse:  # two GiB of zeros that take no disk
        sparse.truncate(2 << 30)
    ingested = Ingested(
        run_example_gen(apply_overrides(config_for("digits"), [f"data_dir={data_dir}"]), tmp_path / "o")
    )
    listed = {line.split(": ", 1)[0].split("/", 1)[1]: line for line in ingested.rejected}
    assert set(listed) == REFUSED_IMAGES | {"broken-link.png", "circle.png", "two-gib.png", "endless.png"}
    assert listed["endless.png"] == (
        "1/endless.png: is not a regular file (a device, a pipe or a socket); it was not read"
    )
    assert (
        listed["two-gib.png"] == "1/two-gib.png: is 2,147,483,648 bytes; the largest file read is 1,073,741,824 bytes"
    )
    assert (
        listed["broken-link.png"]
        == "1/broken-link.png: cannot be read: it is a link to nowhere.png, which does not exist"
    )
    assert (
        listed["circle.png"]
        == "1/circle.png: cannot be read: it is a link that leads round in a circle (to circle.png)"
    )
    examples = [example for split in ingested.splits.values() for example in split]
    assert len(examples) == 30 + len(images()) - len(REFUSED_IMAGES)
    for example in examples:  # every stored image decodes to the pipeline's one channel
        stored = example.features.feature[image_features.IMAGE_KEY].bytes_list.value[0]
        assert decode(stored, 1).shape[-1] == 1


def test_tfrecord_files_cut_short_or_corrupt_are_listed_and_their_good_records_used(tmp_path):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    for name, content in tfrecords().items():
        (data_dir / name).write_bytes(content)
    ingested = Ingested(
        run_example_gen(apply_overrides(config_for("digits"), [f"data_dir={data_dir}"]), tmp_path / "o")
    )
    for line in ingested.rejected:
        _one_sentence(line)
    assert ingested.rejected == [
        "a record of odd-records.tfrecord: expected one 'image' bytes value and one 'label' integer",
        "a record of odd-records.tfrecord: is not a tf.Example (DecodeError)",
        "a record of odd-records.tfrecord: is not an image Transform can decode to 1 channel(s) "
        "(Unknown image file format. One of JPEG, PNG, GIF, BMP required.)",
        "a record of odd-records.tfrecord: label 12 is not a class index from 0 to 9",
        "cut-short.tfrecord: is cut short, corrupt or no TFRecord file after 15 record(s) "
        "(truncated record at 3134' failed with Read less bytes than requested)",
        "flipped-byte.tfrecord: is cut short, corrupt or no TFRecord file after 0 record(s) (corrupted record at 12)",
        "plain-named-gzip.tfrecord.gz: is cut short, corrupt or no gzipped TFRecord file after 0 record(s) "
        "(inflate() failed with error -3: incorrect header check)",
        "text.tfrecord: is cut short, corrupt or no TFRecord file after 0 record(s) "
        "(corrupted record at 0 (Is this even a TFRecord file?))",
    ]
    # The whole file's 30 records, and the 15 read before the cut.
    assert sum(len(split) for split in ingested.splits.values()) == 30 + 15


def test_a_folder_of_named_recordings_with_a_dead_link_keeps_its_layout(tmp_path):
    (tmp_path / "7_george_0.wav").write_bytes(recordings()["pcm16.wav"])
    os.symlink("gone.wav", tmp_path / "7_george_1.wav")
    assert layouts.detect(tmp_path).kind == layouts.NAMED_FILES
    with_dead_link = layouts.fingerprint(tmp_path)
    (tmp_path / "gone.wav").write_bytes(recordings()["pcm16.wav"])  # the link mended
    assert layouts.fingerprint(tmp_path) != with_dead_link


def test_word_lists_as_users_have_them_are_read_line_by_line_within_a_cap(tmp_path):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    for name, content in word_lists().items():
        (data_dir / name).write_bytes(content)
    (data_dir / "plain.txt").write_text("".join(f"{word}\n" for word in PLAIN_WORDS))  # so both splits hold some
    os.symlink("circle.txt", data_dir / "circle.txt")
    os.symlink("nowhere.txt", data_dir / "broken-link.txt")
    os.symlink("/dev/zero", data_dir / "endless.txt")
    config = apply_overrides(config_for("letters"), [f"data_dir={data_dir}"])
    ingested = Ingested(run_example_gen(config, tmp_path / "out"))
    words = {
        example.features.feature[letter_features.WORD_KEY].bytes_list.value[0].decode()
        for split in ingested.splits.values()
        for example in split
    }
    assert words == {
        "apple", "banana", "cherry", "date", "elder", "καλημέρα", "grape", "lemon",
        "mango", "nectarine", "orange", "pear", "quince", *PLAIN_WORDS,
    }  # fmt: skip
    for line in ingested.rejected:
        _one_sentence(line)
    listed = {line.split(": ", 1)[0]: line.split(": ", 1)[1] for line in ingested.rejected}
    assert listed == {
        "huge-line.txt line 1": f"is {HUGE_LINE_CHARACTERS:,} bytes long; the longest line read is 1,000 bytes",
        "huge-word.txt line 1": "is 10,000,000 bytes long; the longest line read is 1,000 bytes",
        "latin-1.txt line 1": "is not UTF-8 text",
        "nul.txt line 1": "'fig\\x00tree' holds '\\x00', which is not a letter; expected one word of letters per line",
        "emoji.txt line 1": "'kiwi🥝' holds '🥝', which is not a letter; expected one word of letters per line",
        "circle.txt": "cannot be read: it is a link that leads round in a circle (to circle.txt)",
        "broken-link.txt": "cannot be read: it is a link to nowhere.txt, which does not exist",
        "endless.txt": "is not a regular file (a device, a pipe or a socket); it was not read",
    }


def test_a_reason_quoting_a_huge_input_is_cut_to_a_readable_line():
    line = "words.txt line 1: " + "'" + "x" * 5_000_000 + "' holds ' '"
    shortened = rejected_inputs.shortened(line)
    assert len(shortened) <= rejected_inputs.MAX_LINE_CHARS
    assert shortened.startswith("words.txt line 1: 'xxx") and shortened.endswith("(cut; 5,000,030 characters in all)")
    assert rejected_inputs.shortened("a\nb") == "a b"


# Run in a fresh process: ru_maxrss is the process's peak resident memory (KiB on Linux), so the peak over
# the worst inputs, one after another, bounds what any one of them takes (TensorFlow's own included).
_PEAK_SCRIPT = """
import json, resource, sys
sys.path.insert(0, "tests")
from components import tf_setup
tf_setup.configure()
import odd_inputs
from components.example_gen.text_example_gen import _numbered_lines, _ReadLine
from components.models.images import ingest
from pipelines.images import ImageConfig
from pipelines.letters.config import LettersConfig

odd = odd_inputs.images()
images = {name: odd[name] for name in ("bomb-400-megapixels.png", "jpeg-claiming-3600-megapixels.jpg")}
images["just-under-the-pixel-cap.png"] = odd_inputs.png_bomb(7000, 7000)
for name, content in images.items():
    try:
        ingest.read(content, {"channels": 3, "max_pixels": ImageConfig().max_image_pixels})
    except ValueError:
        pass
letters = LettersConfig()
reader = _ReadLine(letters.example_reader, {"min_context": 1, "max_context": 10})
reader.setup()
for path in sys.argv[1:]:
    for line in _numbered_lines(path, "/", letters.max_line_bytes):
        list(reader.process(line))
print(json.dumps(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024))
"""


def test_no_bad_input_takes_3_gib(tmp_path):
    """A 400-megapixel PNG, a JPEG claiming 3,600 megapixels, one just under the pixel cap (used), a word list
    of one 52-million-character line and one of a 10-million-letter word, on the default settings."""
    paths = []
    for name in ("huge-line.txt", "huge-word.txt"):
        (tmp_path / name).write_bytes(word_lists()[name])
        paths.append(str(tmp_path / name))
    result = subprocess.run(
        [sys.executable, "-c", _PEAK_SCRIPT, *paths],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    peak = json.loads(result.stdout.strip().splitlines()[-1])
    assert peak < 3 * GiB, f"peak {peak / GiB:.2f} GiB"


def test_a_workdir_that_cannot_be_written_is_one_sentence_before_anything_starts(tmp_path):
    regular_file = tmp_path / "a-file"
    regular_file.write_text("not a folder")
    workdir = regular_file / "workdir"
    result = run_tfpipe("run", "iris", "--workdir", str(workdir))
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"tfpipe: workdir {workdir} cannot be written (Not a directory); give --workdir a folder this user can "
        "create and write in."
    )
    assert result.stdout == ""
    assert regular_file.read_text() == "not a folder"
