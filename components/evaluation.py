"""Reading TFMA's results: metrics by slice, why a model was not blessed, the confusion matrix."""

import re

import tensorflow_model_analysis as tfma
from tensorflow_model_analysis.writers import eval_config_writer

OVERALL = "overall"


def _candidate_result(evaluation_uri: str):
    """TFMA's result for the model being evaluated. Once a baseline exists, TFX's Evaluator scores
    two models, `candidate` and `baseline`, and a result read without a model name holds neither's
    plots: the confusion matrix would vanish from every run after the first."""
    _, _, _, model_locations = eval_config_writer.load_eval_run(evaluation_uri)
    name = tfma.CANDIDATE_KEY if tfma.CANDIDATE_KEY in model_locations else None
    return tfma.load_eval_result(evaluation_uri, model_name=name)


def slice_metrics(evaluation_uri: str) -> dict[str, dict[str, float]]:
    """TFMA's scalar metrics by slice: {"overall": {...}, "species=0": {...}, ...}.

    A signature with several scored outputs names each metric `<output>/<metric>`."""
    result = _candidate_result(evaluation_uri)
    table: dict[str, dict[str, float]] = {}
    for slice_key, by_output in result.slicing_metrics:
        name = " & ".join(f"{column}={value}" for column, value in slice_key) or OVERALL
        for output, by_sub_key in by_output.items():
            for metrics in by_sub_key.values():
                for metric, value in metrics.items():
                    if "doubleValue" in value:
                        table.setdefault(name, {})[f"{output}/{metric}" if output else metric] = value["doubleValue"]
    return dict(sorted(table.items(), key=lambda item: (item[0] != OVERALL, _natural(item[0]))))


def _natural(name: str) -> list:
    """Sorts numbers in a slice name by value: context_length=2 before context_length=10."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def blessing_failures(evaluation_uri: str) -> list[str]:
    """Why TFMA did not bless the model: one line per failed threshold."""
    result = tfma.load_validation_result(evaluation_uri)
    lines = []
    for per_slice in result.metric_validations_per_slice:
        for failure in per_slice.failures:
            key = failure.metric_key
            name, value = (
                f"{key.output_name}/{key.name}" if key.output_name else key.name,
                failure.metric_value.double_value.value,
            )
            if failure.metric_key.is_diff:
                change = failure.metric_threshold.change_threshold.absolute.value
                lines.append(f"{name} changed by {value:+.4g} against the blessed baseline (allowed {change:+.4g})")
            else:
                bounds = failure.metric_threshold.value_threshold
                wanted = (
                    f">= {bounds.lower_bound.value:.4g}"
                    if bounds.HasField("lower_bound")
                    else f"<= {bounds.upper_bound.value:.4g}"
                )
                lines.append(f"{name} {value:.4g}, required {wanted}")
    if result.missing_thresholds or result.missing_slices:
        lines.append("some thresholds or slices had no data")
    return lines


def confusion_matrix(evaluation_uri: str) -> list[list[float]] | None:
    """The overall slice's multi-class confusion matrix (rows: actual class, columns: predicted),
    if the pipeline's metrics include MultiClassConfusionMatrixPlot."""
    for slice_key, by_output in _candidate_result(evaluation_uri).plots:
        if slice_key:
            continue
        for by_sub_key in (by_output or {}).values():  # None when the pipeline has no plots
            for plots in by_sub_key.values():
                matrices = plots.get("multiClassConfusionMatrixAtThresholds", {}).get("matrices")
                if matrices:
                    return _dense(matrices[0]["entries"])
    return None


def _dense(entries: list[dict]) -> list[list[float]]:
    size = 1 + max(max(e.get("actualClassId", 0), e.get("predictedClassId", 0)) for e in entries)
    matrix = [[0.0] * size for _ in range(size)]
    for entry in entries:
        matrix[entry.get("actualClassId", 0)][entry.get("predictedClassId", 0)] = entry.get("numWeightedExamples", 0.0)
    return matrix
