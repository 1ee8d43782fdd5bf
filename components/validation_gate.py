"""DataValidationGate: stops a run whose data has anomalies, before anything is trained.

TFX's ExampleValidator records anomalies (and a `blessed` flag per split) but
lets the pipeline go on; TFX 1.16 has no standard component that fails on
them. This one fails the run with a readable list, so Transform, Trainer and
Pusher never see data that does not match the curated schema.
"""

import json
import os

from absl import logging
from tensorflow_metadata.proto.v0 import anomalies_pb2
from tfx.dsl.component.experimental.annotations import InputArtifact, Parameter
from tfx.dsl.component.experimental.decorators import component
from tfx.dsl.io import fileio
from tfx.types import artifact_utils, standard_artifacts

from components import mlflow_tracking as tracking

# Where ExampleValidator writes each split's anomalies (tfx example_validator executor).
_ANOMALIES_FILE = "SchemaDiff.pb"


class InputDataError(RuntimeError):
    """The input data can't be used: `headline` says where, `problems` what, one line each."""

    def __init__(self, headline: str, problems: list[str]):
        self.headline = headline
        self.problems = problems
        super().__init__(f"{headline}: {'; '.join(problems)}. Nothing was trained or pushed.")


class DataAnomaliesError(InputDataError):
    """The data does not match the schema; one problem per column."""

    def __init__(self, data_dir: str, schema_path: str, problems: list[str]):
        super().__init__(f"Data in {data_dir} does not match the schema {schema_path}", problems)


def describe_anomalies(anomalies_by_split: dict[str, anomalies_pb2.Anomalies]) -> list[str]:
    """One line per anomalous column (or the data set as a whole), naming the splits it was seen in."""
    reasons: dict[str, list[str]] = {}
    splits: dict[str, list[str]] = {}
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
    return [f"{where} ({', '.join(splits[where])} split): {'; '.join(reasons[where])}" for where in reasons]


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
    anomalies: InputArtifact[standard_artifacts.ExampleAnomalies],
    schema_path: Parameter[str],
    run_context: Parameter[str],
    pipeline_run_id: Parameter[str],
):
    """Fails with DataAnomaliesError when ExampleValidator found any anomaly, after
    recording the run in MLflow as FAILED with the reason (`run_context`: see mlflow_tracking)."""
    problems = describe_anomalies(read_anomalies(anomalies))
    if not problems:
        return
    error = DataAnomaliesError(json.loads(run_context)["data_dir"], schema_path, problems)
    try:
        context = tracking.load_context(run_context)
        run_id = tracking.start_run(
            context,
            pipeline_run_id,
            tags={tracking.TAG_DATA_FINGERPRINT: examples.get_string_custom_property("input_fingerprint")},
        )
        tracking.fail_run(context["tracking_uri"], run_id, str(error), details="\n".join(problems))
    except Exception:  # An unreachable tracking server must not hide what is wrong with the data.
        logging.exception("Could not record the rejected run in MLflow.")
    raise error
