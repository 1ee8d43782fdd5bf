"""Shared fixtures. Pipeline runs are expensive (a minute each on 2 cores), so each
pipeline's run is made once per session and every end-to-end test reads from it. Runs
are tracked by a real `mlflow server` on localhost, also shared.

Every test is marked `unit` or `e2e` here: `e2e` when it needs a pipeline run (one of
PIPELINE_RUNS among its fixtures, or marked `e2e` itself because it runs `tfpipe run`),
`unit` otherwise. `make test-fast` runs the unit tests, `make test` all of them."""

import hashlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from components import tf_setup
from pipelines.outcome import RunOutcome

# The test session is an entry point: tests import TensorFlow directly.
tf_setup.configure()
# Tests choose their tracking store explicitly.
os.environ.pop("MLFLOW_TRACKING_URI", None)

REPO_ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent

# Few steps keep the run short; a hidden layer reaches the blessing threshold in them.
FAST_IRIS = ["--set", "train_steps=100", "--set", "model.hidden_units=16", "--set", "model.learning_rate=0.05"]


# Few steps keep the run short; the baseline CNN passes the blessing threshold (0.95) in them.
FAST_DIGITS = ["--set", "train_steps=400"]
# Added to a copy of the shipped digits for the shared run: an image cut short, a line naming no file.
CORRUPT_IMAGE = "images/corrupt.png"
MISSING_IMAGE = "images/missing.png"


# The session fixtures that run a pipeline, directly or through another.
PIPELINE_RUNS = {
    "iris_run",
    "iris_rerun",
    "rejected_runs",
    "stock_run",
    "digits_run",
    "mnist_run",
    "letters_run",
    "pronunciation_run",
    "spoken_digits_run",
    "cifar10_run",
    "fashion_mnist_run",
    "iris_search",
    "table_runs",
}


def pytest_collection_modifyitems(items):
    for item in items:
        if PIPELINE_RUNS & set(item.fixturenames) or item.get_closest_marker("e2e"):
            item.add_marker(pytest.mark.e2e)
        else:
            item.add_marker(pytest.mark.unit)


def run_tfpipe(*args: str, tracking_uri: str | None = None, fault: str | None = None) -> subprocess.CompletedProcess:
    """`tfpipe ARGS` as a user runs it: a real process, its console captured.
    `tracking_uri` sets MLFLOW_TRACKING_URI; without it runs go to the workdir's embedded store.
    `fault` sets TFPIPE_FAULT (components/faults.py)."""
    env = dict(os.environ)
    if tracking_uri:
        env["MLFLOW_TRACKING_URI"] = tracking_uri
    if fault:
        env["TFPIPE_FAULT"] = fault
    return subprocess.run(
        [str(BIN / "tfpipe"), *args], capture_output=True, text=True, cwd=REPO_ROOT, env=env, timeout=900
    )


def run_example_gen(config, output_dir: Path):
    """Runs `config`'s ExampleGen executor (its data folder checked first, as `tfpipe run` does) into
    an Examples artifact at `output_dir`, as the pipeline would; returns the artifact."""
    from google.protobuf import message
    from tfx.dsl.components.base.base_beam_executor import BaseBeamExecutor
    from tfx.types import standard_artifacts
    from tfx.utils import proto_utils

    from pipelines.beam_profiles import beam_pipeline_args

    config.check()
    component = config.example_gen()
    exec_properties = {
        key: proto_utils.proto_to_json(value) if isinstance(value, message.Message) else value
        for key, value in component.exec_properties.items()
    }
    examples = standard_artifacts.Examples()
    examples.uri = str(output_dir)
    executor = component.executor_spec.executor_class(BaseBeamExecutor.Context(beam_pipeline_args=beam_pipeline_args()))
    executor.Do({}, {"examples": [examples]}, exec_properties)
    return examples


def last_outcome(workdir: Path, pipeline: str) -> RunOutcome:
    """The record of the pipeline's newest run in the workdir."""
    runs = sorted((workdir / pipeline / "runs").iterdir())
    return RunOutcome.read(runs[-1])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_http(url: str, process: subprocess.Popen, seconds: float = 180) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args[:2]} exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"{url} did not answer in {seconds} s")


