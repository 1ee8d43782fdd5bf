"""`tfpipe skew`: the requests a served model answered against the training data of the run that pushed it.

The requests are those `tfpipe serve --log-requests` logged for the pipeline's model; of them, those the
newest logged version answered are compared, with the statistics of the train split StatisticsGen
computed in the run that pushed that version (its record names the version, and the StatisticsGen
execution whose output holds them), under the pipeline's schema (components/serving_skew.py).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING

from components import serving_skew
from pipelines import history
from pipelines.config import PipelineConfig
from pipelines.outcome import RunOutcome
from pipelines.workdir import Workdir

if TYPE_CHECKING:
    from tensorflow_metadata.proto.v0.statistics_pb2 import DatasetFeatureStatisticsList

# The split of StatisticsGen's statistics that the model was trained on.
TRAINING_SPLIT = "train"


class SkewNotComputed(Exception):
    """Skew cannot be computed: no logged requests, no run that pushed the version, requests that are not
    tabular; one sentence saying why and what to do."""


@dataclasses.dataclass(frozen=True)
class SkewReport:
    version: int
    requests: int
    """Logged examples compared: a request of several rows counts each."""
    logs: Path
    run_folder: Path
    """The run that pushed `version`, whose training data's statistics the requests are compared with."""
    skews: list[serving_skew.FeatureSkew]

    @property
    def skewed(self) -> list[serving_skew.FeatureSkew]:
        return [skew for skew in self.skews if skew.skewed]


def serving_skew_report(workdir: Path, config: PipelineConfig, log_directory: Path) -> SkewReport:
    """The skew of each feature the schema lets TFDV compare, between the requests logged for `config`'s model
    under `log_directory` (serve's --request-log-dir) and its training data; SkewNotComputed if it cannot be."""
    from google.protobuf import text_format
    from tensorflow_metadata.proto.v0 import schema_pb2

    from serving.request_log import logs_folder, read_prediction_logs

    if not config.schema_path.is_file():
        raise SkewNotComputed(
            f"{config.name} has no schema at {config.schema_path} yet: its first run writes the one requests are "
            "compared under."
        )
    schema = text_format.Parse(config.schema_path.read_text(), schema_pb2.Schema())
    compared = serving_skew.compared_features(schema, config.label_key)
    if not compared.feature:
        raise SkewNotComputed(
            f"Skew is not computed for {config.name}: its requests carry no number or category its schema "
            f"{config.schema_path} describes (images, audio or text, whose statistics TFDV's skew comparators "
            "do not measure)."
        )
    logs = logs_folder(log_directory, config.model_name)
    feature_names = {feature.name for feature in compared.feature}
    by_version = serving_skew.logged_examples(read_prediction_logs(logs), feature_names)
    if not by_version:
        raise SkewNotComputed(
            f"No logged requests of {config.model_name} in {logs}: serve with request logging on "
            "(tfpipe serve --log-requests 0.1, for a tenth of the requests), send requests, then run tfpipe skew "
            "again."
        )
    version = max(by_version)
    found = history.pushing_run(workdir, config.name, version)
    if found is None:
        raise SkewNotComputed(
            f"No run in {workdir / config.name / 'runs'} pushed {config.model_name} version {version}, which answered "
            f"the requests logged in {logs}; pass the --workdir of the run that pushed it."
        )
    run_folder, outcome = found
    training = _training_statistics(Workdir(workdir, config.name), outcome)
    if training is None:
        raise SkewNotComputed(
            f"The run {run_folder} that pushed version {version} has no training statistics left (its pipeline "
            "root was cleaned); run the pipeline again to serve a version they can be compared with."
        )
    examples = by_version[version]
    skews = serving_skew.feature_skews(compared, training, serving_skew.statistics_of(examples))
    return SkewReport(version, len(examples), logs, run_folder, skews)


def _training_statistics(workdir: Workdir, outcome: RunOutcome) -> DatasetFeatureStatisticsList | None:
    """The train split's statistics of the run's StatisticsGen (its own execution, or the one it reused from
    the cache), or None if the run has none or they are gone."""
    import tensorflow as tf
    from tfx.types import standard_artifacts

    from components.validation_gate import read_statistics
    from pipelines.summary import outputs_of

    statistics_gen = outcome.components.get("StatisticsGen")
    if statistics_gen is None or statistics_gen.execution_id is None or not workdir.metadata_path.is_file():
        return None
    outputs = outputs_of(str(workdir.metadata_path), statistics_gen.execution_id).get("statistics")
    if not outputs:
        return None
    statistics = standard_artifacts.ExampleStatistics()
    statistics.set_mlmd_artifact(outputs[0])
    try:
        return read_statistics(statistics).get(TRAINING_SPLIT)
    except (OSError, tf.errors.NotFoundError):  # the pipeline root was cleaned
        return None
