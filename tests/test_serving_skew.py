"""Request logging in `tfpipe serve` and `tfpipe skew` (issue 31): sampled requests written as TF Serving's
PredictionLog records, both front ends alike, nothing written unless asked; the logged requests' statistics
compared with the training data's under the schema's skew comparators.

The model is the one the session's iris run pushed (`iris_run`), served from a copy of its serving tree;
`tfpipe skew` reads that run's training statistics from its workdir.
"""

import csv
import json
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from conftest import REPO_ROOT, PipelineRun, free_port
from google.protobuf import text_format
from tensorflow_metadata.proto.v0 import schema_pb2
from tensorflow_serving.apis import model_pb2, prediction_log_pb2
from test_serving import copy_serving_tree, rest, start_server

from components.serving_skew import (
    DEFAULT_THRESHOLDS,
    compared_features,
    feature_skews,
    logged_examples,
    statistics_of,
)
from components.tf_example import serialized, tf_example
from serving.client import PredictionClient, predict_request
from serving.request_log import RequestLogger, RequestLogOptions, log_files, logs_folder, read_prediction_logs

FEATURES = ("sepal_length", "sepal_width", "petal_length", "petal_width")
# The shipped iris data, in centimetres: what the model was trained on.
IRIS_ROWS = [
    {name: float(row[name]) for name in FEATURES}
    for row in csv.DictReader((REPO_ROOT / "data" / "iris" / "iris.csv").open())
]
JSON_SIGNATURE = "predict_measurements"


def _schema(pipeline: str) -> schema_pb2.Schema:
    return text_format.Parse((REPO_ROOT / "schemas" / pipeline / "schema.pbtxt").read_text(), schema_pb2.Schema())


# The iris schema's drift threshold of its measurements, which skew falls back to.
IRIS_DRIFT_THRESHOLD = next(
    f.drift_comparator.jensen_shannon_divergence.threshold for f in _schema("iris").feature if f.name == FEATURES[0]
)


def _spec(version: int = 7) -> model_pb2.ModelSpec:
    spec = model_pb2.ModelSpec(name="iris", signature_name="serving_default")
    spec.version.value = version
    return spec


def _predict_record(request) -> prediction_log_pb2.PredictionLog:
    return prediction_log_pb2.PredictionLog(predict_log=prediction_log_pb2.PredictLog(request=request))


# --- the log, without a model ---------------------------------------------------------------------


def test_every_request_is_logged_at_rate_one_as_prediction_logs(tmp_path):
    logger = RequestLogger(RequestLogOptions(1.0, tmp_path))
    for index in range(50):
        logger.log(_spec(), lambda index=index: _predict_record(predict_request("iris", [serialized({"n": index})])))
    logger.stop()
    logger.stop()  # a server stopped twice (a failed start, then its context's exit)
    records = list(read_prediction_logs(logs_folder(tmp_path, "iris")))
    assert len(records) == 50
    assert records[0].log_metadata.model_spec == _spec()
    assert records[0].log_metadata.sampling_config.sampling_rate == 1.0
    values = [
        tf.train.Example.FromString(tf.make_ndarray(r.predict_log.request.inputs["examples"])[0])
        .features.feature["n"]
        .int64_list.value[0]
        for r in records
    ]
    assert values == list(range(50))


def test_a_sampling_rate_logs_about_that_fraction(tmp_path):
    logger = RequestLogger(RequestLogOptions(0.2, tmp_path))
    for _ in range(2000):
        logger.log(_spec(), lambda: _predict_record(predict_request("iris", [b""])))
    logger.stop()
    # 400 expected; 4 standard deviations (18 each) either side.
    assert 328 < len(list(read_prediction_logs(logs_folder(tmp_path, "iris")))) < 472


def test_log_files_rotate_and_a_model_has_its_own_folder(tmp_path):
    logger = RequestLogger(RequestLogOptions(1.0, tmp_path, rotate_s=0.2))
    for model in ("iris", "stock", "iris"):
        logger.log(model_pb2.ModelSpec(name=model), lambda model=model: _predict_record(predict_request(model, [b""])))
        time.sleep(0.3)
    logger.stop()
    assert len(log_files(logs_folder(tmp_path, "iris"))) == 2
    assert len(log_files(logs_folder(tmp_path, "stock"))) == 1


@pytest.mark.parametrize("rate", [0.0, -0.1, 1.5])
def test_a_sampling_rate_outside_0_to_1_is_refused(tmp_path, rate):
    with pytest.raises(ValueError, match="sampling rate must be above 0 and at most 1"):
        RequestLogOptions(rate, tmp_path)


# --- requests back to raw features ----------------------------------------------------------------


