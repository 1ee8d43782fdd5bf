"""The record of one `tfpipe run`: what it was asked, how it ended, what it produced.

`pipelines/run.py` is its one writer; everything that reads a past run (`tfpipe runs`, the
up-to-date check, the console summary, tests, benchmarks) reads it through `RunOutcome.read`.
On disk it is `<workdir>/<pipeline>/runs/<stamp>/summary.json`, one flat JSON object whose keys
are the field names below; a field with no value is left out. No TensorFlow here.
"""

from __future__ import annotations

import builtins
import dataclasses
import json
from pathlib import Path
from typing import Any, Literal

from components.leaderboard import Search
from pipelines.progress import ComponentRun

RECORD_FILE = "summary.json"

Status = Literal["succeeded", "failed", "interrupted"]


@dataclasses.dataclass
class RejectedInputs:
    """Inputs the ExampleGen left out because they could not be read."""

    count: int
    list: str
    """The file listing every one, a line each."""
    # `builtins.`: the field above is called `list`.
    first: builtins.list[str]
    """The first few lines of that list, for the console."""


@dataclasses.dataclass
class RunResults:
    """What the run's finished components produced (pipelines/summary.py reads it from ML Metadata)."""

    span: int | None = None
    """The latest span the ExampleGen read, where the data folder holds span folders."""
    rejected_inputs: RejectedInputs | None = None
    statistics_page: str | None = None
    """The data's statistics and anomalies as one HTML page in the run folder."""
    metrics: dict[str, dict[str, Any]] | None = None
    """TFMA's metrics on the eval split by slice (`overall` first), then by metric name."""
    blessed: bool | None = None
    blessing_failures: list[str] = dataclasses.field(default_factory=list)
    infra_blessed: bool | None = None
    """Whether the InfraValidator's server loaded the model and answered its requests; None: it did not run."""
    infra_failure: str = ""
    """Why it did not, one sentence (components/infra_validator.py)."""
    mlflow_run_id: str | None = None
    tensorboard: str | None = None
    """The run folder's link to the Trainer's TensorBoard events (pipelines/summary.py)."""
    pushed_model: str | None = None
    """The pushed version's folder, when the Pusher pushed."""
    pushed_version: str | None = None
    search: Search | None = None
    """The Tuner's search, in a run with `tuning.trials` above 0."""
    inference_result: str | None = None
    """With bulk_inference_dir: the BulkInferrer's folder of PredictionLogs (gzipped TFRecord files,
    prediction_logs-*.gz), "" when the model was not blessed and nothing was scored."""


@dataclasses.dataclass
class RunOutcome:
    """One run, from its request to its end."""

    pipeline: str
    status: Status
    based_on: str | None = None
    """A named pipeline's shipped pipeline (pipelines/named.py), whose metrics and code it has."""
    runner: str = ""
    label_key: str | None = None
    label_classes: list[str] = dataclasses.field(default_factory=list)
    """What the model answers: the label, and its class names by class index (empty for a number)."""
    not_compared: str | None = None
    """Why this run's model was not compared with the latest blessed one (pipelines/run.py)."""
    beam_pipeline_args: list[str] = dataclasses.field(default_factory=list)
    config: dict[str, Any] = dataclasses.field(default_factory=dict)
    tracking_uri: str = ""
    recovered: list[str] = dataclasses.field(default_factory=list)
    """What earlier runs left unfinished and this one closed first (pipelines/recovery.py)."""
    failed_component: str | None = None
    error: str | None = None
    data_problems: str | None = None
    """For a run the data gate stopped: the headline, then each problem in `anomalies`."""
    anomalies: list[str] | None = None
    interrupted_at: str | None = None
    signal: str | None = None
    exit_status: int | None = None
    """The exit status an interrupted run ends with (130 for SIGINT, 143 for SIGTERM)."""
    components: dict[str, ComponentRun] = dataclasses.field(default_factory=dict)
    results: RunResults = dataclasses.field(default_factory=RunResults)
    seconds: float | None = None
    fingerprint: str | None = None
    """up_to_date.fingerprint of the run; None when an input could not be read."""
    log: str | None = None

    @property
    def shipped_pipeline(self) -> str:
        """The shipped pipeline whose code ran: `pipeline`, or a named pipeline's `based_on`."""
        return self.based_on or self.pipeline

    @property
    def succeeded(self) -> bool:
        return self.status == "succeeded"

    def to_json(self) -> dict[str, Any]:
        """The flat JSON object of summary.json: the results' fields beside the run's."""
        fields = {field.name: getattr(self, field.name) for field in dataclasses.fields(self)}
        results = fields.pop("results")
        flat = {**fields, **{field.name: getattr(results, field.name) for field in dataclasses.fields(results)}}
        flat["components"] = {name: dataclasses.asdict(run) for name, run in self.components.items()}
        for name in ("rejected_inputs", "search"):
            if getattr(results, name) is not None:
                flat[name] = dataclasses.asdict(getattr(results, name))
        return {key: value for key, value in flat.items() if value is not None and value != []}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunOutcome:
        """The record in `data`; keys it does not know (older or newer runs' extras) are ignored."""
        run_fields = {field.name for field in dataclasses.fields(cls)} - {"results", "components"}
        result_fields = {field.name for field in dataclasses.fields(RunResults)}
        results = RunResults(**{key: value for key, value in data.items() if key in result_fields})
        if isinstance(results.rejected_inputs, dict):
            results.rejected_inputs = RejectedInputs(**results.rejected_inputs)
        if isinstance(results.search, dict):
            results.search = Search.from_json(results.search)
        components = {name: ComponentRun(**run) for name, run in data.get("components", {}).items()}
        outcome = cls(**{key: value for key, value in data.items() if key in run_fields})
        outcome.components, outcome.results = components, results
        return outcome

    def write(self, run_dir: Path) -> Path:
        path = run_dir / RECORD_FILE
        path.write_text(json.dumps(self.to_json(), indent=2, default=str) + "\n")
        return path

    @classmethod
    def read(cls, run_dir: Path) -> RunOutcome:
        """The record of the run whose folder is `run_dir`; OSError or ValueError if it has none or
        it is unreadable."""
        return cls.from_json(json.loads((run_dir / RECORD_FILE).read_text()))


def has_record(run_dir: Path) -> bool:
    """Whether the run in `run_dir` ended and wrote its record (a run still going, or killed, has none)."""
    return (run_dir / RECORD_FILE).is_file()
