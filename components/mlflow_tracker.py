"""MlflowTracker: the last component of every pipeline; records the run in MLflow.

It runs inside the pipeline, so a run is recorded the same way under every
orchestrator. Its `pipeline_run_id` parameter is the TFX run id placeholder,
which differs every run: the tracker is never cached, so each run, even one
whose other components are all cached, is its own MLflow run.
"""

import io
import os
import time
from pathlib import Path, PurePath

# No `from __future__ import annotations` here: the decorator reads real type objects.
import mlflow
import numpy as np
import pandas as pd
import tensorflow as tf
from google.protobuf import text_format
from mlflow.entities import Metric, Param, RunStatus
from mlflow.models import ModelSignature, infer_signature
from mlflow.types import Schema, TensorSpec
from tensorflow.core.framework import types_pb2
from tensorflow.core.protobuf import meta_graph_pb2, saved_model_pb2
from tfx.components.evaluator import constants as evaluator_constants
from tfx.dsl.component.experimental.annotations import InputArtifact, OutputDict, Parameter
from tfx.dsl.component.experimental.decorators import component
from tfx.dsl.io import fileio
from tfx.types import artifact_utils, standard_artifacts
from tfx.utils import path_utils

from components import evaluation as tfma_results
from components import mlflow_tracking as tracking
from components import statistics_html, training_record
from components.example_gen import rejected_inputs
from components.leaderboard import Search
from components.tuner import read_search
from components.validation_gate import read_anomalies
from serving.push import pushed_model_uri
from serving.servables import is_complete_version

CHAMPION_ALIAS = "champion"
TAG_TF_SERVING_VERSION = "tf_serving_version"
# On a run: the TFX Model artifact it evaluated, and the MLflow model logged for it.
TAG_TFX_MODEL_URI = "tfx.model_uri"
TAG_MODEL_URI = "model_uri"
# The code of the logged MLflow model, which MLflow runs where the model is loaded: never
# imported here (it registers the model with MLflow when run). It reads the SavedModel artifact and
# the model config key below by these names.
MLFLOW_MODEL_CODE = Path(__file__).resolve().parents[1] / "serving" / "mlflow_model.py"