def test_logged_requests_become_the_raw_examples_they_carry():
    rows = IRIS_ROWS[:3]
    by_examples = predict_request("iris", [serialized(row) for row in rows])
    by_feature = predict_request("iris", [])
    by_feature.inputs.clear()
    for name in FEATURES:
        by_feature.inputs[name].CopyFrom(tf.make_tensor_proto(np.array([row[name] for row in rows], np.float32)))
    classify = prediction_log_pb2.PredictionLog()
    examples = classify.classify_log.request.input.example_list_with_context
    examples.context.features.feature["sepal_length"].float_list.value.append(5.0)
    examples.examples.add().features.feature["petal_width"].float_list.value.append(0.2)
    other_signature = predict_request("iris", [b"\x00not an example"])
    records = [_predict_record(by_examples), _predict_record(by_feature), classify, _predict_record(other_signature)]
    for record in records:
        record.log_metadata.model_spec.version.value = 3
    [(version, found)] = logged_examples(records, set(FEATURES)).items()
    parsed = [tf.train.Example.FromString(example).features.feature for example in found]
    assert version == 3 and len(parsed) == 7
    for feature, row in zip(parsed[:6], rows + rows):
        assert {name: round(feature[name].float_list.value[0], 4) for name in FEATURES} == row
    assert (parsed[6]["sepal_length"].float_list.value[0], parsed[6]["petal_width"].float_list.value[0]) == (
        5.0,
        pytest.approx(0.2),
    )


def test_skew_comparators_for_numbers_categories_and_not_for_images():
    iris = compared_features(_schema("iris"), "species")
    assert [feature.name for feature in iris.feature] == list(FEATURES)
    # The iris measurements' drift thresholds (benchmarks/drift_thresholds_iris.py), and without them the default.
    assert {f.skew_comparator.jensen_shannon_divergence.threshold for f in iris.feature} == {IRIS_DRIFT_THRESHOLD}
    without_drift = _schema("iris")
    for feature in without_drift.feature:
        feature.ClearField("drift_comparator")
    assert {
        f.skew_comparator.jensen_shannon_divergence.threshold
        for f in compared_features(without_drift, "species").feature
    } == {DEFAULT_THRESHOLDS["jensen_shannon_divergence"]}
    # The stock windows' prices and volume: the drift thresholds measured on the shipped data; not the
    # label, nor the columns requests do not carry.
    stock = {
        f.name: f.skew_comparator.jensen_shannon_divergence.threshold
        for f in compared_features(_schema("stock"), "target").feature
    }
    assert stock == {"open": 0.5, "high": 0.5, "low": 0.5, "close": 0.5, "volume": 0.3}
    assert not compared_features(_schema("digits"), "label").feature


def test_tfdv_measures_each_compared_feature_against_its_threshold():
    compared = compared_features(_schema("iris"), "species")
    training = statistics_of([serialized(row) for row in IRIS_ROWS[::2]])
    alike = feature_skews(compared, training, statistics_of([serialized(row) for row in IRIS_ROWS[1::2]]))
    assert [(skew.feature, skew.measure, skew.threshold, skew.skewed) for skew in alike] == [
        (name, "Jensen-Shannon divergence", IRIS_DRIFT_THRESHOLD, False) for name in FEATURES
    ]
    wider = [dict(row, sepal_width=row["sepal_width"] * 10) for row in IRIS_ROWS[1::2]]
    skews = feature_skews(compared, training, statistics_of([serialized(row) for row in wider]))
    assert [skew.feature for skew in skews if skew.skewed] == ["sepal_width"]


# --- the server and the command -------------------------------------------------------------------


def _tfpipe(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tfpipe.cli", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=600
    )


def test_no_request_is_logged_unless_asked(iris_run: PipelineRun, tmp_path):
    serving_dir = copy_serving_tree(iris_run, tmp_path)
    server = start_server(serving_dir)
    try:
        with PredictionClient(f"127.0.0.1:{server.grpc_port}", timeout_s=10) as client:
            client.predict(predict_request("iris", [serialized(IRIS_ROWS[0])]))
        assert (
            rest(server, "/v1/models/iris:predict", {"signature_name": JSON_SIGNATURE, "instances": IRIS_ROWS[:1]})[0]
            == 200
        )
    finally:
        server.stop()
    assert server.request_log is None and server.api.request_log is None
    assert not list(tmp_path.rglob("*.tfrecord")) and not list(tmp_path.rglob("request_logs"))


