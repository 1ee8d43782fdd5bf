"""A finished run in words: the summary `tfpipe run` prints after the component lines."""

from __future__ import annotations

from pathlib import Path

from pipelines.history import blessing_metric_key, recorded_config
from pipelines.outcome import RunOutcome, Search
from tfpipe.console import metrics_table


def outcome_words(outcome: RunOutcome) -> str:
    """`blessed, model <folder> in place` or `not blessed, nothing pushed`."""
    blessed = "blessed" if outcome.results.blessed else "not blessed"
    if outcome.results.blessed and outcome.results.infra_blessed is False:
        blessed += " but not served by the test server"
    pushed = outcome.results.pushed_model
    return f"{blessed}, model {pushed} in place" if pushed else f"{blessed}, nothing pushed"


def summary_lines(outcome: RunOutcome, ui_hint: str, width: int | None = None) -> list[str]:
    """What the console says once a run has ended; `ui_hint` is the command that browses its MLflow runs,
    `width` the terminal's (None: a log or a pipe)."""
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
    if results.search is not None:
        lines += search_lines(results.search)
    if results.metrics is not None:
        lines.append("Evaluation (TFMA, eval split):")
        config = recorded_config(outcome)
        rank_by = blessing_metric_key(config, results.metrics.get("overall", {}))
        higher_is_better = config.blessing_higher_is_better if config else True
        lines += metrics_table(results.metrics, rank_by, higher_is_better, width)
    lines.append("Blessed: yes" if results.blessed else "Blessed: no (" + "; ".join(results.blessing_failures) + ")")
    if results.infra_blessed is not None:
        lines.append(infra_validation_line(results.infra_blessed, results.infra_failure))
    lines.append(f"Pushed model: {results.pushed_model or 'none'}")
    if results.inference_result is not None:
        lines.append(
            f"Bulk inference (BulkInferrer, PredictionLogs): {results.inference_result}"
            if results.inference_result
            else "Bulk inference (BulkInferrer): none, the model is not blessed"
        )
    lines += _statistics_page_lines(outcome)
    if results.tensorboard:
        lines.append(
            f"TensorBoard: tensorboard --logdir {Path(results.tensorboard).parent.parent}  (runs by their stamps)"
        )
    if results.mlflow_run_id:
        lines.append(f"MLflow run: {results.mlflow_run_id} in {outcome.tracking_uri}  (browse: {ui_hint})")
    return [*lines, f"Log: {outcome.log}"]


def infra_validation_line(infra_blessed: bool, failure: str) -> str:
    """Whether the InfraValidator's `tfpipe serve` loaded and answered, or why the model is not pushed."""
    if infra_blessed:
        return "Served in a test server: yes (loaded, answered the eval examples sent)"
    return f"Served in a test server: no, so not pushed: {failure or 'see the log'}"


def search_lines(search: Search) -> list[str]:
    """The model search's leaderboard: a row per trial, best first, failed trials last with their error."""
    best = search.best
    order = "higher" if search.higher_is_better else "lower"
    lines = [
        f"Model search (Tuner): {len(search.leaderboard)} trial(s) by {search.objective} ({order} is better)"
        + (f"; the Trainer trained trial {best.trial}'s values:" if best else ":")
    ]
    keys = list(dict.fromkeys(key for trial in search.leaderboard for key in trial.values))
    rows = [["trial", *keys, search.objective, "seconds"]]
    for trial in search.leaderboard:
        score = f"{trial.score:.4g}" if trial.score is not None else f"failed: {(trial.error or '')[:60]}"
        seconds = f"{trial.seconds:.0f}" if trial.seconds is not None else ""
        rows.append([str(trial.trial), *(str(trial.values.get(key, "")) for key in keys), score, seconds])
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    return lines + ["  " + "  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]


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
