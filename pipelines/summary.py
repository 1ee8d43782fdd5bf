"""What a finished run produced, read back from ML Metadata: metrics, blessing, pushed model."""

from __future__ import annotations

import dataclasses

from ml_metadata import metadata_store
from ml_metadata.proto import metadata_store_pb2
import tensorflow_model_analysis as tfma
from tfx.orchestration import metadata

from pipelines.local_runner import ComponentRun

OVERALL = "overall"


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


def slice_metrics(evaluation_uri: str) -> dict[str, dict[str, float]]:
    """TFMA's scalar metrics by slice: {"overall": {...}, "species=0": {...}, ...}."""
    result = tfma.load_eval_result(evaluation_uri)
    table: dict[str, dict[str, float]] = {}
    for slice_key, by_output in result.slicing_metrics:
        name = " & ".join(f"{column}={value}" for column, value in slice_key) or OVERALL
        for by_sub_key in by_output.values():
            for metrics in by_sub_key.values():
                for metric, value in metrics.items():
                    if "doubleValue" in value:
                        table.setdefault(name, {})[metric] = value["doubleValue"]
    return dict(sorted(table.items(), key=lambda item: (item[0] != OVERALL, item[0])))


def blessing_failures(evaluation_uri: str) -> list[str]:
    """Why TFMA did not bless the model: one line per failed threshold."""
    result = tfma.load_validation_result(evaluation_uri)
    lines = []
    for per_slice in result.metric_validations_per_slice:
        for failure in per_slice.failures:
            name, value = failure.metric_key.name, failure.metric_value.double_value.value
            if failure.metric_key.is_diff:
                change = failure.metric_threshold.change_threshold.absolute.value
                lines.append(f"{name} changed by {value:+.4g} against the blessed baseline (allowed {change:+.4g})")
            else:
                bounds = failure.metric_threshold.value_threshold
                wanted = f">= {bounds.lower_bound.value:.4g}" if bounds.HasField("lower_bound") else f"<= {bounds.upper_bound.value:.4g}"
                lines.append(f"{name} {value:.4g}, required {wanted}")
    if result.missing_thresholds or result.missing_slices:
        lines.append("some thresholds or slices had no data")
    return lines


def summarize(metadata_path: str, components: dict[str, ComponentRun]) -> dict:
    """The run's key results, JSON-ready. Only components that finished contribute."""
    summary: dict = {"components": {node: dataclasses.asdict(run) for node, run in components.items()}}
    evaluator = components.get("Evaluator")
    if evaluator and evaluator.execution_id is not None and evaluator.status != "failed":
        outputs = outputs_of(metadata_path, evaluator.execution_id)
        evaluation_uri = outputs["evaluation"][0].uri
        summary["metrics"] = slice_metrics(evaluation_uri)
        blessed = outputs["blessing"][0].custom_properties["blessed"].int_value == 1
        summary["blessed"] = blessed
        if not blessed:
            summary["blessing_failures"] = blessing_failures(evaluation_uri)
    pusher = components.get("Pusher")
    if pusher and pusher.execution_id is not None and pusher.status != "failed":
        pushed = outputs_of(metadata_path, pusher.execution_id)["pushed_model"][0].custom_properties
        if pushed["pushed"].int_value == 1:
            summary["pushed_model"] = pushed["pushed_destination"].string_value
            summary["pushed_version"] = pushed["pushed_version"].string_value
    return summary
