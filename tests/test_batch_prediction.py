"""`tfpipe predict PIPELINE --batch FOLDER_OR_FILE --output CSV` (issue 31): inputs scored through Beam
(components/batch_prediction.py), one row per input in the inputs' order, the same lines as `tfpipe predict`
prints for each input alone, for every pipeline's pushed model (the session's runs); a bad input is one
sentence and nothing written."""

import csv
import json
import shutil
from pathlib import Path

import pytest
from conftest import FAST_IRIS, REPO_ROOT, last_outcome, run_tfpipe

from components.batch_prediction import HEADER, predict_to_csv
from pipelines.config import UNLABELLED_EXAMPLE_GEN, ConfigError
from pipelines.outcome import RunOutcome, RunResults
from pipelines.registry import PIPELINES
from tfpipe.run_view import summary_lines


def _shouting_lines():
    def lines(inputs: list[str]) -> list[str]:
        for text in inputs:
            if not text:
                raise ValueError("an empty input")
        return [text.upper() for text in inputs]

    return lines


def _rows(path: Path) -> list[list[str]]:
    with path.open(newline="") as f:
        return list(csv.reader(f))


def test_every_input_gets_a_row_in_the_inputs_order(tmp_path):
    inputs = [f"word {number}, with a comma" for number in range(200)]
    output = tmp_path / "predictions.csv"
    assert predict_to_csv(inputs, _shouting_lines, output, batch_size=7) == 200
    rows = _rows(output)
    assert rows[0] == list(HEADER)
    assert rows[1:] == [[str(row), text, text.upper()] for row, text in enumerate(inputs)]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["predictions.csv"]


def test_a_failed_batch_raises_and_leaves_the_output_as_it_was(tmp_path):
    output = tmp_path / "predictions.csv"
    output.write_text("an earlier file\n")
    with pytest.raises(ValueError, match="an empty input"):
        predict_to_csv(["fine", "", "fine too"], _shouting_lines, output)
    assert output.read_text() == "an earlier file\n"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["predictions.csv"]


def _batch(pipeline: str, tmp_path: Path) -> tuple[Path, list[str], list[str]]:
    """(what --batch names, the same inputs as `tfpipe predict` takes them alone, --set arguments)."""
    images = REPO_ROOT / "data" / "digits" / "images"
    folder = tmp_path / "inputs"
    folder.mkdir()
    if pipeline == "iris":
        rows = ["5.0,3.4,1.5,0.2,setosa", "6.7,3.0,5.2,2.3,virginica"]
        path = tmp_path / "flowers.csv"
        path.write_text("\n".join(["sepal_length,sepal_width,petal_length,petal_width,species", *rows]) + "\n")
        names = ("sepal_length", "sepal_width", "petal_length", "petal_width")
        return path, [",".join(f"{k}={v}" for k, v in zip(names, row.split(","))) for row in rows], []
    if pipeline == "letters":
        path = tmp_path / "prefixes.txt"
        path.write_text("hel\n\n  tensorflo \n")
        return path, ["hel", "tensorflo"], []
    if pipeline == "pronunciation":
        path = tmp_path / "words.txt"
        path.write_text("kubeflow\n\n  tensorflow \n")
        return path, ["kubeflow", "tensorflow"], []
    if pipeline == "table":  # the wine table's first rows, its label column among them (left out)
        header, *rows = (REPO_ROOT / "data" / "tables" / "wine" / "wine.csv").read_text().splitlines()[:3]
        path = tmp_path / "wines.csv"
        path.write_text("\n".join([header, *rows]) + "\n")
        names = header.split(",")
        inputs = [",".join(f"{k}={v}" for k, v in zip(names, row.split(",")) if k != "cultivar") for row in rows]
        return path, inputs, []
    if pipeline == "stock":
        header, *days = (REPO_ROOT / "data" / "stock" / "msft.csv").read_text().splitlines()
        for name, count in (("recent.csv", 15), ("longer.csv", 40)):
            (folder / name).write_text("\n".join([header, *days[-count:]]) + "\n")
        return folder, [], ["window_days=10"]  # FAST_STOCK's window
    sources = (
        [REPO_ROOT / "data" / "spoken_digits" / name for name in ("0_george_0.wav", "7_george_3.wav")]
        if pipeline == "spoken_digits"
        else [images / "0000.png", images / "0007.png"]
    )
    for source in sources:
        shutil.copyfile(source, folder / source.name)
    return folder, [], []


