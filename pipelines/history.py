"""`tfpipe runs`: the recent runs of a workdir, newest first, from the run folders' records.

Every `tfpipe run` leaves `<workdir>/<pipeline>/runs/<stamp>/` with its log and, once it ends, its
summary; a run still going (or killed before it could write one) has a log and no summary. No
TensorFlow here: listing runs answers at once.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Iterator
from pathlib import Path

from pipelines.config import ConfigError, PipelineConfig, from_dict
from pipelines.outcome import RunOutcome, has_record
from pipelines.registry import PIPELINES


@dataclasses.dataclass(frozen=True)
class PastRun:
    pipeline: str
    started: datetime.datetime
    status: str
    """succeeded, failed, or `running or killed` (a log without a summary)."""
    metric: str
    """The pipeline's blessing metric on the eval split, `name value`, or empty."""
    blessed: bool | None
    pushed_version: str
    seconds: float | None
    folder: Path
    trials: int | None = None
    """Trials of the run's model search, if it searched."""
    span: int | None = None
    """The latest span the run read, where its data folder holds span folders."""


def recent_runs(workdir: Path, pipeline: str | None = None, limit: int = 20) -> list[PastRun]:
    """The newest `limit` runs of one pipeline, or of every pipeline in the workdir."""
    names = [pipeline] if pipeline else sorted(path.name for path in workdir.iterdir() if path.is_dir())
    runs = [
        _past_run(name, folder)
        for name in names
        for folder in (workdir / name / "runs").glob("*")
        if folder.is_dir() and (folder / "run.log").exists()
    ]
    return sorted(runs, key=lambda run: (run.started, run.folder.name), reverse=True)[:limit]


def latest_blessed(workdir: Path, pipeline: str) -> tuple[Path, RunOutcome] | None:
    """The folder and record of `pipeline`'s newest run whose model was blessed; None if it has none."""
    return next(((folder, outcome) for folder, outcome in _records(workdir, pipeline) if outcome.results.blessed), None)


def pushing_run(workdir: Path, pipeline: str, version: int) -> tuple[Path, RunOutcome] | None:
    """The folder and record of `pipeline`'s newest run that pushed model `version`; None if none did."""
    pushed = str(version)
    return next(
        (
            (folder, outcome)
            for folder, outcome in _records(workdir, pipeline)
            if outcome.results.pushed_version == pushed
        ),
        None,
    )


def _records(workdir: Path, pipeline: str) -> Iterator[tuple[Path, RunOutcome]]:
    """The folder and record of each of `pipeline`'s finished runs with a readable record, newest first."""
    folders = sorted((workdir / pipeline / "runs").glob("*"), key=lambda folder: folder.name, reverse=True)
    for folder in folders:
        if has_record(folder):
            try:
                yield folder, RunOutcome.read(folder)
            except (OSError, ValueError, TypeError):
                continue


def _past_run(pipeline: str, folder: Path) -> PastRun:
    stamp = folder.name.split("-")
    started = datetime.datetime.strptime("-".join(stamp[:2]), "%Y%m%d-%H%M%S")
    if not has_record(folder):
        return PastRun(pipeline, started, "running or killed", "", None, "", None, folder)
    try:
        outcome = RunOutcome.read(folder)
    except (OSError, ValueError, TypeError):
        return PastRun(pipeline, started, "unreadable record", "", None, "", None, folder)
    return PastRun(
        pipeline=pipeline,
        started=started,
        status=outcome.status,
        metric=_blessing_metric(outcome),
        blessed=outcome.results.blessed,
        pushed_version=outcome.results.pushed_version or "",
        seconds=outcome.seconds,
        folder=folder,
        trials=len(outcome.results.search.leaderboard) if outcome.results.search else None,
        span=outcome.results.span,
    )


def _blessing_metric(outcome: RunOutcome) -> str:
    overall = (outcome.results.metrics or {}).get("overall", {})
    config = recorded_config(outcome)
    name = blessing_metric_key(config, overall)
    return f"{_snake(config.blessing_metric)} {overall[name]:.4g}" if config and name else ""


def recorded_config(outcome: RunOutcome) -> PipelineConfig | None:
    """The config the run ran with, as its shipped pipeline's class (what it scores and blesses by can
    follow its settings: the table pipeline's task); the class's defaults where the record no longer fits
    it; None for a pipeline this version does not have."""
    config_class = PIPELINES.get(outcome.shipped_pipeline)
    if config_class is None:
        return None
    try:
        return from_dict(config_class, outcome.config)
    except (ConfigError, TypeError, ValueError):
        return config_class()


def blessing_metric_key(config: PipelineConfig | None, metrics: dict) -> str:
    """The name under which a slice's `metrics` (RunResults.metrics) hold `config`'s blessing metric; "" if none."""
    if config is None:
        return ""
    # TFMA names metrics in snake case, with the prediction output first for several outputs.
    wanted = _snake(config.blessing_metric)
    return next((name for name in metrics if name in (wanted, f"{config.prediction_key}/{wanted}")), "")


def _snake(class_name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() and i else c.lower() for i, c in enumerate(class_name))


def table(runs: list[PastRun]) -> list[str]:
    """The runs as aligned text lines, a header first."""
    rows = [("started", "pipeline", "status", "eval metric", "blessed", "pushed", "seconds", "search", "span")]
    for run in runs:
        blessed = "" if run.blessed is None else ("yes" if run.blessed else "no")
        seconds = "" if run.seconds is None else f"{run.seconds:.0f}"
        rows.append(
            (
                f"{run.started:%Y-%m-%d %H:%M:%S}",
                run.pipeline,
                run.status,
                run.metric,
                blessed,
                run.pushed_version,
                seconds,
                "" if run.trials is None else f"{run.trials} trials",
                "" if run.span is None else str(run.span),
            )
        )
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    return ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]
