"""DataValidationGate: stops a run whose data has anomalies, before anything is trained.

TFX's ExampleValidator records anomalies (and a `blessed` flag per split) but
lets the pipeline go on; TFX 1.16 has no standard component that fails on
them. This one fails the run with a readable list, so Transform, Trainer and
Pusher never see data that does not match the curated schema (NaN and inf
included: the schemas disallow them, and for CSV data the gate names the file
and line of the first), a split with fewer examples than the pipeline needs
(StatisticsGen's counts against the config's min_split_examples), or, where the
label is a class, a split in which a class has fewer examples than the config's
min_class_examples (none at all, say: a model that never saw a class would be
pushed). StatisticsGen's statistics of an integer label are quantiles, not counts
per value, so the gate counts the labels in the examples itself.

Drift: where the schema gives features drift comparators (L-infinity for categorical features,
Jensen-Shannon divergence for numeric ones), the gate compares each split's statistics with the same
split of the last data it let through (`previous_statistics`, its own `accepted_statistics` of an earlier
run), with TFDV's `validate_statistics`, and stops a run whose data moved further than a threshold.
TFX 1.16's ExampleValidator takes no previous statistics (its executor never passes them to TFDV), so
drift is checked here. Comparing with the last accepted data, not simply the last run's, means a rejected
span is never the baseline: the same span fixed and run again is compared with what came before it.
"""

import csv
import json
import math
import os

import numpy as np
import tensorflow as tf
from absl import logging
from tensorflow_metadata.proto.v0 import anomalies_pb2, schema_pb2, statistics_pb2
from tfx.dsl.component.experimental.annotations import InputArtifact, OutputArtifact, Parameter
from tfx.dsl.component.experimental.decorators import component
from tfx.dsl.components.common.resolver import Resolver
from tfx.dsl.input_resolution.strategies.latest_artifact_strategy import LatestArtifactStrategy
from tfx.dsl.io import fileio
from tfx.types import Channel, artifact_utils, standard_artifacts
from tfx.utils import io_utils

from components import mlflow_tracking as tracking

# Where ExampleValidator writes each split's anomalies (tfx example_validator executor), and
# StatisticsGen each split's statistics.
_ANOMALIES_FILE = "SchemaDiff.pb"
_STATISTICS_FILE = "FeatureStats.pb"
# The gate's node id in the DAG, which the resolver of its earlier outputs names.
GATE_ID = "DataValidationGate"
# Anomalies of values that are not finite numbers (the schema's float_domain disallow_nan / disallow_inf).
_NON_FINITE = {anomalies_pb2.AnomalyInfo.FLOAT_TYPE_HAS_NAN, anomalies_pb2.AnomalyInfo.FLOAT_TYPE_HAS_INF}
# Files named in a problem, at most.
_FILES_SHOWN = 3


class InputDataError(RuntimeError):
    """The input data can't be used: `headline` says where, `problems` what, one line each."""

    def __init__(self, headline: str, problems: list[str]):
        self.headline = headline
        self.problems = problems
        super().__init__(f"{headline}: {'; '.join(problems)}. Nothing was trained or pushed.")


class DataAnomaliesError(InputDataError):
    """The data does not match the schema, or is too little to train on; one problem per line."""

    def __init__(
        self, data_dir: str, schema_path: str, problems: list[str], too_little: bool = False, drifted: bool = False
    ):
        headline = f"Data in {data_dir} does not match the schema {schema_path}"
        if too_little:
            headline = f"Data in {data_dir} is too little for the pipeline"
        if drifted:
            headline = f"Data in {data_dir} drifted beyond the thresholds of the schema {schema_path}"
        super().__init__(headline, problems)


def _read_schema(schema: standard_artifacts.Schema) -> schema_pb2.Schema:
    from google.protobuf import text_format

    [path] = fileio.glob(os.path.join(schema.uri, "*.pbtxt"))
    with fileio.open(path) as f:
        return text_format.Parse(f.read(), schema_pb2.Schema())