@component
def MlflowTracker(
    examples: InputArtifact[standard_artifacts.Examples],
    statistics: InputArtifact[standard_artifacts.ExampleStatistics],
    schema: InputArtifact[standard_artifacts.Schema],
    anomalies: InputArtifact[standard_artifacts.ExampleAnomalies],
    model: InputArtifact[standard_artifacts.Model],
    model_run: InputArtifact[standard_artifacts.ModelRun],
    evaluation: InputArtifact[standard_artifacts.ModelEvaluation],
    blessing: InputArtifact[standard_artifacts.ModelBlessing],
    pushed_model: InputArtifact[standard_artifacts.PushedModel],
    run_context: Parameter[str],
    pipeline_run_id: Parameter[str],
    model_name: Parameter[str],
    serving_model_dir: Parameter[str],
    json_signature: Parameter[str],
    label_key: Parameter[str],
    label_class_names: Parameter[list[str]],
    # An optional input: TFX's decorator takes the default None as saying so.
    tuner_results: InputArtifact[standard_artifacts.TunerResults] = None,
) -> OutputDict(mlflow_run_id=str):  # type: ignore[valid-type]  # TFX's decorator API: outputs are a call
    """Logs config, curves, data checks, TFMA results and the model; registers a pushed model, and
    any version in `serving_model_dir` (the Pusher's `<serving dir>/<model>`) that a run killed after
    its push left unregistered.

    `run_context` is a mlflow_tracking.RunContext's JSON; `pipeline_run_id` the TFX run id;
    `label_key` and `label_class_names` the pipeline config's, which name the label's slices.
    """
    context = tracking.RunContext.from_json(run_context).resolved()
    tracking_uri = context.tracking_uri
    inputs = [examples, statistics, schema, anomalies, model, model_run, evaluation, blessing, pushed_model]
    run_id = tracking.start_run(
        context,
        pipeline_run_id,
        tags={
            tracking.TAG_DATA_FINGERPRINT: examples.get_string_custom_property("input_fingerprint"),
            **execution_id_tags(inputs),
        },
    )
    client = tracking.client(tracking_uri)
    try:
        # The fluent API logs the model, and the registry resolves its `models:/` URI through the
        # global tracking URI even for a client given its own: both need this run's store.
        with tracking.fluent_tracking_uri(tracking_uri):
            _log_data_checks(
                client, run_id, schema, statistics, anomalies, examples, label_key, tuple(label_class_names)
            )
            _log_rejected_inputs(client, run_id, examples)
            _log_training(client, run_id, model_run)
            _log_model_formats(client, run_id, model)
            if tuner_results is not None:
                _log_search(client, run_id, read_search(tuner_results.uri))
            blessed = _log_evaluation(client, run_id, evaluation, blessing, label_key, tuple(label_class_names))
            model_uri = _logged_model_uri(client, run_id, model.uri) or _log_model(
                run_id, path_utils.serving_model_path(model.uri), json_signature, examples
            )
            client.set_tag(run_id, TAG_TFX_MODEL_URI, model.uri)
            client.set_tag(run_id, TAG_MODEL_URI, model_uri)
            if pushed_model.get_int_custom_property("pushed") == 1:
                _register(
                    client, model_uri, model_name, run_id, pushed_model.get_string_custom_property("pushed_version")
                )
            _register_unregistered_pushes(client, model_name, serving_model_dir, run_id, json_signature, examples)
            client.set_tag(run_id, tracking.TAG_BLESSED, str(blessed).lower())
            pushed = pushed_model.get_int_custom_property("pushed") == 1
            version = pushed_model.get_string_custom_property("pushed_version")
            tracking.name_outcome(
                tracking_uri,
                run_id,
                f"blessed, pushed {version}" if pushed else "blessed" if blessed else "not blessed",
            )
    except Exception as error:
        tracking.fail_run(tracking_uri, run_id, f"MlflowTracker failed: {type(error).__name__}: {error}")
        raise
    client.set_terminated(run_id, RunStatus.to_string(RunStatus.FINISHED))
    return {"mlflow_run_id": run_id}


def execution_id_tags(artifacts) -> dict[str, str]:
    """`mlmd.execution_id.<Component>` for each input's producer.

    TFX writes every output to `<pipeline root>/<component>/<output key>/<execution id>`;
    the MLMD lineage of each execution starts from that id.
    """
    tags = {}
    for artifact in artifacts:
        parts = PurePath(artifact.uri).parts
        if len(parts) >= 3 and parts[-1].isdigit():
            tags[f"mlmd.execution_id.{parts[-3]}"] = parts[-1]
    return tags


def _log_search(client, run_id: str, search: Search) -> None:
    """A child run per trial of the model search (its values as params, its score and seconds as metrics),
    so MLflow's compare and parallel-coordinates views show the search; the winner's values on the run."""
    experiment_id = client.get_run(run_id).info.experiment_id
    for trial in search.leaderboard:
        child = client.create_run(
            experiment_id,
            run_name=f"trial {trial.trial}",
            tags={"mlflow.parentRunId": run_id, "tuning.status": trial.status},
        ).info.run_id
        client.log_batch(
            child,
            params=[Param(key, str(value)) for key, value in trial.values.items()],
            metrics=[
                Metric(name, value, int(time.time() * 1000), 0)
                for name, value in ((search.objective, trial.score), ("seconds", trial.seconds))
                if value is not None
            ],
        )
        if trial.error:
            client.set_tag(child, "tuning.error", trial.error)
        client.set_terminated(child, "FINISHED" if trial.status == "COMPLETED" else "FAILED")
    best = search.best
    if best is not None:
        client.log_batch(run_id, params=[Param(f"tuned.{key}", str(value)) for key, value in best.values.items()])
        client.set_tag(run_id, "tuning.best_trial", str(best.trial))


