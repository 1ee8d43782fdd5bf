"""MLflow tracking of pipeline runs, asserted through MlflowClient against a real `mlflow server`
(the shared iris run and its re-run), and `tfpipe ui` over a workdir's embedded store."""

import datetime
import json
import os
import subprocess
import urllib.request
from pathlib import Path
from types import SimpleNamespace

import mlflow
import pandas as pd
import pytest
from conftest import BIN, REPO_ROOT, PipelineRun, free_port, wait_for_http

from components import training_record
from components.mlflow_tracker import CHAMPION_ALIAS, TAG_MODEL_URI, TAG_TF_SERVING_VERSION, confusion_matrix_figure
from components.mlflow_tracker import _log_training as log_training
from components.mlflow_tracking import RunContext, fluent_tracking_uri, init_store, start_run
from components.models.iris.features import FEATURE_KEYS
from components.training_progress import TrainingProgress
from pipelines.in_process import LiveEpochs
from tfpipe import ui

EPOCHS = 10  # the iris default; the shared run's 100 steps are split into these


@pytest.fixture(scope="module")
def client(mlflow_server) -> mlflow.MlflowClient:
    return mlflow.MlflowClient(tracking_uri=mlflow_server, registry_uri=mlflow_server)


@pytest.fixture(scope="module")
def tracked_run(client, iris_run: PipelineRun):
    return client.get_run(iris_run.outcome.results.mlflow_run_id)


def _artifact_paths(client, run_id, path=None) -> set[str]:
    paths = set()
    for item in client.list_artifacts(run_id, path):
        paths |= _artifact_paths(client, run_id, item.path) if item.is_dir else {item.path}
    return paths


def test_run_is_in_the_pipeline_experiment_with_lineage_tags(client, tracked_run, iris_run: PipelineRun):
    assert tracked_run.info.status == "FINISHED"
    assert client.get_experiment(tracked_run.info.experiment_id).name == "iris"
    tags = tracked_run.data.tags
    assert tags["tfx.runner"] == "local"
    assert tags["data.dir"] == "data/iris"
    assert tags["data.fingerprint"].startswith("split:single_split,num_files:1")
    assert len(tags["mlflow.source.git.commit"]) == 40
    assert (tags["mlflow.source.name"], tags["mlflow.source.type"]) == ("tfpipe run iris", "LOCAL")
    (training_data,) = tracked_run.inputs.dataset_inputs
    assert (training_data.dataset.name, training_data.dataset.source_type) == ("iris", "local")
    assert json.loads(training_data.dataset.source) == {"uri": "data/iris"}
    assert [(tag.key, tag.value) for tag in training_data.tags] == [("mlflow.data.context", "training")]
    assert tags["tfx.pipeline_run_id"]
    trainer_execution = tags["mlmd.execution_id.Trainer"]
    assert iris_run.outcome.components["Trainer"].execution_id == int(trainer_execution)
    assert tags["blessed"] == "true"


def test_the_run_lasts_as_long_in_mlflow_as_on_the_console(tracked_run, iris_run: PipelineRun):
    """One duration everywhere: MLflow's run spans the command, loading TensorFlow included (before
    TFX's run id was taken), as the console and `tfpipe runs` count it (summary.json's seconds)."""
    info = tracked_run.info
    assert (info.end_time - info.start_time) / 1000 == pytest.approx(iris_run.outcome.seconds, abs=0.1)
    pipeline_started = datetime.datetime.fromisoformat(tracked_run.data.tags["tfx.pipeline_run_id"])
    assert info.start_time < pipeline_started.timestamp() * 1000


def test_resolved_config_is_logged_as_params(tracked_run):
    params = tracked_run.data.params
    assert params["train_steps"] == "100"
    assert params["model.hidden_units"] == "16"
    assert params["model.learning_rate"] == "0.05"
    assert params["epochs"] == str(EPOCHS)


def test_training_curves_have_one_point_per_epoch(client, tracked_run):
    for metric in ("loss", "sparse_categorical_accuracy", "val_loss", "val_sparse_categorical_accuracy"):
        history = sorted(client.get_metric_history(tracked_run.info.run_id, metric), key=lambda point: point.step)
        assert [point.step for point in history] == list(range(EPOCHS)), metric
        # Each at the time its epoch ended: in order, within the run, before the evaluation's metrics.
        times = [point.timestamp for point in history]
        evaluated = client.get_metric_history(tracked_run.info.run_id, "eval.sparse_categorical_accuracy")[0]
        assert tracked_run.info.start_time <= times[0] <= times[-1] < evaluated.timestamp, metric
        assert times == sorted(times), metric


def test_tfma_metrics_are_logged(tracked_run, iris_run: PipelineRun):
    overall = iris_run.outcome.results.metrics["overall"]
    metrics = tracked_run.data.metrics
    assert metrics["eval.sparse_categorical_accuracy"] == pytest.approx(overall["sparse_categorical_accuracy"])
    assert metrics["eval.example_count"] == overall["example_count"]


