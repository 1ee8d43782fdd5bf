"""The iris pipeline end to end through the real CLI: every standard component, the
pushed SavedModel called with raw measurements, caching, and bad data stopped at the gate."""

import hashlib
from pathlib import Path

import pytest
import tensorflow as tf
from conftest import BAD_DATA, FAST_IRIS, PipelineRun, last_outcome, run_tfpipe

from components.models.iris import features

COMPONENTS = [
    "CsvExampleGen",
    "ImportSchemaGen",
    "StatisticsGen",
    "ExampleValidator",
    "accepted_statistics_resolver",
    "DataValidationGate",
    "Transform",
    "Trainer",
    "baseline_model_resolver",
    "Evaluator",
    "InfraValidator",
    "Pusher",
    "MlflowTracker",
]
# Never cached: the resolver nodes, and the two components that record the run in MLflow.
RUN_EVERY_TIME = {"baseline_model_resolver", "accepted_statistics_resolver", "DataValidationGate", "MlflowTracker"}


def _example(measurements: dict) -> bytes:
    feature = {
        key: tf.train.Feature(float_list=tf.train.FloatList(value=[value])) for key, value in measurements.items()
    }
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def test_console_shows_one_line_per_component_and_a_summary(iris_run: PipelineRun):
    console = iris_run.process.stdout
    for name in COMPONENTS:
        [line] = [line for line in console.splitlines() if line.split()[:1] == [name]]
        assert line.split()[1] == "done" and line.endswith(" s"), line
    assert "Run succeeded" in console
    assert "sparse_categorical_accuracy" in console
    assert "Blessed: yes" in console
    assert f"Pushed model: {iris_run.outcome.results.pushed_model}" in console
    # The data statistics page is in the run folder, beside summary.json, and the console names it.
    page = Path(iris_run.outcome.results.statistics_page)
    assert page == Path(iris_run.outcome.log).parent / "statistics.html"
    assert "petal_length" in page.read_text() and "No anomalies" in page.read_text()
    assert "<h2>Classes of species</h2>" in page.read_text() and "virginica" in page.read_text()
    assert f"Data statistics and anomalies: {page}" in console
    # The TF/TFX log went to the file, not the console.
    assert "INFO:absl" not in console + iris_run.process.stderr
    assert "Component Trainer is running" in Path(iris_run.outcome.log).read_text()


def test_metrics_are_reported_overall_and_per_species(iris_run: PipelineRun):
    metrics = iris_run.outcome.results.metrics
    # TFMA slices on the label's class index; the summary names each species.
    assert list(metrics) == ["overall", *(f"species={name}" for name in features.SPECIES_NAMES)]
    assert metrics["overall"]["sparse_categorical_accuracy"] >= 0.9
    per_species = sum(metrics[f"species={name}"]["example_count"] for name in features.SPECIES_NAMES)
    assert per_species == metrics["overall"]["example_count"]


def test_pushed_model_is_in_tf_serving_layout(iris_run: PipelineRun):
    serving = iris_run.workdir / "serving" / "iris"
    [version] = list(serving.iterdir())
    assert version.name.isdigit()
    assert (version / "saved_model.pb").is_file()
    assert iris_run.outcome.results.pushed_model == str(version)


def test_pushed_model_predicts_species_from_raw_measurements(iris_run: PipelineRun):
    model = tf.saved_model.load(iris_run.outcome.results.pushed_model)
    serve = model.signatures["serving_default"]
    rows = {  # Real rows of data/iris/iris.csv, in centimetres.
        "setosa": dict(sepal_length=5.0, sepal_width=3.4, petal_length=1.5, petal_width=0.2),
        "versicolor": dict(sepal_length=5.7, sepal_width=2.8, petal_length=4.1, petal_width=1.3),
        "virginica": dict(sepal_length=6.7, sepal_width=3.0, petal_length=5.2, petal_width=2.3),
    }
    outputs = serve(examples=tf.constant([_example(row) for row in rows.values()]))
    assert [name.decode() for name in outputs["species"].numpy()] == list(rows)
    assert outputs["probabilities"].shape == (3, len(features.SPECIES_NAMES))
    assert list(outputs["class_id"].numpy()) == [0, 1, 2]