def _log_data_checks(
    client, run_id, schema, statistics, anomalies, examples, label_key: str, label_class_names: tuple[str, ...]
) -> None:
    schema_dir = schema.uri
    for name in fileio.listdir(schema_dir):
        client.log_artifact(run_id, os.path.join(schema_dir, name), "data")
    statistics_page = statistics_html.page(statistics, anomalies, examples, label_key, label_class_names)
    client.log_text(run_id, statistics_page, "data/statistics.html")
    for split, found in read_anomalies(anomalies).items():
        client.log_text(run_id, text_format.MessageToString(found), f"data/anomalies_{split}.pbtxt")


def _log_rejected_inputs(client, run_id, examples) -> None:
    """What an ExampleGen that rejects inputs left out (rejected_inputs.py): metric data.rejected_inputs, the list."""
    if not examples.has_custom_property(rejected_inputs.PROPERTY):
        return
    count = examples.get_int_custom_property(rejected_inputs.PROPERTY)
    client.log_metric(run_id, "data.rejected_inputs", count)
    if count:
        client.log_artifact(run_id, rejected_inputs.list_path(examples.uri), "data")


def _log_training(client, run_id, model_run) -> None:
    history_path = os.path.join(model_run.uri, training_record.HISTORY_FILE)
    now = int(time.time() * 1000)
    history = training_record.read_history(history_path)
    # Where the Trainer ran in the command's process its epochs reached the run live (pipelines/in_process.py),
    # not every one; the others at the time they ended, from the record (a cached Trainer's: all of them).
    names = {name for row in history for name in training_record.epoch_metrics(row)}
    logged = {(name, point.step) for name in names for point in client.get_metric_history(run_id, name)}
    metrics = [
        Metric(name, value, int(row.get(training_record.EPOCH_END, now / 1000) * 1000), int(row["epoch"]))
        for row in history
        for name, value in training_record.epoch_metrics(row).items()
        if (name, int(row["epoch"])) not in logged
    ]
    metrics += [Metric(name, value, now, 0) for name, value in training_record.read_metrics(model_run.uri).items()]
    client.log_batch(run_id, metrics=metrics)
    # The shared record (components/training_record.py) and whatever the pipeline's run_fn adds.
    for name in fileio.listdir(model_run.uri):
        if not fileio.isdir(os.path.join(model_run.uri, name)):
            client.log_artifact(run_id, os.path.join(model_run.uri, name), "training")
    # TensorBoard's event files, for `tensorboard --logdir` on a downloaded run.
    tensorboard_dir = os.path.join(model_run.uri, training_record.TENSORBOARD_DIR)
    if fileio.isdir(tensorboard_dir):
        client.log_artifacts(run_id, tensorboard_dir, "training/tensorboard")


def _log_model_formats(client, run_id, model) -> None:
    """The model's other saving formats, beside its SavedModel in the Model artifact (training_record.py)."""
    for folder in (training_record.HDF5_DIR, training_record.CHECKPOINT_DIR):
        path = os.path.join(model.uri, folder)
        if fileio.isdir(path):
            client.log_artifacts(run_id, path, f"model_formats/{folder}")


def _log_evaluation(client, run_id, evaluation, blessing, label_key: str, label_class_names: tuple[str, ...]) -> bool:
    metrics = tfma_results.slice_metrics(evaluation.uri, label_key, label_class_names)
    now = int(time.time() * 1000)
    client.log_batch(
        run_id,
        # float(): TFMA's JSON gives NaN and infinities as strings ("NaN", "Infinity").
        metrics=[Metric(f"eval.{name}", float(value), now, 0) for name, value in metrics[tfma_results.OVERALL].items()],
    )
    names = sorted({name for values in metrics.values() for name in values})
    table = io.StringIO()
    table.write(",".join(["slice", *names]) + "\n")
    for slice_name, values in metrics.items():
        table.write(",".join([slice_name, *(str(values.get(name, "")) for name in names)]) + "\n")
    client.log_text(run_id, table.getvalue(), "evaluation/slices.csv")
    matrix = tfma_results.confusion_matrix(evaluation.uri)
    if matrix is not None:
        figure = confusion_matrix_figure(matrix, label_class_names)
        client.log_figure(run_id, figure, "evaluation/confusion_matrix.png")
    blessed = blessing.get_int_custom_property(evaluator_constants.ARTIFACT_PROPERTY_BLESSED_KEY) == 1
    if not blessed:
        client.log_text(run_id, "\n".join(tfma_results.blessing_failures(evaluation.uri)), "evaluation/not_blessed.txt")
    return blessed