def test_artifacts_cover_data_training_and_evaluation(client, tracked_run, iris_run: PipelineRun):
    paths = _artifact_paths(client, tracked_run.info.run_id)
    assert {
        "data/schema.pbtxt",
        "data/statistics.html",
        "data/anomalies_train.pbtxt",
        "data/anomalies_eval.pbtxt",
        "training/history.csv",
        "training/training_curves.png",
        "training/model_summary.json",
        # The notes' inspection files and saving formats (components/model_inspection.py).
        "training/weights.txt",
        "training/model_summary.txt",
        "training/architecture.dot",
        "model_formats/Format-HDF5/model.h5",
        "model_formats/Format-Checkpoint/weights.index",
        "evaluation/slices.csv",
        "evaluation/confusion_matrix.png",
    } <= paths
    with open(client.download_artifacts(tracked_run.info.run_id, "training/model_summary.json")) as f:
        summary = json.load(f)
    shapes = [weight["shape"] for layer in summary["layers"] for weight in layer["weights"]]
    assert [4, 16] in shapes and [16, 3] in shapes
    with open(client.download_artifacts(tracked_run.info.run_id, "evaluation/slices.csv")) as f:
        assert "species=virginica" in f.read()
    # The run folder holds the same statistics page, for users without an MLflow UI.
    with open(client.download_artifacts(tracked_run.info.run_id, "data/statistics.html")) as f:
        assert f.read() == Path(iris_run.outcome.results.statistics_page).read_text()


