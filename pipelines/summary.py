"""What a finished run produced, read back from ML Metadata: metrics, blessing, pushed model."""

from __future__ import annotations

import dataclasses

from ml_metadata import metadata_store
from ml_metadata.proto import metadata_store_pb2
from tfx.orchestration import metadata

from components.evaluation import blessing_failures, slice_metrics
from components.example_gen import rejected_inputs
from pipelines.progress import ComponentRun


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


def summarize(metadata_path: str, components: dict[str, ComponentRun]) -> dict:
    """The run's key results, JSON-ready. Only components that finished contribute."""
    summary: dict = {"components": {node: dataclasses.asdict(run) for node, run in components.items()}}
    example_gen = next((run for node, run in components.items() if node.endswith("ExampleGen")), None)
    if example_gen and example_gen.execution_id is not None and example_gen.status != "failed":
        examples = outputs_of(metadata_path, example_gen.execution_id)["examples"][0]
        if rejected_inputs.PROPERTY in examples.custom_properties:
            lines = rejected_inputs.read(examples.uri)
            summary["rejected_inputs"] = {
                "count": len(lines),
                "list": rejected_inputs.list_path(examples.uri),
                "first": lines[:_REJECTED_SHOWN],
            }
    evaluator = components.get("Evaluator")
    if evaluator and evaluator.execution_id is not None and evaluator.status != "failed":
        outputs = outputs_of(metadata_path, evaluator.execution_id)
        evaluation_uri = outputs["evaluation"][0].uri
        summary["metrics"] = slice_metrics(evaluation_uri)
        blessed = outputs["blessing"][0].custom_properties["blessed"].int_value == 1
        summary["blessed"] = blessed
        if not blessed:
            summary["blessing_failures"] = blessing_failures(evaluation_uri)
    tracker = components.get("MlflowTracker")
    if tracker and tracker.execution_id is not None and tracker.status != "failed":
        run_id_file = outputs_of(metadata_path, tracker.execution_id)["mlflow_run_id"][0].uri
        with open(run_id_file) as f:
            summary["mlflow_run_id"] = f.read().strip()
    pusher = components.get("Pusher")
    if pusher and pusher.execution_id is not None and pusher.status != "failed":
        pushed = outputs_of(metadata_path, pusher.execution_id)["pushed_model"][0].custom_properties
        if pushed["pushed"].int_value == 1:
            summary["pushed_model"] = pushed["pushed_destination"].string_value
            summary["pushed_version"] = pushed["pushed_version"].string_value
    return summary