def describe_anomalies(anomalies_by_split: dict[str, anomalies_pb2.Anomalies], data_dir: str = "") -> list[str]:
    """One line per anomalous column (or the data set as a whole), naming the splits it was seen in;
    for values that are not finite numbers, the CSV file and line of the first (if `data_dir` holds CSV files)."""
    reasons: dict[str, list[str]] = {}
    splits: dict[str, list[str]] = {}
    non_finite: set[str] = set()
    for split, anomalies in sorted(anomalies_by_split.items()):
        found = {f"column '{column}'": info for column, info in sorted(anomalies.anomaly_info.items())}
        if anomalies.HasField("dataset_anomaly_info"):
            found["the data set"] = anomalies.dataset_anomaly_info
        for where, info in found.items():
            splits.setdefault(where, []).append(split)
            # Splits can word the same problem differently (only one may hold
            # an example value): keep every distinct reason once.
            for reason in _reasons(info):
                if reason not in reasons.setdefault(where, []):
                    reasons[where].append(reason)
            if any(reason.type in _NON_FINITE for reason in info.reason):
                non_finite.add(where)
    lines = []
    for where in reasons:
        line = f"{where} ({', '.join(splits[where])} split): {'; '.join(reasons[where])}"
        if where in non_finite and data_dir:
            line += _non_finite_cells(data_dir, where.removeprefix("column '").removesuffix("'"))
        lines.append(line)
    return lines


def _csv_files(data_dir: str) -> list[str]:
    if not os.path.isdir(data_dir):  # a path of another machine (a compiled pipeline's container)
        return []
    return sorted(
        os.path.join(data_dir, name)
        for name in os.listdir(data_dir)
        if name.lower().endswith(".csv") and os.path.isfile(os.path.join(data_dir, name))
    )


def _non_finite_cells(data_dir: str, column: str) -> str:
    """Where the CSV files in `data_dir` hold a value of `column` that is not a finite number:
    ", first in <file> line <n> ('nan'); <count> such value(s) in all, ...", or "" if none is found."""
    found = []
    for path in _csv_files(data_dir):
        with open(path, newline="", encoding="utf-8-sig", errors="replace") as f:
            reader = csv.reader(f)
            header = next(reader, [])
            if column not in header:
                continue
            index = header.index(column)
            for row in reader:
                raw = row[index].strip() if index < len(row) else ""
                try:
                    if math.isfinite(float(raw)):
                        continue
                except ValueError:
                    continue  # text, not a number: the schema's type check names it
                found.append((os.path.basename(path), reader.line_num, raw))
    if not found:
        return ""
    name, line, raw = found[0]
    return f", first in {name} line {line} ({raw!r}); {len(found)} such value(s) in all, expected finite numbers"


def split_size_problems(statistics_by_split: dict[str, int], needed: dict[str, list], data_dir: str) -> list[str]:
    """One line per split with fewer examples than the pipeline needs.

    `statistics_by_split`: examples per split; `needed`: split -> [examples needed, why]."""
    files = [os.path.basename(path) for path in _csv_files(data_dir)]
    source = ""
    if files:
        shown = ", ".join(files[:_FILES_SHOWN]) + (
            f" and {len(files) - _FILES_SHOWN} more" if len(files) > _FILES_SHOWN else ""
        )
        source = f" (from {shown})"
    problems = []
    for split, count in sorted(statistics_by_split.items()):
        least, why = needed.get(split, [1, "one example"])
        if count < least:
            problems.append(
                f"the {split} split has {count} example(s){source}; the pipeline needs at least {least}: {why}"
            )
    return problems


def examples_per_class(examples: standard_artifacts.Examples, label_key: str, class_count: int) -> dict[str, list[int]]:
    """How many examples of each class index (0 to class_count - 1) each split of `examples` holds;
    empty when a label is not one integer in every example (the schema's check names that)."""
    counts = {}
    for split in artifact_utils.decode_split_names(examples.split_names):
        files = fileio.glob(os.path.join(artifact_utils.get_split_uri([examples], split), "*"))
        labels = (
            tf.data.TFRecordDataset(files, compression_type="GZIP")
            .batch(4096)
            .map(lambda records: tf.io.parse_example(records, {label_key: tf.io.FixedLenFeature([], tf.int64)}))
        )
        found = np.zeros(class_count, dtype=np.int64)
        try:
            for batch in labels:
                values = batch[label_key].numpy()
                found += np.bincount(values[(values >= 0) & (values < class_count)], minlength=class_count)
        except tf.errors.InvalidArgumentError:
            return {}
        counts[split] = found.tolist()
    return counts