@pytest.fixture(scope="module")
def logged_by_serve(iris_run: PipelineRun, tmp_path_factory) -> tuple[Path, list]:
    """`tfpipe serve --log-requests 1` answering the iris rows, half over gRPC (serialized tf.Examples),
    half over REST (the measurements): its log directory and the requests sent, in order."""
    workdir = tmp_path_factory.mktemp("served-and-logged")
    copy_serving_tree(iris_run, workdir)
    log_dir = workdir / "logs"
    rest_port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tfpipe.cli",
            "serve",
            "--workdir",
            str(workdir),
            "--grpc-port",
            "0",
            "--rest-port",
            str(rest_port),
            "--log-requests",
            "1",
            "--request-log-dir",
            str(log_dir),
        ],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    sent = []
    try:
        process.stdout.readline()
        grpc_port = int(re.search(r"gRPC on 127\.0\.0\.1:(\d+)", process.stdout.readline()).group(1))
        assert process.stdout.readline().startswith(f"Logging 1 of the requests answered to {log_dir}")
        with PredictionClient(f"127.0.0.1:{grpc_port}", timeout_s=10) as client:
            for start in range(0, len(IRIS_ROWS), 10):
                rows = IRIS_ROWS[start : start + 10]
                if start % 20 == 0:
                    client.predict(predict_request("iris", [serialized(row) for row in rows]))
                    sent.append(("grpc", rows))
                else:
                    body = json.dumps({"signature_name": JSON_SIGNATURE, "instances": rows}).encode()
                    url = f"http://127.0.0.1:{rest_port}/v1/models/iris:predict"
                    with urllib.request.urlopen(urllib.request.Request(url, data=body), timeout=10) as response:
                        assert response.status == 200
                    sent.append(("rest", rows))
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0
    return log_dir, sent


def test_serve_logs_every_grpc_and_rest_request_as_prediction_logs(logged_by_serve):
    log_dir, sent = logged_by_serve
    records = list(read_prediction_logs(logs_folder(log_dir, "iris")))
    assert len(records) == len(sent) == 15
    for record, (front_end, rows) in zip(records, sent):
        assert record.WhichOneof("log_type") == "predict_log"
        assert record.log_metadata.model_spec.name == "iris" and record.log_metadata.model_spec.version.value > 0
        inputs = {name: tf.make_ndarray(proto) for name, proto in record.predict_log.request.inputs.items()}
        if front_end == "grpc":
            assert record.log_metadata.model_spec.signature_name == "serving_default"
            assert [tf.train.Example.FromString(example) for example in inputs["examples"]] == [
                tf_example(row) for row in rows
            ]
        else:  # the REST request as the PredictRequest it stands for
            assert record.log_metadata.model_spec.signature_name == JSON_SIGNATURE
            np.testing.assert_allclose(inputs["sepal_length"], [row["sepal_length"] for row in rows], rtol=1e-6)
        assert len(tf.make_ndarray(record.predict_log.response.outputs["species"])) == len(rows)


def test_skew_finds_none_in_requests_drawn_like_the_training_data(iris_run, logged_by_serve):
    log_dir, _ = logged_by_serve
    result = _tfpipe("skew", "iris", "--workdir", str(iris_run.workdir), "--request-log-dir", str(log_dir))
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("150 examples in the logged requests iris version")
    for name, line in zip(FEATURES, lines[1:5]):
        threshold = re.escape(f"{IRIS_DRIFT_THRESHOLD:g}")
        assert re.fullmatch(rf"  {name} +Jensen-Shannon divergence [0-9.e-]+ \(threshold {threshold}\)  ok", line), line
    assert lines[5] == "No skew: every feature's requests are within its threshold of the training data."


def test_skew_names_the_features_of_requests_in_millimetres(iris_run, tmp_path):
    serving_dir = copy_serving_tree(iris_run, tmp_path)
    server = start_server(serving_dir, request_log=RequestLogOptions(1.0, tmp_path / "logs"))
    try:
        in_millimetres = [{name: value * 10 for name, value in row.items()} for row in IRIS_ROWS]
        status, _ = rest(
            server, "/v1/models/iris:predict", {"signature_name": JSON_SIGNATURE, "instances": in_millimetres}
        )
        assert status == 200
    finally:
        server.stop()
    result = _tfpipe("skew", "iris", "--workdir", str(iris_run.workdir), "--request-log-dir", str(tmp_path / "logs"))
    assert result.returncode == 1, result.stdout + result.stderr
    skewed = [line.split()[0] for line in result.stdout.splitlines() if line.endswith("  skewed")]
    assert {"sepal_length", "sepal_width", "petal_length"} <= set(skewed)
    assert f"Skew: the requests' {', '.join(skewed)} moved away from the training data" in result.stdout


def test_skew_without_logs_says_how_to_log(iris_run, tmp_path):
    result = _tfpipe("skew", "iris", "--workdir", str(iris_run.workdir), "--request-log-dir", str(tmp_path))
    assert result.returncode == 2
    assert result.stderr == (
        f"tfpipe: No logged requests of iris in {tmp_path / 'iris' / 'request_logs'}: serve with request logging on "
        "(tfpipe serve --log-requests 0.1, for a tenth of the requests), send requests, then run tfpipe skew again.\n"
    )
