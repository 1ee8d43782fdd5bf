"""What a finished run produced, read back from ML Metadata: metrics, blessing, pushed model."""

from __future__ import annotations

from pathlib import Path

from ml_metadata import metadata_store
from ml_metadata.proto import metadata_store_pb2
from tfx.orchestration import metadata
from tfx.types import standard_artifacts

from components import statistics_html
from components.evaluation import blessing_failures, slice_metrics
from components.example_gen import rejected_inputs
from components.infra_validator import FAILURE_PROPERTY
from components.training_record import TENSORBOARD_DIR
from components.tuner import read_search
from pipelines.config import UNLABELLED_EXAMPLE_GEN, PipelineConfig
from pipelines.outcome import RejectedInputs, RunResults
from pipelines.progress import ComponentRun

# The data statistics page (MLflow's data/statistics.html) in the run folder, for users without an
# MLflow UI at hand; written for a run the data gate stopped too.
STATISTICS_PAGE = "statistics.html"
# In the run folder, a link to the Trainer's TensorBoard events: `tensorboard --logdir workdir` names
# each run `<pipeline>/runs/<stamp>/tensorboard/{train,validation}`.
TENSORBOARD_LINK = "tensorboard"


def outputs_of(metadata_path: str, execution_id: int) -> dict[str, list[metadata_store_pb2.Artifact]]:
    """The output artifacts of one execution (a cached one included), by output key."""
    store = metadata_store.MetadataStore(metadata.sqlite_metadata_connection_config(metadata_path))
    events = [
        event
        for event in store.get_events_by_execution_ids([execution_id])
        if event.type in (metadata_store_pb2.Event.OUTPUT, metadata_store_pb2.Event.DECLARED_OUTPUT)
    ]
    artifacts = {a.id: a for a in store.get_artifacts_by_id([event.artifact_id for event in events])}
    outputs: dict[str, list[metadata_store_pb2.Artifact]] = {}
    for event in events:
        outputs.setdefault(event.path.steps[0].key, []).append(artifacts[event.artifact_id])
    return outputs


def latest_pipeline_run_id(metadata_path: str) -> str | None:
    """The TFX run id of the newest pipeline run in this ML Metadata store."""
    store = metadata_store.MetadataStore(metadata.sqlite_metadata_connection_config(metadata_path))
    runs = store.get_contexts_by_type("pipeline_run")
    return max(runs, key=lambda context: context.create_time_since_epoch).name if runs else None


# Rejected inputs the console shows; the full list is a file of the ExampleGen's output.
_REJECTED_SHOWN = 10