def test_the_run_folder_links_the_trainers_tensorboard_events(iris_run: PipelineRun):
    link = Path(iris_run.outcome.results.tensorboard)
    assert link.is_symlink() and link.parent == Path(iris_run.outcome.log).parent
    assert list((link / "train").glob("events.out.tfevents.*")), list(link.iterdir())
    assert f"TensorBoard: tensorboard --logdir {iris_run.workdir / 'iris' / 'runs'}" in iris_run.process.stdout


def test_unchanged_rerun_is_cached_end_to_end(iris_run: PipelineRun, iris_rerun: dict):
    statuses = {name: component.status for name, component in iris_rerun.components.items()}
    assert {statuses.pop(name) for name in RUN_EVERY_TIME} == {"done"}
    assert set(statuses.values()) == {"cached"}, statuses
    # Nothing was pushed again.
    assert len(list((iris_run.workdir / "serving" / "iris").iterdir())) == 1


def test_unchanged_run_says_so_before_loading_tensorflow(iris_run: PipelineRun, mlflow_server):
    runs = sorted((iris_run.workdir / "iris" / "runs").iterdir())
    result = run_tfpipe("run", "iris", "--workdir", str(iris_run.workdir), *FAST_IRIS, tracking_uri=mlflow_server)
    assert result.returncode == 0, result.stdout + result.stderr
    (line,) = result.stdout.splitlines()
    assert line.startswith("tfpipe run iris: up to date, nothing run") and str(runs[-1]) in line, line
    assert "load TensorFlow" not in result.stdout
    assert sorted((iris_run.workdir / "iris" / "runs").iterdir()) == runs  # no run folder, no run


@pytest.mark.parametrize("case", list(BAD_DATA))
def test_bad_data_stops_before_training(rejected_runs, case):
    _, column, expected = BAD_DATA[case]
    run = rejected_runs[case]
    assert run.process.returncode == 1
    console = run.process.stdout
    assert "Run failed at DataValidationGate" in console
    [problem] = [line for line in console.splitlines() if f"column '{column}'" in line]
    assert expected in problem
    assert "Nothing was trained or pushed." in console
    # The statistics page of the rejected data is in the run folder, the problem listed.
    page = Path(last_outcome(run.workdir, "iris").results.statistics_page)
    assert f"Data statistics and anomalies: {page}" in console
    assert f"column &#x27;{column}&#x27;" in page.read_text()
    # Nothing downstream of the gate ran, nothing was pushed, the data is untouched.
    assert not (run.workdir / "iris" / "pipeline_root" / "Transform").exists()
    assert not (run.workdir / "iris" / "pipeline_root" / "Trainer").exists()
    assert not (run.workdir / "serving").exists()
    assert hashlib.sha256((run.data_dir / "iris.csv").read_bytes()).hexdigest() == run.digest
    assert last_outcome(run.workdir, "iris").status == "failed"


def test_predict_prints_the_species_of_each_flower(iris_run: PipelineRun):
    result = run_tfpipe(
        "predict",
        "iris",
        "5.0,3.4,1.5,0.2",
        "sepal_length=6.7,sepal_width=3.0,petal_length=5.2,petal_width=2.3",
        "--workdir",
        str(iris_run.workdir),
    )
    assert result.returncode == 0, result.stderr
    first, second = result.stdout.splitlines()
    assert first.startswith("5.0,3.4,1.5,0.2: setosa (probability ")
    assert second.startswith(
        "sepal_length=6.7,sepal_width=3.0,petal_length=5.2,petal_width=2.3: virginica (probability "
    )
