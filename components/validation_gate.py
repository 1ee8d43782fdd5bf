"""DataValidationGate: stops a run whose data has anomalies, before anything is trained.

TFX's ExampleValidator records anomalies (and a `blessed` flag per split) but
lets the pipeline go on; TFX 1.16 has no standard component that fails on
them. This one fails the run with a readable list, so Transform, Trainer and
Pusher never see data that does not match the curated schema.
"""

import os

from tensorflow_metadata.proto.v0 import anomalies_pb2
from tfx.dsl.component.experimental.annotations import InputArtifact, Parameter
from tfx.dsl.component.experimental.decorators import component
from tfx.dsl.io import fileio
from tfx.types import artifact_utils, standard_artifacts

# Where ExampleValidator writes each split's anomalies (tfx example_validator executor).
_ANOMALIES_FILE = "SchemaDiff.pb"

class DataAnomaliesError(RuntimeError):
    """The data does not match the schema; `problems` lists what, one line per column."""

    def __init__(self, data_dir: str, schema_path: str, problems: list[str]):
        self.headline = f"Data in {data_dir} does not match the schema {schema_path}"
        self.problems = problems
        super().__init__(f"{self.headline}: {'; '.join(problems)}. Nothing was trained or pushed.")

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
    anomalies: InputArtifact[standard_artifacts.ExampleAnomalies],
    data_dir: Parameter[str],
    schema_path: Parameter[str],
):
    """Fails with DataAnomaliesError when ExampleValidator found any anomaly."""
    problems = describe_anomalies(read_anomalies(anomalies))
    if problems:
        raise DataAnomaliesError(data_dir, schema_path, problems)