def confusion_matrix_figure(matrix: list[list[float]], class_names: tuple[str, ...]):
    """The matrix as a heat map with its counts, each axis naming the classes (their indices where the
    pipeline has no names for them)."""
    values = np.array(matrix)
    names = list(class_names) if len(class_names) == len(values) else [str(index) for index in range(len(values))]
    plt = training_record.pyplot()
    figure, axis = plt.subplots(figsize=(1.2 * len(values) + 2, 1.2 * len(values) + 1.5))
    axis.imshow(values, cmap="Blues")
    for (actual, predicted), count in np.ndenumerate(values):
        axis.text(predicted, actual, f"{count:g}", ha="center", va="center")
    axis.set_xlabel("predicted class")
    axis.set_ylabel("actual class")
    axis.set_xticks(range(len(values)), names, rotation=45 if max(map(len, names)) > 2 else 0, ha="right")
    axis.set_yticks(range(len(values)), names)
    axis.set_title("Confusion matrix (eval split)")
    figure.tight_layout()
    return figure


def _logged_model_uri(client, run_id: str, tfx_model_uri: str) -> str | None:
    """The MLflow model an earlier run logged for the same TFX model (a cached Trainer), if any."""
    experiment = client.get_run(run_id).info.experiment_id
    earlier = client.search_runs(
        [experiment], filter_string=f"tags.`{TAG_TFX_MODEL_URI}` = '{tfx_model_uri}'", max_results=1
    )
    return earlier[0].data.tags.get(TAG_MODEL_URI) if earlier else None


def _log_model(run_id: str, saved_model_dir: str, json_signature: str, examples) -> str:
    """Logs the SavedModel as an MLflow pyfunc model that calls its `json_signature` (serving/mlflow_model.py),
    with the eval split's first examples as its input example, so `mlflow models serve` answers it.

    The signature is read from `saved_model.pb`, not by loading the model (3 s for stock's Transform
    graph and LSTM), and handed to MLflow, which would otherwise load the model to infer it: MLflow
    loads it once, to check that it answers the input example as `mlflow models serve` would send it."""
    signature = _signature_def(saved_model_dir, json_signature)
    example = _input_example(examples, signature)
    with mlflow.start_run(run_id=run_id, log_system_metrics=False):
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=str(MLFLOW_MODEL_CODE),
            artifacts={"saved_model": saved_model_dir},
            model_config={"signature_name": json_signature},
            signature=_mlflow_signature(example, signature),
            input_example=example,
            # Given, not inferred: MLflow infers them by loading the model in a new Python process.
            pip_requirements=[f"{package.__name__}=={package.__version__}" for package in (mlflow, tf, np, pd)],
        )
    return info.model_uri


def _signature_def(saved_model_dir: str, name: str) -> meta_graph_pb2.SignatureDef:
    saved_model = saved_model_pb2.SavedModel()
    with fileio.open(os.path.join(saved_model_dir, "saved_model.pb"), "rb") as f:
        saved_model.ParseFromString(f.read())
    return saved_model.meta_graphs[0].signature_def[name]


