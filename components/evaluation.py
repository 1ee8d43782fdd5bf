"""Reading TFMA's results: metrics by slice, why a model was not blessed, the confusion matrix."""

import re
from collections.abc import Sequence

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


def slice_metrics(evaluation_uri: str, label_key: str, class_names: Sequence[str]) -> dict[str, dict[str, float]]:
    """TFMA's scalar metrics by slice (named by slice_name): {"overall": {...}, "species=setosa": {...}, ...}.

    A signature with several scored outputs names each metric `<output>/<metric>`."""
    result = _candidate_result(evaluation_uri)
    table: dict[tuple, dict[str, float]] = {}
    for slice_key, by_output in result.slicing_metrics:
        for output, by_sub_key in by_output.items():
            for metrics in by_sub_key.values():
                for metric, value in metrics.items():
                    if "doubleValue" in value:
                        metric_name = f"{output}/{metric}" if output else metric
                        table.setdefault(tuple(slice_key), {})[metric_name] = value["doubleValue"]
    # Ordered by the values TFMA sliced on, so classes come in label order rather than by name.
    ordered = sorted(table, key=lambda slice_key: (slice_key != (), _natural(slice_name(slice_key))))
    return {slice_name(slice_key, label_key, class_names): table[slice_key] for slice_key in ordered}


def slice_name(slice_key: tuple, label_key: str = "", class_names: Sequence[str] = ()) -> str:
    """How a slice is shown in the summary, the console and MLflow: `overall`, `speaker=george`,
    `a=1 & b=2`. A class index of the label (`label_key`) is shown as its class name, where the
    pipeline names its classes: `species=setosa`, not `species=0`."""

    def shown(column: str, value) -> str:
        if column == label_key and isinstance(value, int) and 0 <= value < len(class_names):
            return class_names[value]
        return str(value)

    return " & ".join(f"{column}={shown(column, value)}" for column, value in slice_key) or OVERALL


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