class PipelineRun:
    def __init__(self, workdir: Path, pipeline: str, process: subprocess.CompletedProcess):
        self.workdir = workdir
        self.process = process
        self.outcome = last_outcome(workdir, pipeline)


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory):
    """A real MLflow tracking server: sqlite backend, local artifact store, a free localhost port."""
    root = tmp_path_factory.mktemp("mlflow-server")
    port = free_port()
    log = (root / "server.log").open("w")
    process = subprocess.Popen(
        [
            str(BIN / "mlflow"),
            "server",
            "--backend-store-uri",
            f"sqlite:///{root / 'mlflow.db'}",
            "--artifacts-destination",
            str(root / "artifacts"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{url}/health", process)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


@pytest.fixture(scope="session")
def iris_run(tmp_path_factory, mlflow_server) -> PipelineRun:
    workdir = tmp_path_factory.mktemp("iris-workdir")
    process = run_tfpipe("run", "iris", "--workdir", str(workdir), *FAST_IRIS, tracking_uri=mlflow_server)
    assert process.returncode == 0, process.stdout + process.stderr
    return PipelineRun(workdir, "iris", process)


@pytest.fixture(scope="session")
def iris_rerun(iris_run: PipelineRun, mlflow_server) -> RunOutcome:
    """The same run again with --rerun: every component cached but those that run every time."""
    process = run_tfpipe(
        "run", "iris", "--workdir", str(iris_run.workdir), *FAST_IRIS, "--rerun", tracking_uri=mlflow_server
    )
    assert process.returncode == 0, process.stdout
    return last_outcome(iris_run.workdir, "iris")


def _bad_copy(tmp_path, edit) -> tuple:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    csv_path = data_dir / "iris.csv"
    shutil.copyfile(REPO_ROOT / "data" / "iris" / "iris.csv", csv_path)
    lines = csv_path.read_text().splitlines()
    csv_path.write_text("\n".join(edit(lines)) + "\n")
    return data_dir, hashlib.sha256(csv_path.read_bytes()).hexdigest()


def _text_in_numeric_column(lines):
    fields = lines[5].split(",")
    fields[0] = "five"  # sepal_length
    return [*lines[:5], ",".join(fields), *lines[6:]]


def _missing_column(lines):
    return [line.rsplit(",", 2)[0] + "," + line.rsplit(",", 1)[1] for line in lines]  # drops petal_width


BAD_DATA = {
    "text-in-numeric-column": (_text_in_numeric_column, "sepal_length", "Expected data of type: FLOAT but got STRING"),
    "missing-column": (_missing_column, "petal_width", "Column is completely missing"),
}


class RejectedRun:
    def __init__(self, data_dir, digest, workdir, process):
        self.data_dir, self.digest, self.workdir, self.process = data_dir, digest, workdir, process


@pytest.fixture(scope="session")
def rejected_runs(tmp_path_factory, mlflow_server) -> dict[str, RejectedRun]:
    """Each kind of bad data run once. The first is tracked by the shared MLflow server,
    the second by the workdir's embedded store (test_mlflow_tracking.py reads both)."""
    runs = {}
    for (name, (edit, _, _)), tracking_uri in zip(BAD_DATA.items(), (mlflow_server, None)):
        tmp_path = tmp_path_factory.mktemp(name)
        data_dir, digest = _bad_copy(tmp_path, edit)
        workdir = tmp_path / "workdir"
        process = run_tfpipe(
            "run", "iris", "--workdir", str(workdir), "--set", f"data_dir={data_dir}", tracking_uri=tracking_uri
        )
        runs[name] = RejectedRun(data_dir, digest, workdir, process)
    return runs


# A small real series: two stretches of the shipped Microsoft days as two tickers in one
# file, rows shuffled (input order must not matter); short windows and few steps.
STOCK_SERIES = {"MSFT": slice(-160, None), "MSFT1999": slice(3240, 3400)}
FAST_STOCK = [
    "--set",
    "window_days=10",
    "--set",
    "eval_days=20",
    "--set",
    "train_steps=60",
    "--set",
    "epochs=2",
    "--set",
    "eval_steps=3",
    "--set",
    "model.units=8,8",
    "--set",
    "model.batch_size=16",
]


def write_stock_sample(data_dir: Path) -> Path:
    import random

    lines = (REPO_ROOT / "data" / "stock" / "msft.csv").read_text().splitlines()
    header, days = lines[0], lines[1:]
    rows = [line.rsplit(",", 1)[0] + f",{ticker}" for ticker, part in STOCK_SERIES.items() for line in days[part]]
    random.Random(0).shuffle(rows)
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / "prices.csv"
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


@pytest.fixture(scope="session")
def stock_run(tmp_path_factory, mlflow_server) -> PipelineRun:
    root = tmp_path_factory.mktemp("stock")
    write_stock_sample(root / "data")
    workdir = root / "workdir"
    process = run_tfpipe(
        "run",
        "stock",
        "--workdir",
        str(workdir),
        "--set",
        f"data_dir={root / 'data'}",
        *FAST_STOCK,
        tracking_uri=mlflow_server,
    )
    assert process.returncode == 0, process.stdout + process.stderr
    return PipelineRun(workdir, "stock", process)


class DigitsRun(PipelineRun):
    def __init__(self, workdir: Path, data_dir: Path, process: subprocess.CompletedProcess):
        super().__init__(workdir, "digits", process)
        self.data_dir = data_dir


@pytest.fixture(scope="session")
def digits_run(tmp_path_factory) -> DigitsRun:
    """The digits pipeline on a copy of the shipped images plus a corrupt image and a labels line
    naming a missing one, which must be listed and left out; tracked in the workdir's embedded store."""
    root = tmp_path_factory.mktemp("digits")
    data_dir = root / "data"
    shutil.copytree(REPO_ROOT / "data" / "digits", data_dir)
    whole = (data_dir / "images" / "0000.png").read_bytes()
    (data_dir / CORRUPT_IMAGE).write_bytes(whole[: len(whole) // 2])
    with open(data_dir / "images.txt", "a") as labels:
        labels.write("corrupt.png 0\nmissing.png 1\n")
    workdir = root / "workdir"
    process = run_tfpipe("run", "digits", "--workdir", str(workdir), "--set", f"data_dir={data_dir}", *FAST_DIGITS)
    assert process.returncode == 0, process.stdout + process.stderr
    return DigitsRun(workdir, data_dir, process)


# Few steps keep the run short: LeNet5 reaches about 0.94 on the eval split in them (about four
# passes), so the run is blessed with this threshold (the default, 0.97, needs the default steps).
FAST_MNIST = [
    "--set",
    "train_steps=640",
    "--set",
    "epochs=2",
    "--set",
    "eval_steps=8",
    "--set",
    "blessing_threshold=0.9",
]


@pytest.fixture(scope="session")
def mnist_run(tmp_path_factory) -> PipelineRun:
    """The mnist pipeline on the shipped TFRecord files; tracked in the workdir's embedded store."""
    workdir = tmp_path_factory.mktemp("mnist") / "workdir"
    process = run_tfpipe("run", "mnist", "--workdir", str(workdir), *FAST_MNIST)
    assert process.returncode == 0, process.stdout + process.stderr
    return PipelineRun(workdir, "mnist", process)


# Every 10th shipped word (2,000 words, about 16,500 prefixes), few steps: the model still beats the
# bigram baseline on the eval split, at an accuracy below the default threshold (0.3).
FAST_LETTERS = [
    "--set",
    "train_steps=200",
    "--set",
    "epochs=2",
    "--set",
    "eval_steps=5",
    "--set",
    "model.batch_size=128",
    "--set",
    "blessing_threshold=0.25",
]
# Added to the sample: lines that are not one word of letters, which must be listed and left out.
BAD_WORD_LINES = ["ice cream", "don't"]


def write_letters_sample(data_dir: Path) -> list[str]:
    """The sample word list in `data_dir`, and a file the pipeline must not read (not *.txt); its words."""
    words = (REPO_ROOT / "data" / "letters" / "words.txt").read_text().split()[::10]
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "words.txt").write_text("".join(f"{line}\n" for line in [*words, *BAD_WORD_LINES]))
    (data_dir / "NOTES").write_text("not a word list\n")
    return words


class WordsRun(PipelineRun):
    """A run over a sample of the shipped words (letters, pronunciation): its data folder and the words."""

    def __init__(
        self, workdir: Path, pipeline: str, data_dir: Path, words: list[str], process: subprocess.CompletedProcess
    ):
        super().__init__(workdir, pipeline, process)
        self.data_dir = data_dir
        self.words = words


@pytest.fixture(scope="session")
def letters_run(tmp_path_factory) -> WordsRun:
    """The letters pipeline (default contexts, 1 to 10 letters) on a sample of the shipped words
    with two bad lines; tracked in the workdir's embedded store."""
    root = tmp_path_factory.mktemp("letters")
    words = write_letters_sample(root / "data")
    workdir = root / "workdir"
    process = run_tfpipe(
        "run", "letters", "--workdir", str(workdir), "--set", f"data_dir={root / 'data'}", *FAST_LETTERS
    )
    assert process.returncode == 0, process.stdout + process.stderr
    return WordsRun(workdir, "letters", root / "data", words, process)


# Every 50th word of the shipped dictionary (2,500 words, 250 held out), 200 steps: the model's phoneme
# error rate is already below both naive baselines', its word error rate far above the default
# threshold (0.3), so the threshold is lifted for the serving tests to get a pushed model.
FAST_PRONUNCIATION = [
    "--set",
    "train_steps=200",
    "--set",
    "epochs=2",
    "--set",
    "eval_steps=3",
    "--set",
    "model.batch_size=128",
    "--set",
    "blessing_threshold=1",
    "--set",
    "attention_maps=2",
]
# Added to the sample: dictionary lines the reader must list and leave out.
BAD_DICTIONARY_LINES = ["k8s\tK EY1 EY1 T S", "antidisestablishmentarianism\tAE2 N T AY0 D IH0 S AH0 S"]


@pytest.fixture(scope="session")
def pronunciation_run(tmp_path_factory) -> WordsRun:
    """The pronunciation pipeline on a sample of the shipped dictionary with two bad lines; tracked in
    the workdir's embedded store."""
    root = tmp_path_factory.mktemp("pronunciation")
    lines = (REPO_ROOT / "data" / "pronunciation" / "cmudict.tsv").read_text().splitlines()[::50]
    (root / "data").mkdir()
    (root / "data" / "cmudict.tsv").write_text("".join(f"{line}\n" for line in [*lines, *BAD_DICTIONARY_LINES]))
    workdir = root / "workdir"
    process = run_tfpipe(
        "run", "pronunciation", "--workdir", str(workdir), "--set", f"data_dir={root / 'data'}", *FAST_PRONUNCIATION
    )
    assert process.returncode == 0, process.stdout + process.stderr
    return WordsRun(workdir, "pronunciation", root / "data", [line.split("\t")[0] for line in lines], process)


# A sample of the shipped recordings: theo (the default eval speaker) and two voices trained on,
# eight recordings of each digit each (160 train, 80 eval), plus one cut short that must be listed
# and left out. Few steps keep the run near a minute; they do not reach the default threshold, so any
# accuracy is blessed and the serving tests get a pushed model.
SPOKEN_SPEAKERS = ("george", "jackson", "theo")
CUT_SHORT_RECORDING = "5_jackson_99.wav"
FAST_SPOKEN_DIGITS = [
    "--set",
    "train_steps=200",
    "--set",
    "epochs=2",
    "--set",
    "eval_steps=3",
    "--set",
    "blessing_threshold=0",
]


class SpokenDigitsRun(PipelineRun):
    def __init__(self, workdir: Path, data_dir: Path, process: subprocess.CompletedProcess):
        super().__init__(workdir, "spoken_digits", process)
        self.data_dir = data_dir


@pytest.fixture(scope="session")
def spoken_digits_run(tmp_path_factory) -> SpokenDigitsRun:
    """The spoken_digits pipeline on a sample of the shipped recordings plus a truncated one; split by
    speaker (theo held out); tracked in the workdir's embedded store."""
    root = tmp_path_factory.mktemp("spoken_digits")
    data_dir = root / "data"
    data_dir.mkdir()
    recordings = REPO_ROOT / "data" / "spoken_digits"
    for speaker in SPOKEN_SPEAKERS:
        for digit in range(10):
            for take in range(8):
                name = f"{digit}_{speaker}_{take}.wav"
                shutil.copyfile(recordings / name, data_dir / name)
    whole = (recordings / "5_jackson_9.wav").read_bytes()
    (data_dir / CUT_SHORT_RECORDING).write_bytes(whole[: len(whole) // 2])
    workdir = root / "workdir"
    process = run_tfpipe(
        "run", "spoken_digits", "--workdir", str(workdir), "--set", f"data_dir={data_dir}", *FAST_SPOKEN_DIGITS
    )
    assert process.returncode == 0, process.stdout + process.stderr
    return SpokenDigitsRun(workdir, data_dir, process)


def write_records_sample(source: Path, target: Path, every: int) -> int:
    """Every `every`-th tf.Example of each shipped TFRecord file in `source`, written under the same
    names in `target` (so the same layout gives the same splits); how many were written."""
    import tensorflow as tf

    target.mkdir(parents=True, exist_ok=True)
    written = 0
    for path in sorted(source.glob("*.tfrecord.gz")):
        records = tf.data.TFRecordDataset(str(path), compression_type="GZIP").shard(every, 0)
        with tf.io.TFRecordWriter(str(target / path.name), options="GZIP") as writer:
            for record in records:
                writer.write(record.numpy())
                written += 1
    return written


# A sample of the shipped images (every 25th: 2,000 or 2,400 train, 200 test) and few steps: far below
# the default threshold, so any accuracy is blessed and the serving and predict tests get a pushed model.
FAST_IMAGE_RECORDS = [
    "--set",
    "train_steps=120",
    "--set",
    "epochs=2",
    "--set",
    "eval_steps=4",
    "--set",
    "model.batch_size=64",
    "--set",
    "blessing_threshold=0",
]


def _image_records_run(tmp_path_factory, pipeline: str, every: int, fast: list[str]) -> PipelineRun:
    root = tmp_path_factory.mktemp(pipeline)
    write_records_sample(REPO_ROOT / "data" / pipeline, root / "data", every)
    workdir = root / "workdir"
    process = run_tfpipe("run", pipeline, "--workdir", str(workdir), "--set", f"data_dir={root / 'data'}", *fast)
    assert process.returncode == 0, process.stdout + process.stderr
    return PipelineRun(workdir, pipeline, process)


@pytest.fixture(scope="session")
def cifar10_run(tmp_path_factory) -> PipelineRun:
    """The cifar10 pipeline (its default model and precision) on a sample of the shipped photos;
    tracked in the workdir's embedded store."""
    return _image_records_run(tmp_path_factory, "cifar10", 25, FAST_IMAGE_RECORDS)


@pytest.fixture(scope="session")
def fashion_mnist_run(tmp_path_factory) -> PipelineRun:
    """The fashion_mnist pipeline on a sample of the shipped images (every 25th: 2,400 train, 200 test)."""
    return _image_records_run(tmp_path_factory, "fashion_mnist", 25, FAST_IMAGE_RECORDS)


# Few steps: both tables' models still beat their naive baselines in them.
FAST_TABLE = ["--set", "train_steps=300", "--set", "epochs=3", "--set", "eval_steps=5"]


class TableRuns:
    """The table pipeline run twice in one workdir, under two names: wine (the shipped table, its label
    text: a classification) and diabetes (the shipped table with `sex` written as text, so a text
    column goes through a vocabulary: a regression)."""

    def __init__(self, workdir: Path, diabetes_dir: Path, wine: PipelineRun, diabetes: PipelineRun):
        self.workdir, self.diabetes_dir, self.wine, self.diabetes = workdir, diabetes_dir, wine, diabetes


def write_diabetes_with_text_column(data_dir: Path) -> None:
    """The shipped diabetes table with its `sex` column (1 or 2) written as text: `sex_1`, `sex_2`."""
    header, *rows = (REPO_ROOT / "data" / "tables" / "diabetes" / "diabetes.csv").read_text().splitlines()
    column = header.split(",").index("sex")
    lines = [header]
    for row in rows:
        fields = row.split(",")
        fields[column] = f"sex_{int(float(fields[column]))}"
        lines.append(",".join(fields))
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "diabetes.csv").write_text("\n".join(lines) + "\n")


@pytest.fixture(scope="session")
def table_runs(tmp_path_factory) -> TableRuns:
    root = tmp_path_factory.mktemp("table")
    workdir, diabetes_dir = root / "workdir", root / "diabetes"
    write_diabetes_with_text_column(diabetes_dir)
    runs = {}
    for name, data_dir, label in (
        ("wine", REPO_ROOT / "data" / "tables" / "wine", "cultivar"),
        ("diabetes", diabetes_dir, "progression"),
    ):
        process = run_tfpipe(
            "run", "table", "--name", name, "--workdir", str(workdir), "--set", f"data_dir={data_dir}",
            "--set", f"label={label}", *FAST_TABLE,
        )  # fmt: skip
        assert process.returncode == 0, process.stdout + process.stderr
        runs[name] = PipelineRun(workdir, name, process)
    return TableRuns(workdir, diabetes_dir, runs["wine"], runs["diabetes"])