def _mlflow_signature(example: pd.DataFrame, signature: meta_graph_pb2.SignatureDef) -> ModelSignature:
    """The input example's columns in, the signature's outputs out: what MLflow infers when it runs the
    model on the example (text outputs are Python str, dtype object, in serving/mlflow_model.py)."""
    outputs = [
        TensorSpec(
            np.dtype(object) if info.dtype == types_pb2.DT_STRING else np.dtype(tf.as_dtype(info.dtype).as_numpy_dtype),
            tuple(dim.size for dim in info.tensor_shape.dim),
            name,
        )
        for name, info in signature.outputs.items()
    ]
    return ModelSignature(inputs=infer_signature(example).inputs, outputs=Schema(outputs))


def _input_example(examples, signature: meta_graph_pb2.SignatureDef, count: int = 3) -> pd.DataFrame:
    """The first `count` examples of the eval split, one column per input of `signature`: the raw
    feature of that name (a window of values where the input takes one). Numbers stay Python's
    (MLflow's `double`, which JSON numbers meet; serving/mlflow_model.py casts them to the inputs' types)."""
    files = fileio.glob(os.path.join(artifact_utils.get_split_uri([examples], "eval"), "*"))
    rows = []
    for record in tf.data.TFRecordDataset(files, compression_type="GZIP").take(count):
        feature = tf.train.Example.FromString(record.numpy()).features.feature
        row = {}
        for name, info in signature.inputs.items():
            values = list(getattr(feature[name], feature[name].WhichOneof("kind")).value)
            # [batch] takes one value per example, [batch, window] a window of them.
            row[name] = values[0] if len(info.tensor_shape.dim) == 1 else np.asarray(values)
        rows.append(row)
    return pd.DataFrame(rows)


def _register(
    client, model_uri: str, model_name: str, run_id: str, tf_serving_version: str, champion: bool = True
) -> None:
    """A registry version per TF Serving version: a cached Pusher's push is not registered again.
    `champion`: the new registry version gets the champion alias."""
    try:
        client.create_registered_model(model_name)
    except mlflow.exceptions.MlflowException as error:
        if error.error_code != "RESOURCE_ALREADY_EXISTS":
            raise
    if tf_serving_version in _registered_serving_versions(client, model_name):
        return
    # MLflow 3 logs models outside runs (models:/<model id>); a tracking server
    # accepts such a source only with its model id.
    model_id = model_uri.removeprefix("models:/")
    version = client.create_model_version(model_name, model_uri, run_id=run_id, model_id=model_id)
    client.set_model_version_tag(model_name, version.version, TAG_TF_SERVING_VERSION, tf_serving_version)
    if champion:
        client.set_registered_model_alias(model_name, CHAMPION_ALIAS, version.version)


def _registered_serving_versions(client, model_name: str) -> set[str]:
    return {
        existing.tags.get(TAG_TF_SERVING_VERSION) for existing in client.search_model_versions(f"name = '{model_name}'")
    }


def _register_unregistered_pushes(
    client, model_name: str, serving_model_dir: str, run_id: str, json_signature: str, examples
) -> None:
    """Registers each pushed version of `serving_model_dir` that records its TFX model (serving/push.py)
    but has no registry version: pushed by a run killed before its MlflowTracker registered it. Its
    MLflow model is the one an earlier run logged for that TFX model, or else the pushed SavedModel,
    logged now in this run. The newest version, if it is one of them, becomes the champion."""
    if not serving_model_dir or not os.path.isdir(serving_model_dir):  # another machine's path (a container's)
        return
    versions = sorted(
        (path for path in Path(serving_model_dir).iterdir() if is_complete_version(path)), key=lambda p: int(p.name)
    )
    registered = _registered_serving_versions(client, model_name)
    for version_dir in versions:
        tfx_model_uri = pushed_model_uri(version_dir)
        if tfx_model_uri is None or version_dir.name in registered:
            continue
        model_uri = _logged_model_uri(client, run_id, tfx_model_uri) or _log_model(
            run_id, str(version_dir), json_signature, examples
        )
        _register(client, model_uri, model_name, run_id, version_dir.name, champion=version_dir == versions[-1])
