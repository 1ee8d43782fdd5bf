"""Named pipelines (pipelines/named.py): a shipped pipeline's code over a user's own data under a name of
their own, with class names read from the data, never touching the shipped pipeline's models."""

import hashlib
import json
from pathlib import Path

import pytest
from conftest import REPO_ROOT, PipelineRun, last_outcome, run_tfpipe

from components.example_gen import layouts
from pipelines import files, named
from pipelines.config import ConfigError, apply_overrides, apply_settings
from pipelines.factory import create_pipeline
from pipelines.fashion_mnist.config import FashionMnistConfig
from pipelines.mnist.config import MnistConfig
from pipelines.outcome import RunOutcome
from pipelines.registry import UnknownPipelineError, config_for
from pipelines.run import label_change
from pipelines.spoken_digits.config import SpokenDigitsConfig
from pipelines.workdir import Workdir

# A name is a folder, an experiment and a served model: some cannot be one.
BAD_NAMES = {
    "mnist": "is a shipped pipeline",
    "serving": "keeps its serving folder",
    "My Fashion": "expected a lower-case letter",
    "../elsewhere": "expected a lower-case letter",
}


def _touch(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")


@pytest.mark.unit
@pytest.mark.parametrize("name", BAD_NAMES)
def test_a_name_that_cannot_be_a_pipeline_is_refused(tmp_path, name):
    with pytest.raises(ConfigError, match=BAD_NAMES[name]):
        named.define(tmp_path, name, "mnist", [])


@pytest.mark.unit
def test_a_name_is_kept_to_the_pipeline_it_was_first_based_on(tmp_path):
    named.write(tmp_path, named.define(tmp_path, "mine", "mnist", [("train_steps", "10")]))
    with pytest.raises(ConfigError, match="already has mine, based on mnist"):
        named.define(tmp_path, "mine", "digits", [])
    # Named again on the same pipeline, it is defined anew.
    named.write(tmp_path, named.define(tmp_path, "mine", "mnist", [("train_steps", "20")]))
    config_class, settings = named.pipeline(tmp_path, "mine")
    config = apply_settings(config_class(), settings)
    assert (config.name, config.shipped_name, config.train_steps) == ("mine", "mnist", 20)
    assert config.schema_path == MnistConfig().schema_path


@pytest.mark.unit
def test_an_unknown_name_lists_the_shipped_and_the_named_pipelines(tmp_path):
    named.write(tmp_path, named.define(tmp_path, "mine", "mnist", []))
    with pytest.raises(UnknownPipelineError) as raised:
        named.pipeline(tmp_path, "minr")
    assert "known pipelines: cifar10" in str(raised.value)
    assert "named in this workdir: mine" in str(raised.value)


@pytest.mark.unit
def test_class_names_are_read_from_class_folders_only_when_the_user_named_the_data(tmp_path):
    for split in ("train", "test"):
        for name in ("zebra", "ant", "Moth"):
            _touch(tmp_path / split / name / "1.png")
    config = apply_settings(MnistConfig(), [("data_dir", str(tmp_path))])
    assert config.read_from_data({"data_dir"}) == [("class_names", "Moth,ant,zebra")]
    assert config.read_from_data({"data_dir", "class_names"}) == []
    assert MnistConfig().read_from_data(set()) == []


@pytest.mark.unit
def test_class_folders_the_class_names_do_not_name_are_refused_with_the_fix(tmp_path):
    for name in ("Ankle boot", "Bag"):
        _touch(tmp_path / name / "1.png")
    config = apply_settings(MnistConfig(), [("data_dir", str(tmp_path))])
    with pytest.raises(ConfigError) as raised:
        config.check()
    message = str(raised.value)
    assert "none of its class folders (Ankle boot, Bag) is one of class_names (0,1,2,3,4,5,6,7,8,9)" in message
    assert "--set 'class_names=Ankle boot,Bag'" in message


@pytest.mark.unit
def test_named_files_give_their_speakers(tmp_path):
    for name in ("0_ana_1.wav", "1_ana_2.wav", "1_bo_1.wav", "notes.wav"):
        _touch(tmp_path / name)
    layout = layouts.detect(tmp_path)
    # A file whose name starts with no class is one bad input (left out), not a class.
    assert layouts.class_names_found(tmp_path, layout) is None
    assert layouts.name_field_values(tmp_path, layout, 1) == ("ana", "bo")
    config = apply_settings(SpokenDigitsConfig(), [("data_dir", str(tmp_path))])
    with pytest.raises(ConfigError, match="no recordings of theo; its file names give the speakers ana, bo"):
        config.check()
    apply_settings(config, [("eval_speakers", "bo")]).check()


@pytest.mark.unit
def test_class_folders_give_the_speakers_of_names_that_start_with_the_folder(tmp_path):
    """A user's WAVs in class folders: speakers read from `<folder>_<speaker>_<take>.wav`, as the ExampleGen
    reads them, and names that give none refused before TensorFlow loads, not by an empty eval split."""
    for name in ("zero/zero_ana_1.wav", "zero/zero_bo_2.wav", "t_shirt/t_shirt_cy_1.wav", "t_shirt/0_dan_1.wav"):
        _touch(tmp_path / "words" / name)
    layout = layouts.detect(tmp_path / "words")
    assert layouts.name_field_values(tmp_path / "words", layout, 1) == ("ana", "bo", "cy")
    config = apply_settings(SpokenDigitsConfig(), [("data_dir", str(tmp_path / "words"))])
    apply_settings(config, [("class_names", "t_shirt,zero"), ("eval_speakers", "cy")]).check()

    for name in ("zero/0_george_1.wav", "one/1_george_2.wav"):  # FSDD's names, moved into word folders
        _touch(tmp_path / "fsdd_names" / name)
    config = apply_settings(SpokenDigitsConfig(), [("data_dir", str(tmp_path / "fsdd_names"))])
    with pytest.raises(ConfigError, match="no file name in data folder .* gives a speaker; .* seven_george_12.wav"):
        apply_settings(config, [("class_names", "one,zero")]).check()


@pytest.mark.unit
def test_the_label_domain_of_the_schema_fits_the_number_of_classes():
    from pipelines.factory import _schema_for_classes

    shipped = MnistConfig()
    assert _schema_for_classes(shipped) == shipped.schema_path.read_bytes()
    twelve = apply_settings(shipped, [("class_names", ",".join("abcdefghijkl"))])
    assert "max: 11" in _schema_for_classes(twelve).decode()


def test_a_bad_definition_exits_2_and_records_nothing(tmp_path):
    _touch(tmp_path / "data" / "Bag" / "1.png")
    workdir = tmp_path / "workdir"
    process = run_tfpipe(
        "run", "mnist", "--name", "mine", "--workdir", str(workdir), "--set", f"data_dir={tmp_path / 'data'}"
    )
    assert process.returncode == 2, process.stdout + process.stderr
    assert "expected two or more different names" in process.stderr
    assert not (workdir / "mine" / named.RECORD).exists()


def _fashion_class_folders(target: Path, every: int) -> tuple[str, ...]:
    """Every `every`-th shipped Fashion-MNIST image as PNG files in class folders named as the classes are
    (a `/` is no folder name's), train/ and test/ as the shipped splits; the folder names."""
    import tensorflow as tf

    names = [name.replace("/", " or ") for name in FashionMnistConfig().class_names]
    for split in ("train", "test"):
        source = REPO_ROOT / "data" / "fashion_mnist" / f"fashion_mnist_{split}.tfrecord.gz"
        for index, record in enumerate(tf.data.TFRecordDataset(str(source), compression_type="GZIP").shard(every, 0)):
            feature = tf.train.Example.FromString(record.numpy()).features.feature
            folder = target / split / names[feature["label"].int64_list.value[0]]
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"{index}.png").write_bytes(feature["image"].bytes_list.value[0])
    return tuple(sorted(names))