def class_size_problems(counts: dict[str, list[int]], class_names: list[str], least: int) -> list[str]:
    """One line per split in which some class has fewer than `least` examples, naming those classes."""
    problems = []
    for split, per_class in sorted(counts.items()):
        short = [f"{name!r} ({count})" for name, count in zip(class_names, per_class) if count < least]
        if short:
            problems.append(
                f"the {split} split has fewer than {least} example(s) of class {', '.join(short)}; every class "
                f"needs at least {least} in each split (min_class_examples): add examples of each, or leave it out "
                "of the pipeline's classes"
            )
    return problems


def read_statistics(
    statistics: standard_artifacts.ExampleStatistics,
) -> dict[str, statistics_pb2.DatasetFeatureStatisticsList]:
    """StatisticsGen's statistics of each split."""
    result = {}
    for split in artifact_utils.decode_split_names(statistics.split_names):
        path = os.path.join(artifact_utils.get_split_uri([statistics], split), _STATISTICS_FILE)
        with fileio.open(path, "rb") as f:
            result[split] = statistics_pb2.DatasetFeatureStatisticsList.FromString(f.read())
    return result


def examples_per_split(statistics: standard_artifacts.ExampleStatistics) -> dict[str, int]:
    """How many examples StatisticsGen counted in each split."""
    return {
        split: sum(dataset.num_examples for dataset in found.datasets)
        for split, found in read_statistics(statistics).items()
    }


# The names of TFDV's drift and skew distances, as sentences say them.
MEASURE_NAMES = {
    anomalies_pb2.DriftSkewInfo.Measurement.L_INFTY: "L-infinity distance",
    anomalies_pb2.DriftSkewInfo.Measurement.JENSEN_SHANNON_DIVERGENCE: "Jensen-Shannon divergence",
}


def drift_problems(
    schema: schema_pb2.Schema,
    current: dict[str, statistics_pb2.DatasetFeatureStatisticsList],
    previous: dict[str, statistics_pb2.DatasetFeatureStatisticsList],
) -> list[str]:
    """One line per feature and split whose distance from the previous statistics of the split is above its
    drift comparator's threshold in `schema`, naming the distance and the threshold."""
    import tensorflow_data_validation as tfdv

    comparators = schema_pb2.Schema()
    for feature in schema.feature:
        if feature.HasField("drift_comparator"):
            # Only the comparators: every other constraint is ExampleValidator's to report.
            compared = comparators.feature.add(name=feature.name, type=feature.type)
            compared.drift_comparator.CopyFrom(feature.drift_comparator)
    if not comparators.feature:
        return []
    problems = []
    for split in sorted(set(current) & set(previous)):
        anomalies = tfdv.validate_statistics(current[split], comparators, previous_statistics=previous[split])
        for info in anomalies.drift_skew_info:
            feature = ".".join(info.path.step)
            for measurement in info.drift_measurements:
                if measurement.value > measurement.threshold:
                    problems.append(
                        f"column '{feature}' ({split} split) drifted from the last data that passed this gate: "
                        f"{MEASURE_NAMES.get(measurement.type, 'distance')} {measurement.value:.3g}, above the "
                        f"schema's threshold {measurement.threshold:g}"
                    )
    return problems


def _reasons(info: anomalies_pb2.AnomalyInfo) -> list[str]:
    return [reason.description.rstrip(".") for reason in info.reason if reason.description] or [info.description]


def read_anomalies(anomalies: standard_artifacts.ExampleAnomalies) -> dict[str, anomalies_pb2.Anomalies]:
    result = {}
    for split in artifact_utils.decode_split_names(anomalies.split_names):
        path = os.path.join(artifact_utils.get_split_uri([anomalies], split), _ANOMALIES_FILE)
        with fileio.open(path, "rb") as f:
            result[split] = anomalies_pb2.Anomalies.FromString(f.read())
    return result