def summarize(
    metadata_path: str, components: dict[str, ComponentRun], config: PipelineConfig, run_dir: Path
) -> RunResults:
    """The run's key results; writes the data statistics page into `run_dir`. Only components that
    finished contribute."""
    results = RunResults()
    example_gen = next(
        (run for node, run in components.items() if node.endswith("ExampleGen") and node != UNLABELLED_EXAMPLE_GEN),
        None,
    )
    example_gen_outputs = _outputs_if_finished(metadata_path, example_gen)
    _read_examples(results, example_gen_outputs)
    statistics_gen_outputs = _outputs_if_finished(metadata_path, components.get("StatisticsGen"))
    validator_outputs = _outputs_if_finished(metadata_path, components.get("ExampleValidator"))
    if example_gen_outputs and statistics_gen_outputs and validator_outputs:
        statistics = standard_artifacts.ExampleStatistics()
        statistics.set_mlmd_artifact(statistics_gen_outputs["statistics"][0])
        anomalies = standard_artifacts.ExampleAnomalies()
        anomalies.set_mlmd_artifact(validator_outputs["anomalies"][0])
        # The examples StatisticsGen read, whose labels the page counts by class name.
        examples_read = standard_artifacts.Examples()
        examples_read.set_mlmd_artifact(example_gen_outputs["examples"][0])
        classes = (config.label_key, config.label_class_names())
        (run_dir / STATISTICS_PAGE).write_text(statistics_html.page(statistics, anomalies, examples_read, *classes))
        results.statistics_page = str(run_dir / STATISTICS_PAGE)
    results.tensorboard = _link_tensorboard_events(metadata_path, components.get("Trainer"), run_dir)
    evaluator_outputs = _outputs_if_finished(metadata_path, components.get("Evaluator"))
    if evaluator_outputs:
        evaluation_uri = evaluator_outputs["evaluation"][0].uri
        results.metrics = slice_metrics(evaluation_uri, config.label_key, config.label_class_names())
        results.blessed = evaluator_outputs["blessing"][0].custom_properties["blessed"].int_value == 1
        if not results.blessed:
            results.blessing_failures = blessing_failures(evaluation_uri)
    _read_infra_blessing(results, _outputs_if_finished(metadata_path, components.get("InfraValidator")))
    tuner_outputs = _outputs_if_finished(metadata_path, components.get("Tuner"))
    if tuner_outputs:
        results.search = read_search(tuner_outputs["tuner_results"][0].uri)
    tracker_outputs = _outputs_if_finished(metadata_path, components.get("MlflowTracker"))
    if tracker_outputs:
        with open(tracker_outputs["mlflow_run_id"][0].uri) as f:
            results.mlflow_run_id = f.read().strip()
    pusher_outputs = _outputs_if_finished(metadata_path, components.get("Pusher"))
    if pusher_outputs:
        pushed = pusher_outputs["pushed_model"][0].custom_properties
        if pushed["pushed"].int_value == 1:
            results.pushed_model = pushed["pushed_destination"].string_value
            results.pushed_version = pushed["pushed_version"].string_value
    bulk_inferrer_outputs = _outputs_if_finished(metadata_path, components.get("BulkInferrer"))
    if bulk_inferrer_outputs:
        folder = bulk_inferrer_outputs["inference_result"][0].uri
        # TFX's BulkInferrer publishes an empty folder for a model that is not blessed.
        results.inference_result = folder if any(Path(folder).glob("prediction_logs-*")) else ""
    return results


def _read_examples(results: RunResults, outputs: dict[str, list[metadata_store_pb2.Artifact]] | None) -> None:
    """The span the ExampleGen read, and the inputs it left out."""
    if not outputs:
        return
    examples = outputs["examples"][0]
    # TFX's ExampleGens record the span as a custom property, a component that sets `span` as a property.
    span = examples.properties["span"].int_value or examples.custom_properties["span"].int_value
    if span:
        results.span = span
    if rejected_inputs.PROPERTY in examples.custom_properties:
        lines = rejected_inputs.read(examples.uri)
        results.rejected_inputs = RejectedInputs(
            count=len(lines), list=rejected_inputs.list_path(examples.uri), first=lines[:_REJECTED_SHOWN]
        )


def _read_infra_blessing(results: RunResults, outputs: dict[str, list[metadata_store_pb2.Artifact]] | None) -> None:
    if outputs:
        properties = outputs["blessing"][0].custom_properties
        results.infra_blessed = properties["blessed"].int_value == 1
        results.infra_failure = properties[FAILURE_PROPERTY].string_value if FAILURE_PROPERTY in properties else ""


def _link_tensorboard_events(metadata_path: str, trainer: ComponentRun | None, run_dir: Path) -> str | None:
    """The run folder's link to the Trainer's TensorBoard events, made here; None without them.
    TensorBoard names a run by its folder: runs/<stamp>/, not the Trainer's execution id."""
    outputs = _outputs_if_finished(metadata_path, trainer)
    events = Path(outputs["model_run"][0].uri) / TENSORBOARD_DIR if outputs else None
    if events is None or not events.is_dir():
        return None
    (run_dir / TENSORBOARD_LINK).symlink_to(events, target_is_directory=True)
    return str(run_dir / TENSORBOARD_LINK)


def _outputs_if_finished(
    metadata_path: str, run: ComponentRun | None
) -> dict[str, list[metadata_store_pb2.Artifact]] | None:
    """The component's outputs (outputs_of), or None when it did not run or failed."""
    if run is None or run.execution_id is None or run.status == "failed":
        return None
    return outputs_of(metadata_path, run.execution_id)
