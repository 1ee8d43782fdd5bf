"""A finished run in words: the summary `tfpipe run` prints after the component lines."""

from __future__ import annotations

from pipelines.history import blessing_metric_key
from pipelines.outcome import RunOutcome
from pipelines.registry import PIPELINES
from tfpipe.console import metrics_table


def outcome_words(outcome: RunOutcome) -> str:
    """`blessed, model <folder> in place` or `not blessed, nothing pushed`."""
    blessed = "blessed" if outcome.results.blessed else "not blessed"
    pushed = outcome.results.pushed_model
    return f"{blessed}, model {pushed} in place" if pushed else f"{blessed}, nothing pushed"


def summary_lines(outcome: RunOutcome, ui_hint: str) -> list[str]:
    """What the console says once a run has ended; `ui_hint` is the command that browses its MLflow runs."""
    seconds = outcome.seconds or 0.0
    if outcome.status == "interrupted":
        return [
            "",
            f"Run interrupted at {outcome.interrupted_at} by {outcome.signal} after {seconds:.1f} s; "
            f"the next run goes on from the components that finished (log: {outcome.log}).",
        ]
    if not outcome.succeeded:
        return ["", f"Run failed at {outcome.failed_component} after {seconds:.1f} s.", *_failure_lines(outcome)]
    results = outcome.results
    lines = ["", f"Run succeeded in {seconds:.1f} s.", *_rejected_inputs_lines(outcome)]
    if results.metrics is not None:
        lines.append("Evaluation (TFMA, eval split):")
        rank_by = blessing_metric_key(outcome.pipeline, results.metrics.get("overall", {}))
        higher_is_better = PIPELINES[outcome.pipeline].blessing_higher_is_better
        lines += metrics_table(results.metrics, rank_by, higher_is_better)
    lines.append("Blessed: yes" if results.blessed else "Blessed: no (" + "; ".join(results.blessing_failures) + ")")
    lines.append(f"Pushed model: {results.pushed_model or 'none'}")
    lines += _statistics_page_lines(outcome)
    if results.mlflow_run_id:
        lines.append(f"MLflow run: {results.mlflow_run_id} in {outcome.tracking_uri}  (browse: {ui_hint})")
    return [*lines, f"Log: {outcome.log}"]


def _failure_lines(outcome: RunOutcome) -> list[str]:
    lines = _rejected_inputs_lines(outcome)
    if outcome.anomalies is not None:
        lines.append(f"{outcome.data_problems}:")
        lines += [f"  - {problem}" for problem in outcome.anomalies]
        lines.append("Nothing was trained or pushed.")
        lines += _statistics_page_lines(outcome)
    else:
        lines.append(outcome.error or "")
    return [*lines, f"Full log: {outcome.log}"]


def _statistics_page_lines(outcome: RunOutcome) -> list[str]:
    page = outcome.results.statistics_page
    return [f"Data statistics and anomalies: {page}  (open in a browser)"] if page else []


def _rejected_inputs_lines(outcome: RunOutcome) -> list[str]:
    rejected = outcome.results.rejected_inputs
    if rejected is None or not rejected.count:
        return []
    lines = [
        f"Rejected {rejected.count} input(s) that could not be read; nothing was trained on them "
        f"(list: {rejected.list}):",
        *(f"  - {line}" for line in rejected.first),
    ]
    if rejected.count > len(rejected.first):
        lines.append(f"  ... and {rejected.count - len(rejected.first)} more")
    return lines