# No `from __future__ import annotations` here: the decorator reads real type objects.
@component
def DataValidationGate(
    examples: InputArtifact[standard_artifacts.Examples],
    statistics: InputArtifact[standard_artifacts.ExampleStatistics],
    anomalies: InputArtifact[standard_artifacts.ExampleAnomalies],
    schema: InputArtifact[standard_artifacts.Schema],
    accepted_statistics: OutputArtifact[standard_artifacts.ExampleStatistics],
    schema_path: Parameter[str],
    data_dir: Parameter[str],
    min_examples: Parameter[str],
    label_key: Parameter[str],
    class_names: Parameter[str],
    min_class_examples: Parameter[int],
    run_context: Parameter[str],
    pipeline_run_id: Parameter[str],
    # Optional: a default of None (TFX's decorator takes no Optional[...] around an InputArtifact).
    previous_statistics: InputArtifact[standard_artifacts.ExampleStatistics] = None,
):
    """Fails with DataAnomaliesError when ExampleValidator found any anomaly or a split holds fewer
    examples than the pipeline needs (`min_examples`: JSON, split -> [count, why]), or fewer than
    `min_class_examples` of one of `class_names` (JSON, by class index of `label_key`; [] where the label
    is no class), or drifted from `previous_statistics` beyond the schema's drift comparators, after
    recording the run in MLflow as FAILED with the reason (`run_context`: see mlflow_tracking). `data_dir` is
    the data folder, where problems are looked up to name the file and line. Data it lets through is
    published as `accepted_statistics`, the next run's `previous_statistics`, and starts the run's MLflow
    run, which the Trainer's epochs reach while it trains and MlflowTracker completes."""
    counts = examples_per_split(statistics)
    size_problems = split_size_problems(counts, json.loads(min_examples), data_dir)
    names = json.loads(class_names)
    # A split too small for the pipeline already says "add data"; its classes are counted once it is not.
    if names and min_class_examples and not size_problems:
        size_problems = class_size_problems(
            examples_per_class(examples, label_key, len(names)), names, min_class_examples
        )
    # An empty split's anomalies (every column "missing") say nothing more than its size does.
    found = {split: found for split, found in read_anomalies(anomalies).items() if counts.get(split, 1) > 0}
    problems = describe_anomalies(found, data_dir) + size_problems
    drifted: list[str] = []
    if previous_statistics is not None and not problems:
        drifted = drift_problems(
            _read_schema(schema), read_statistics(statistics), read_statistics(previous_statistics)
        )
    fingerprint = {tracking.TAG_DATA_FINGERPRINT: examples.get_string_custom_property("input_fingerprint")}
    if not problems and not drifted:
        io_utils.copy_dir(statistics.uri, accepted_statistics.uri)
        accepted_statistics.split_names = statistics.split_names
        try:
            tracking.start_run(tracking.RunContext.from_json(run_context).resolved(), pipeline_run_id, fingerprint)
        except Exception:  # Tracking is not the data's problem: MlflowTracker starts the run, or says why not.
            logging.exception("Could not start the run in MLflow.")
        return
    context = tracking.RunContext.from_json(run_context)
    too_little = bool(size_problems) and len(size_problems) == len(problems)
    problems = problems or drifted
    error = DataAnomaliesError(context.data_dir, schema_path, problems, too_little=too_little, drifted=bool(drifted))
    try:
        context = context.resolved()
        run_id = tracking.start_run(context, pipeline_run_id, fingerprint)
        tracking.fail_run(context.tracking_uri, run_id, str(error), details="\n".join(problems))
    except Exception:  # An unreachable tracking server must not hide what is wrong with the data.
        logging.exception("Could not record the rejected run in MLflow.")
    raise error


def accepted_statistics() -> Resolver:
    """A Resolver node whose `statistics` output is the gate's latest `accepted_statistics` (none on a first
    run): TFX's own strategy, which every orchestrator compiles. It resolves before this run's gate runs."""
    return Resolver(
        strategy_class=LatestArtifactStrategy,
        statistics=Channel(
            type=standard_artifacts.ExampleStatistics, producer_component_id=GATE_ID, output_key="accepted_statistics"
        ),
    ).with_id("accepted_statistics_resolver")