@pytest.mark.e2e
@pytest.mark.parametrize("pipeline", sorted(PIPELINES))
def test_batch_predictions_are_the_single_predictions_for_every_pipeline(pipeline, request, tmp_path):
    # The table pipeline runs under names only: the wine table's.
    run = (
        request.getfixturevalue("table_runs").wine
        if pipeline == "table"
        else request.getfixturevalue(f"{pipeline}_run")
    )
    name = "wine" if pipeline == "table" else pipeline
    batch, inputs, overrides = _batch(pipeline, tmp_path)
    inputs = inputs or sorted(str(path) for path in batch.iterdir())
    settings = [arg for override in overrides for arg in ("--set", override)]
    output = tmp_path / "predictions.csv"
    batched = run_tfpipe(
        "predict", name, "--batch", str(batch), "--output", str(output), "--workdir", str(run.workdir), *settings
    )
    assert batched.returncode == 0, batched.stdout + batched.stderr
    assert batched.stdout == f"Wrote {len(inputs)} prediction(s) to {output}\n"
    single = run_tfpipe("predict", name, *inputs, "--workdir", str(run.workdir), *settings)
    assert single.returncode == 0, single.stderr
    rows = _rows(output)
    assert rows[0] == list(HEADER)
    assert [f"{text}: {prediction}" for _, text, prediction in rows[1:]] == single.stdout.splitlines()


@pytest.mark.e2e
def test_a_row_the_model_cannot_take_is_one_sentence_and_nothing_is_written(iris_run, tmp_path):
    flowers = tmp_path / "flowers.csv"
    flowers.write_text("sepal_length,sepal_width,petal_length,petal_width\n5.1,3.5,1.4,0.2\nfive,3.0,1.4,0.2\n")
    output = tmp_path / "predictions.csv"
    result = run_tfpipe(
        "predict", "iris", "--batch", str(flowers), "--output", str(output), "--workdir", str(iris_run.workdir)
    )
    assert result.returncode == 2
    assert result.stderr.startswith(f"tfpipe: --batch {flowers}: 'sepal_length=five,")
    assert len(result.stderr.strip().splitlines()) == 1
    assert sorted(path.name for path in tmp_path.iterdir()) == ["flowers.csv"]
    no_header = tmp_path / "numbers.csv"
    no_header.write_text("5.1,3.5,1.4,0.2\n")
    result = run_tfpipe("predict", "iris", "--batch", str(no_header), "--workdir", str(iris_run.workdir))
    assert result.returncode == 2
    assert "its header names no sepal_length, sepal_width, petal_length, petal_width" in result.stderr


# Iris rows without the species column: what the DAG's BulkInferrer scores (bulk_inference_dir).
_MEASUREMENTS = ("sepal_length", "sepal_width", "petal_length", "petal_width")
_UNLABELLED_FLOWERS = ("5.1,3.5,1.4,0.2", "6.4,3.2,4.5,1.5", "6.7,3.0,5.2,2.3", "4.9,3.1,1.5,0.1")


def _unlabelled_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "unlabelled"
    folder.mkdir()
    (folder / "flowers.csv").write_text("\n".join([",".join(_MEASUREMENTS), *_UNLABELLED_FLOWERS]) + "\n")
    return folder


def _prediction_logs(folder: str) -> dict[tuple[float, ...], str]:
    """The BulkInferrer's PredictionLogs: each scored example's measurements -> the species predicted
    (its class index named as the config names it)."""
    import tensorflow as tf
    from tensorflow_serving.apis import prediction_log_pb2

    predicted = {}
    files = [str(path) for path in Path(folder).glob("prediction_logs-*.gz")]
    for record in tf.data.TFRecordDataset(files, compression_type="GZIP").as_numpy_iterator():
        log = prediction_log_pb2.PredictionLog.FromString(record).predict_log
        (request,) = log.request.inputs.values()
        example = tf.train.Example.FromString(request.string_val[0])
        measurements = tuple(round(example.features.feature[key].float_list.value[0], 1) for key in _MEASUREMENTS)
        species = PIPELINES["iris"]().label_class_names()
        predicted[measurements] = species[log.response.outputs["class_id"].int64_val[0]]
    return predicted