def _served(workdir: Path, model: str) -> dict[str, str]:
    return {
        str(path.relative_to(workdir)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted((workdir / "serving" / model).rglob("*"))
        if path.is_file()
    }


def test_a_named_variant_of_mnist_never_touches_the_mnist_model(mnist_run: PipelineRun, tmp_path):
    """The case a user met: Fashion-MNIST class folders run on the mnist pipeline's code in a workdir that
    had run mnist; the fashion model was blessed against the digits model and replaced it."""
    workdir = mnist_run.workdir
    mnist_served = _served(workdir, "mnist")
    class_names = _fashion_class_folders(tmp_path / "fashion", every=100)
    small = ["--set", "train_steps=40", "--set", "epochs=1", "--set", "eval_steps=2", "--set", "blessing_threshold=0"]

    process = run_tfpipe(
        "run", "mnist", "--name", "my_fashion", "--workdir", str(workdir), "--set", f"data_dir={tmp_path / 'fashion'}",
        *small,
    )  # fmt: skip

    assert process.returncode == 0, process.stdout + process.stderr
    assert f"class_names={','.join(class_names)} (read from" in process.stdout
    outcome = last_outcome(workdir, "my_fashion")
    assert (outcome.pipeline, outcome.based_on, outcome.results.blessed) == ("my_fashion", "mnist", True)
    assert (outcome.label_key, outcome.label_classes, outcome.not_compared) == ("label", list(class_names), None)
    assert _served(workdir, "mnist") == mnist_served
    assert len(list((workdir / "serving" / "my_fashion").iterdir())) == 1
    record = json.loads((workdir / "my_fashion" / named.RECORD).read_text())
    assert record["based_on"] == "mnist"

    image = next((tmp_path / "fashion" / "test" / class_names[0]).iterdir())
    fashion_answer = run_tfpipe("predict", "my_fashion", str(image), "--workdir", str(workdir))
    digit_answer = run_tfpipe("predict", "mnist", str(image), "--workdir", str(workdir))
    assert fashion_answer.returncode == digit_answer.returncode == 0, fashion_answer.stderr + digit_answer.stderr
    assert fashion_answer.stdout.split(": ", 1)[1].split(" (")[0] in class_names
    assert digit_answer.stdout.split(": ", 1)[1].split(" (")[0] in MnistConfig().class_names

    # By its name, with the settings that defined it: the same run, so nothing to do.
    again = run_tfpipe("run", "my_fashion", "--workdir", str(workdir))
    assert again.returncode == 0, again.stdout + again.stderr
    assert "up to date, nothing run" in again.stdout
    listed = run_tfpipe("list", "--workdir", str(workdir))
    (line,) = [line for line in listed.stdout.splitlines() if line.startswith("my_fashion ")]
    assert line.endswith(f"Named pipeline on mnist's code and defaults. Data: {tmp_path / 'fashion'}")
    runs = run_tfpipe("runs", "my_fashion", "--workdir", str(workdir))
    assert "my_fashion" in runs.stdout and "sparse_categorical_accuracy" in runs.stdout


def _blessed_record(workdir: Path, stamp: str, classes: list[str]) -> None:
    run_dir = workdir / "mnist" / "runs" / stamp
    run_dir.mkdir(parents=True)
    (run_dir / "run.log").write_text("")
    outcome = RunOutcome(pipeline="mnist", status="succeeded", label_key="label", label_classes=classes)
    outcome.results.blessed = True
    outcome.write(run_dir)


@pytest.mark.unit
def test_a_model_of_other_classes_is_not_compared_with_the_latest_blessed_one(tmp_path):
    digits = list(MnistConfig().class_names)
    fashion = ["ankle_boot", "bag", "coat", "dress", "pullover", "sandal", "shirt", "sneaker", "trouser", "t_shirt"]
    _blessed_record(tmp_path, "20261201-090000", fashion)
    _blessed_record(tmp_path, "20261202-090000", digits)
    workdir = Workdir(tmp_path, "mnist")

    def candidate(classes: list[str], label_key: str = "label") -> RunOutcome:
        return RunOutcome(pipeline="mnist", status="succeeded", label_key=label_key, label_classes=classes)

    assert label_change(candidate(digits), workdir) is None
    sentence = label_change(candidate(fashion), workdir)
    assert sentence is not None
    assert sentence.startswith("The latest blessed mnist model (run 20261202-090000) answers label with 10 classes")
    assert "(ankle_boot, bag, coat, dress, pullover, ...)" in sentence and "--name NAME" in sentence
    assert "species" in (label_change(candidate(digits, label_key="species"), workdir) or "")
    # A record older than label records is compared as before.
    _blessed_record(tmp_path, "20261203-090000", digits)
    record = tmp_path / "mnist" / "runs" / "20261203-090000" / "summary.json"
    record.write_text(
        json.dumps({key: value for key, value in json.loads(record.read_text()).items() if "label" not in key})
    )
    assert label_change(candidate(fashion), workdir) is None


@pytest.mark.unit
@pytest.mark.parametrize("compare", [True, False])
def test_a_run_not_compared_has_no_baseline_and_no_warm_start(tmp_path, compare):
    config = apply_overrides(config_for("mnist"), ["warm_start=true"])
    pipeline = create_pipeline(
        config, str(tmp_path / "root"), str(tmp_path / "serving"), "sqlite:///unused.db", compare_with_blessed=compare
    )
    nodes = {node.id: node for node in pipeline.components}
    resolvers = {"baseline_model_resolver", "warm_start_model_resolver"}
    assert (resolvers <= set(nodes)) is compare and (resolvers & set(nodes) == set()) is not compare
    assert ("baseline_model" in nodes["Evaluator"].inputs) is compare
    assert ("base_model" in nodes["Trainer"].inputs) is compare


@pytest.mark.unit
def test_class_names_found_ignores_layouts_whose_labels_are_inside_files(tmp_path):
    (tmp_path / "labels.txt").write_text("1.png cat\n")
    assert layouts.class_names_found(tmp_path, files.detect_layout(tmp_path)) is None