def test_tensorboard_reads_the_trainers_event_files(client, tracked_run, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    logs = Path(client.download_artifacts(tracked_run.info.run_id, "training/tensorboard", str(tmp_path)))
    for split, tag in (("train", "epoch_loss"), ("validation", "epoch_sparse_categorical_accuracy")):
        events = EventAccumulator(str(logs / split))
        events.Reload()
        # Keras 2 writes epoch scalars as tensors; one value per epoch of the run.
        assert len(events.Tensors(tag)) == int(tracked_run.data.params["epochs"])
    # The model's graph, as TensorBoard's Graphs tab shows it (Keras' conceptual graph).
    assert "keras" in EventAccumulator(str(logs / "train")).Reload().Tags()["tensors"]


def test_logged_model_takes_plain_measurements(tracked_run, mlflow_server):
    with fluent_tracking_uri(mlflow_server):
        model = mlflow.pyfunc.load_model(tracked_run.data.tags[TAG_MODEL_URI])
    # Signature: the measurements in as named columns, the serving outputs out.
    assert set(model.metadata.get_input_schema().input_names()) == set(FEATURE_KEYS)
    assert {"probabilities", "class_id", "species"} == set(model.metadata.get_output_schema().input_names())
    setosa = {"sepal_length": 5.0, "sepal_width": 3.4, "petal_length": 1.5, "petal_width": 0.2}
    outputs = model.predict(pd.DataFrame([setosa]))
    assert list(outputs["species"]) == ["setosa"]


def test_pushed_model_is_registered_as_champion(client, tracked_run, iris_run: PipelineRun):
    version = client.get_model_version_by_alias("iris", CHAMPION_ALIAS)
    assert version.run_id == tracked_run.info.run_id
    assert version.tags[TAG_TF_SERVING_VERSION] == iris_run.outcome.results.pushed_version


def test_cached_rerun_is_its_own_run_without_a_new_model_version(client, tracked_run, iris_rerun):
    rerun = client.get_run(iris_rerun.results.mlflow_run_id)
    assert rerun.info.run_id != tracked_run.info.run_id
    assert rerun.info.status == "FINISHED"
    # Same model, nothing new pushed: the MLflow model is reused and no version added.
    assert rerun.data.tags[TAG_MODEL_URI] == tracked_run.data.tags[TAG_MODEL_URI]
    assert len(client.search_model_versions("name = 'iris'")) == 1


def test_rejected_data_is_a_failed_run_with_the_reason(client, rejected_runs):
    experiment = client.get_experiment_by_name("iris")
    failed = client.search_runs([experiment.experiment_id], filter_string="attributes.status = 'FAILED'")
    assert len(failed) == 1
    reason = failed[0].data.tags["failure_reason"]
    assert "column 'sepal_length'" in reason and "Expected data of type: FLOAT" in reason
    assert failed[0].data.params["data_dir"] == str(rejected_runs["text-in-numeric-column"].data_dir)


def test_ui_serves_the_embedded_store_over_rest(rejected_runs):
    workdir = rejected_runs["missing-column"].workdir
    port = free_port()
    ui = subprocess.Popen(
        [str(BIN / "tfpipe"), "ui", "--workdir", str(workdir), "--port", str(port)],
        cwd=REPO_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}/api/2.0/mlflow"
    try:
        wait_for_http(f"http://127.0.0.1:{port}/health", ui)
        with urllib.request.urlopen(f"{base}/experiments/get-by-name?experiment_name=iris", timeout=10) as reply:
            experiment_id = json.load(reply)["experiment"]["experiment_id"]
        request = urllib.request.Request(
            f"{base}/runs/search",
            data=json.dumps({"experiment_ids": [experiment_id]}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as reply:
            runs = json.load(reply)["runs"]
    finally:
        ui.terminate()
        ui.wait(timeout=30)
    assert [run["info"]["status"] for run in runs] == ["FAILED"]
    tags = {tag["key"]: tag["value"] for tag in runs[0]["data"]["tags"]}
    assert "column 'petal_width'" in tags["failure_reason"]


def test_fluent_tracking_uri_is_not_left_to_later_subprocesses(tmp_path):
    # mlflow.set_tracking_uri exports MLFLOW_TRACKING_URI; a `tfpipe run` started later by
    # this process would then track to that store instead of its workdir's.
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    with fluent_tracking_uri(uri):
        assert mlflow.get_tracking_uri() == uri
    assert "MLFLOW_TRACKING_URI" not in os.environ


@pytest.mark.parametrize(("class_names", "shown"), [(("cat", "dog"), ["cat", "dog"]), ((), ["0", "1"])])
def test_the_confusion_matrix_names_the_classes_on_both_axes(class_names, shown):
    axis = confusion_matrix_figure([[3, 1], [0, 4]], class_names).axes[0]
    assert [label.get_text() for label in axis.get_xticklabels()] == shown
    assert [label.get_text() for label in axis.get_yticklabels()] == shown
    assert sorted(text.get_text() for text in axis.texts) == ["0", "1", "3", "4"]


def test_ui_loads_mlflow_to_make_the_stores_tables_only_when_it_has_none(tmp_path):
    database = tmp_path / "mlflow.db"
    assert not ui.has_tables(database)
    database.write_bytes(b"")  # a file, but no store yet
    assert not ui.has_tables(database)
    init_store(f"sqlite:///{database}")
    assert ui.has_tables(database)


def _context(tmp_path) -> RunContext:
    tracking_uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    init_store(tracking_uri)
    return RunContext(
        tracking_uri=tracking_uri,
        artifact_root=str(tmp_path / "artifacts"),
        pipeline_name="iris",
        config={"train_steps": 100},
        data_dir="data/iris",
        code_version="x",
        runner="local",
    )


def _epoch(epoch: int, loss: float) -> TrainingProgress:
    return TrainingProgress(epoch=epoch, epochs=3, step=None, steps=10, metrics={"loss": loss, "val_loss": loss + 1})


def test_the_trainers_epochs_reach_the_run_the_data_gate_started_as_they_end(tmp_path):
    context = _context(tmp_path)
    pipeline_run_id = "2026-12-07T10:00:00.000001"
    started = start_run(context, pipeline_run_id, {"data.fingerprint": "f"})
    live = LiveEpochs(context.tracking_uri, "iris", lambda: pipeline_run_id)
    try:
        live.epoch_ended(_epoch(1, 0.9), 1_800_000_000.0)
        live.flush()
        client = mlflow.MlflowClient(context.tracking_uri)
        (point,) = client.get_metric_history(started, "loss")
        assert (point.step, point.value, point.timestamp) == (0, 0.9, 1_800_000_000_000)
    finally:
        live.close()
    # MlflowTracker's start is the same run, with its tags added: one MLflow run per pipeline run.
    assert start_run(context, pipeline_run_id, {"blessed": "true"}) == started
    run = client.get_run(started)
    assert (run.data.tags["blessed"], run.data.tags["data.fingerprint"]) == ("true", "f")
    assert run.data.params == {"train_steps": "100"}


def test_the_tracker_adds_the_epochs_not_logged_live_once_each(tmp_path):
    context = _context(tmp_path)
    run_id = start_run(context, "2026-12-07T10:00:00.000001", {})
    client = mlflow.MlflowClient(context.tracking_uri)
    client.log_batch(run_id, metrics=[mlflow.entities.Metric("loss", 0.9, 1_800_000_000_000, 0)])  # live
    model_run = tmp_path / "model_run"
    model_run.mkdir()
    history = {"loss": [0.9, 0.5, 0.4], "val_loss": [1.9, 1.5, 1.4]}
    training_record.write_history(history, str(model_run / training_record.HISTORY_FILE), [1.8e9, 1.8e9 + 5, 1.8e9 + 9])

    log_training(client, run_id, SimpleNamespace(uri=str(model_run)))

    loss = sorted((point.step, point.value, point.timestamp) for point in client.get_metric_history(run_id, "loss"))
    assert loss == [(0, 0.9, 1_800_000_000_000), (1, 0.5, 1_800_000_005_000), (2, 0.4, 1_800_000_009_000)]
    assert sorted(point.step for point in client.get_metric_history(run_id, "val_loss")) == [0, 1, 2]