@pytest.mark.e2e
def test_the_dag_bulk_inferrer_scores_every_unlabelled_row_as_tfpipe_predict_does(tmp_path):
    workdir = tmp_path / "workdir"
    unlabelled = _unlabelled_folder(tmp_path)
    run = run_tfpipe("run", "iris", "--workdir", str(workdir), *FAST_IRIS, "--set", f"bulk_inference_dir={unlabelled}")
    assert run.returncode == 0, run.stdout + run.stderr
    outcome = last_outcome(workdir, "iris")
    assert outcome.components[UNLABELLED_EXAMPLE_GEN].status == outcome.components["BulkInferrer"].status == "done"
    folder = outcome.results.inference_result
    assert folder and f"Bulk inference (BulkInferrer, PredictionLogs): {folder}" in run.stdout
    predicted = _prediction_logs(folder)
    rows = [tuple(float(value) for value in row.split(",")) for row in _UNLABELLED_FLOWERS]
    assert sorted(predicted) == sorted(rows)  # one PredictionLog per row
    inputs = [
        ",".join(f"{key}={value}" for key, value in zip(_MEASUREMENTS, row.split(","))) for row in _UNLABELLED_FLOWERS
    ]
    single = run_tfpipe("predict", "iris", *inputs, "--workdir", str(workdir))
    assert single.returncode == 0, single.stderr
    # `<input>: <species> (probability p)`, a line per input in order.
    species = [line.split(": ", 1)[1].split(" (")[0] for line in single.stdout.splitlines()]
    assert [predicted[row] for row in rows] == species


def test_bulk_inference_is_refused_where_examples_are_not_csv_rows():
    config = PIPELINES["stock"]()
    config.bulk_inference_dir = "data/iris"
    with pytest.raises(ConfigError) as refused:
        config.check_values()
    assert str(refused.value) == (
        "--set bulk_inference_dir: the DAG's BulkInferrer scores CSV rows with a signature of numbers out, which "
        "stock has not (iris has); score its inputs with tfpipe predict stock --batch instead."
    )


def test_bulk_inference_needs_a_folder_of_csv_files(tmp_path):
    config = PIPELINES["iris"]()
    config.bulk_inference_dir = str(tmp_path / "missing")
    with pytest.raises(ConfigError, match=r"^--set bulk_inference_dir: folder .*missing does not exist; expected"):
        config.check()
    (tmp_path / "notes.txt").write_text("not a table\n")
    config.bulk_inference_dir = str(tmp_path)
    with pytest.raises(ConfigError, match=r"^--set bulk_inference_dir: data folder .* holds no CSV file"):
        config.check()
    config.bulk_inference_dir = str(_unlabelled_folder(tmp_path))
    config.check()


@pytest.mark.e2e  # loads TFX and builds the pipeline: seconds, not a unit test
def test_the_kubeflow_spec_carries_the_bulk_inferrer(tmp_path):
    output = tmp_path / "spec.json"
    result = run_tfpipe(
        "compile",
        "iris",
        "--target",
        "kubeflow",
        "--image",
        "registry.example/tfpipe:test",
        "--output",
        str(output),
        "--set",
        "bulk_inference_dir=data/unlabelled",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    tasks = json.loads(output.read_text())["pipelineSpec"]["root"]["dag"]["tasks"]
    assert set(tasks["BulkInferrer"]["dependentTasks"]) == {UNLABELLED_EXAMPLE_GEN, "Trainer", "Evaluator"}
    # A relative folder is the image's copy, as the shipped data_dir is.
    input_base = tasks[UNLABELLED_EXAMPLE_GEN]["inputs"]["parameters"]["input_base"]
    assert input_base["runtimeValue"]["constantValue"]["stringValue"] == "/tfpipe/data/unlabelled"


def test_the_summary_says_an_unblessed_model_scored_nothing():
    results = RunResults(blessed=False, blessing_failures=["accuracy 0.5 below 0.9"], inference_result="")
    lines = summary_lines(RunOutcome("iris", "succeeded", seconds=60.0, results=results), "tfpipe ui")
    assert "Bulk inference (BulkInferrer): none, the model is not blessed" in lines
    without_key = summary_lines(RunOutcome("iris", "succeeded", seconds=60.0, results=RunResults()), "tfpipe ui")
    assert not [line for line in without_key if line.startswith("Bulk inference")]
