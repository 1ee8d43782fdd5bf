"""Training-serving skew: the logged requests' statistics against the training data's, with TFDV's skew comparators.

The requests `tfpipe serve --log-requests` logged (serving/request_log.py: TF Serving's PredictionLog
records) are turned back into the raw tf.Examples the pipeline's schema describes: Classify and Regress
requests carry them; a Predict request carries them serialized (`serving_default`'s `examples`) or as one
tensor per raw feature (the JSON signature), a row per example. TFDV computes their statistics as
StatisticsGen computes the training data's, and `tfdv.validate_statistics(training, schema,
serving_statistics=...)` measures each feature's distance: L-infinity for categorical features,
Jensen-Shannon divergence for numeric ones (schema `skew_comparator`).

Thresholds: a feature's own `skew_comparator` in the schema; else its `drift_comparator`'s threshold (the
same distance, chosen from measurements on the shipped data: how far the data may move before a model
trained on it is stale is as far as requests may move from it); else DEFAULT_THRESHOLDS.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Iterable

import numpy as np
import tensorflow as tf
from tensorflow_metadata.proto.v0 import schema_pb2, statistics_pb2
from tensorflow_serving.apis import input_pb2, prediction_log_pb2

from components.tf_example import serialized
from components.validation_gate import MEASURE_NAMES

# Where the schema gives a feature no threshold. Both distances lie in [0, 1] (TFDV's Jensen-Shannon
# divergence is in bits). A sample of requests is small beside the training data, so its histogram is
# noisy and the threshold leaves room for that; a change of unit moves a distribution almost wholly out
# of the training data's range, near 1. tests/test_serving_skew.py checks both sides on iris: its 150
# rows sent as requests pass, the same rows in millimetres do not.
DEFAULT_THRESHOLDS = {"infinity_norm": 0.3, "jensen_shannon_divergence": 0.3}


@dataclasses.dataclass(frozen=True)
class FeatureSkew:
    """One feature's distance between the requests and the training data."""

    feature: str
    measure: str
    distance: float
    threshold: float

    @property
    def skewed(self) -> bool:
        return self.distance > self.threshold


def compared_features(schema: schema_pb2.Schema, label_key: str) -> schema_pb2.Schema:
    """A schema of only the skew comparators of the features a request carries and TFDV can compare:
    numbers (Jensen-Shannon divergence) and categories (L-infinity: a string domain, or a categorical
    drift comparator); not the label, not free text or file bytes (images, audio), whose value
    distribution says nothing. Empty when the schema has no such feature."""
    compared = schema_pb2.Schema()
    for feature in schema.feature:
        if feature.name == label_key or "SERVING" in feature.not_in_environment:
            continue
        given = feature.skew_comparator if feature.HasField("skew_comparator") else feature.drift_comparator
        categorical = given.HasField("infinity_norm") or feature.HasField("domain") or feature.HasField("string_domain")
        if feature.type == schema_pb2.BYTES and not categorical:
            continue
        if feature.type not in (schema_pb2.FLOAT, schema_pb2.INT, schema_pb2.BYTES):
            continue
        kind = "infinity_norm" if categorical else "jensen_shannon_divergence"
        entry = compared.feature.add(name=feature.name, type=feature.type)
        entry.skew_comparator.CopyFrom(given if given.HasField(kind) else _comparator(kind))
        if feature.HasField("domain"):  # the categorical's domain, by name, as the schema gives it
            entry.domain = feature.domain
            compared.string_domain.extend(domain for domain in schema.string_domain if domain.name == feature.domain)
    return compared


def _comparator(kind: str) -> schema_pb2.FeatureComparator:
    comparator = schema_pb2.FeatureComparator()
    getattr(comparator, kind).threshold = DEFAULT_THRESHOLDS[kind]
    return comparator


def logged_examples(
    records: Iterable[prediction_log_pb2.PredictionLog], feature_names: set[str]
) -> dict[int, list[bytes]]:
    """The raw tf.Examples (serialized) of the logged requests, by the model version that answered them;
    a request that carries none of `feature_names` (another signature's inputs) gives none."""
    examples: dict[int, list[bytes]] = {}
    for record in records:
        version = record.log_metadata.model_spec.version.value
        examples.setdefault(version, []).extend(_request_examples(record, feature_names))
    return {version: found for version, found in examples.items() if found}


def _request_examples(record: prediction_log_pb2.PredictionLog, feature_names: set[str]) -> list[bytes]:
    kind = record.WhichOneof("log_type")
    if kind in ("classify_log", "regress_log"):
        return _input_examples(getattr(record, kind).request.input)
    if kind != "predict_log":
        return []
    arrays = {name: tf.make_ndarray(proto) for name, proto in record.predict_log.request.inputs.items()}
    by_feature = {name: array for name, array in arrays.items() if name in feature_names and array.ndim}
    if by_feature:
        rows = min(len(array) for array in by_feature.values())
        return [serialized({name: array[row].ravel() for name, array in by_feature.items()}) for row in range(rows)]
    found = []
    for array in arrays.values():
        if array.dtype == object:
            found += [value for value in array.ravel().tolist() if _is_example_of(value, feature_names)]
    return found


def _input_examples(examples: input_pb2.Input) -> list[bytes]:
    """Classify's and Regress's examples, each with the context's features (TF Serving's merge)."""
    if examples.WhichOneof("kind") == "example_list_with_context":
        context = examples.example_list_with_context.context.SerializeToString()
        return [context + example.SerializeToString() for example in examples.example_list_with_context.examples]
    return [example.SerializeToString() for example in examples.example_list.examples]


def _is_example_of(value: bytes, feature_names: set[str]) -> bool:
    """Whether `value` is a whole serialized tf.Example with one of `feature_names` (not an image's bytes)."""
    example = tf.train.Example()
    with warnings.catch_warnings():  # protobuf warns of bytes that end a group they never opened, and stops there
        warnings.simplefilter("ignore", RuntimeWarning)
        try:
            whole = example.MergeFromString(value) == len(value)
        except Exception:  # protobuf's DecodeError, or bytes that are no message at all
            return False
    return whole and bool(set(example.features.feature) & feature_names)


def statistics_of(examples: list[bytes]) -> statistics_pb2.DatasetFeatureStatisticsList:
    """TFDV's statistics of serialized tf.Examples, computed in memory (StatisticsGen's options: the defaults)."""
    import tensorflow_data_validation as tfdv
    from tensorflow_data_validation.statistics import stats_impl
    from tfx_bsl.coders import example_coder

    batch = example_coder.ExamplesToRecordBatchDecoder().DecodeBatch(np.array(examples, dtype=object))
    return stats_impl.generate_statistics_in_memory(batch, tfdv.StatsOptions())


def feature_skews(
    compared: schema_pb2.Schema,
    training: statistics_pb2.DatasetFeatureStatisticsList,
    serving: statistics_pb2.DatasetFeatureStatisticsList,
) -> list[FeatureSkew]:
    """Each compared feature's distance and threshold (`compared`: `compared_features`), in schema order."""
    import tensorflow_data_validation as tfdv

    anomalies = tfdv.validate_statistics(training, compared, serving_statistics=serving)
    measured = {
        ".".join(info.path.step): measurement
        for info in anomalies.drift_skew_info
        for measurement in info.skew_measurements
    }
    return [
        FeatureSkew(
            feature.name,
            MEASURE_NAMES.get(measured[feature.name].type, "distance"),
            measured[feature.name].value,
            measured[feature.name].threshold,
        )
        for feature in compared.feature
        if feature.name in measured
    ]
