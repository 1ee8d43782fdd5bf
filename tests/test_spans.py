"""Data arriving by span, and drift stopped at the gate (issue 31): span folders resolved as TFX's rolling
range resolves them, the shipped stock prices cut into monthly spans (data/make_stock_spans.py), the stock
schema's drift thresholds against the measurements they were chosen from
(benchmarks/results/drift_thresholds.json), and a replay: 24 months, then a new month trained with warm
start and pushed, then a month in cents stopped at the gate with one sentence, nothing trained or pushed."""

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO_ROOT, PipelineRun, last_outcome, run_tfpipe
from google.protobuf import text_format
from ml_metadata import metadata_store
from ml_metadata.proto import metadata_store_pb2
from tensorflow_metadata.proto.v0 import schema_pb2
from tfx.orchestration import metadata

from components.example_gen import spans
from pipelines.config import ConfigError, apply_overrides
from pipelines.iris.config import IrisConfig
from serving.push import PUSH_RECORD

# Short windows and few steps keep each run short; the blessing bounds are opened (an RMSE bound of 1,000
# dollars in place of the win over persistence, any regression allowed): what is checked is the span's way
# through the pipeline, not the model.
FAST_SPANS = [
    "--set",
    "window_days=10",
    "--set",
    "train_steps=40",
    "--set",
    "epochs=2",
    "--set",
    "eval_steps=3",
    "--set",
    "model.units=8,8",
    "--set",
    "model.batch_size=16",
    "--set",
    "must_beat_persistence=false",
    "--set",
    "blessing_threshold=1000",
    "--set",
    "max_regression=100",
]
# The months replayed: 24 from November 2015 as the first run's window, then one more, then one in cents.
START, FIRST_SPANS = "2015-10", 24


def test_a_run_reads_the_latest_spans_of_its_window_or_the_whole_folder_without_spans(tmp_path):
    assert spans.window(tmp_path, 2) == [tmp_path]
    assert spans.latest(tmp_path) is None
    for number in (1, 2, 10):
        (tmp_path / f"span-{number:04d}").mkdir()
    (tmp_path / "span-0003.csv").write_text("")  # a file, not a span folder
    (tmp_path / "span-00004").mkdir()  # not four digits, as TFX's {SPAN:4} reads them
    (tmp_path / "notes").mkdir()
    assert [path.name for path in spans.window(tmp_path, 2)] == ["span-0002", "span-0010"]
    assert [path.name for path in spans.window(tmp_path, 0)] == ["span-0001", "span-0002", "span-0010"]
    assert spans.latest(tmp_path) == 10


def _make_spans(target, count: int, *extra: str) -> None:
    subprocess.run(
        [sys.executable, "data/make_stock_spans.py", str(target), "--start", START, "--spans", str(count), *extra],
        cwd=REPO_ROOT,
        check=True,
        capture_output=True,
        env={"PYTHONPATH": str(REPO_ROOT)},
    )


def test_a_csv_pipeline_refuses_a_window_of_several_spans_in_one_sentence(tmp_path):
    flowers = (REPO_ROOT / "data" / "iris" / "iris.csv").read_text()
    for number in (1, 2):
        (tmp_path / f"span-{number:04d}").mkdir()
        (tmp_path / f"span-{number:04d}" / "iris.csv").write_text(flowers)
    spans = apply_overrides(IrisConfig(), [f"data_dir={tmp_path}", "span_window=2"])
    with pytest.raises(ConfigError, match=r"^--set span_window=2: the CSV pipelines read one span folder .* at a time"):
        spans.check()
    apply_overrides(IrisConfig(), [f"data_dir={tmp_path / 'span-0001'}", "span_window=2"]).check()


def test_the_shipped_prices_are_cut_into_calendar_months_and_a_drifted_month_is_in_cents(tmp_path):
    _make_spans(tmp_path, 3, "--in-cents")
    months = []
    for number in (1, 2, 3):
        with (tmp_path / f"span-{number:04d}" / "prices.csv").open() as f:
            rows = list(csv.DictReader(f))
        months.append({row["date"][:7] for row in rows})
    assert months == [{"2015-10"}, {"2015-11"}, {"2015-12"}]
    with (REPO_ROOT / "data" / "stock" / "msft.csv").open() as f:
        shipped = {row["date"]: row for row in csv.DictReader(f)}
    for number, scale in ((2, 1), (3, 100)):
        with (tmp_path / f"span-{number:04d}" / "prices.csv").open() as f:
            for row in csv.DictReader(f):
                assert float(row["open"]) == pytest.approx(float(shipped[row["date"]]["open"]) * scale)
                assert row["volume"] == shipped[row["date"]]["volume"]


def _drift_thresholds(pipeline: str) -> dict[str, float]:
    """Each feature's drift threshold in the pipeline's schema."""
    schema = text_format.Parse((REPO_ROOT / "schemas" / pipeline / "schema.pbtxt").read_text(), schema_pb2.Schema())
    thresholds = {}
    for feature in schema.feature:
        comparator = feature.drift_comparator
        if comparator.HasField("jensen_shannon_divergence"):
            thresholds[feature.name] = comparator.jensen_shannon_divergence.threshold
        elif comparator.HasField("infinity_norm"):
            thresholds[feature.name] = comparator.infinity_norm.threshold
    return thresholds


def _measured_drift(benchmark: str) -> list[list]:
    [table] = json.loads((REPO_ROOT / "benchmarks" / "results" / f"{benchmark}.json").read_text())["tables"]
    return table["rows"]


def test_the_iris_schema_thresholds_lie_between_chance_drift_and_a_delivery_in_millimetres():
    thresholds = _drift_thresholds("iris")
    assert set(thresholds) == {"sepal_length", "sepal_width", "petal_length", "petal_width", "species"}
    for column, split, largest, in_millimetres in _measured_drift("drift_thresholds_iris"):
        assert thresholds[column] > largest, (column, split)  # two deliveries of the same flowers pass
        if column != "species":
            assert thresholds[column] < in_millimetres, (column, split)  # flowers measured in millimetres do not


def test_the_stock_schema_thresholds_lie_between_the_measured_drift_and_a_month_in_cents():
    thresholds = _drift_thresholds("stock")
    assert set(thresholds) == {"open", "high", "low", "close", "volume", "ticker"}
    for column, split, largest, _, in_cents in _measured_drift("drift_thresholds"):
        assert thresholds[column] > largest, (column, split)  # no month of the shipped history is stopped
        if column in ("open", "high", "low", "close") and split == "eval":
            assert thresholds[column] < in_cents, (column, split)  # a month in cents is


class SpanRuns:
    def __init__(self, workdir, first: PipelineRun, second: PipelineRun, drifted: PipelineRun):
        self.workdir, self.first, self.second, self.drifted = workdir, first, second, drifted


@pytest.fixture(scope="module")
def span_runs(tmp_path_factory) -> SpanRuns:
    root = tmp_path_factory.mktemp("spans")
    data_dir, workdir = root / "data", root / "workdir"
    common = ("run", "stock", "--workdir", str(workdir), "--set", f"data_dir={data_dir}", *FAST_SPANS)
    results = []
    for count, extra, warm_start in ((FIRST_SPANS, (), "false"), (FIRST_SPANS + 1, (), "true")):
        _make_spans(data_dir, count, *extra)
        process = run_tfpipe(*common, "--set", f"warm_start={warm_start}")
        assert process.returncode == 0, process.stdout + process.stderr
        results.append(PipelineRun(workdir, "stock", process))
    _make_spans(data_dir, FIRST_SPANS + 2, "--in-cents")
    drifted = run_tfpipe(*common, "--set", "warm_start=true")
    return SpanRuns(workdir, *results, PipelineRun(workdir, "stock", drifted))


def _trainer_base_models(workdir) -> list[list[str]]:
    """Per Trainer execution, oldest first: the URIs of the models it warm-started from."""
    store = metadata_store.MetadataStore(
        metadata.sqlite_metadata_connection_config(str(workdir / "stock" / "metadata.sqlite"))
    )
    trainers = [
        e for e in store.get_executions() if store.get_execution_types_by_id([e.type_id])[0].name.endswith("Trainer")
    ]
    result = []
    for execution in sorted(trainers, key=lambda e: e.id):
        events = store.get_events_by_execution_ids([execution.id])
        ids = [
            event.artifact_id
            for event in events
            if event.type == metadata_store_pb2.Event.INPUT and event.path.steps[0].key == "base_model"
        ]
        result.append([artifact.uri for artifact in store.get_artifacts_by_id(ids)])
    return result


@pytest.mark.e2e
def test_the_next_span_trains_from_the_blessed_model_and_is_pushed(span_runs: SpanRuns):
    first, second = span_runs.first.outcome, span_runs.second.outcome
    assert (first.results.span, second.results.span) == (FIRST_SPANS, FIRST_SPANS + 1)
    assert first.results.pushed_model and second.results.pushed_model
    assert second.results.pushed_version > first.results.pushed_version
    # The second Trainer started from the first run's model, the blessed one it pushed.
    [first_trainer, second_trainer] = _trainer_base_models(span_runs.workdir)
    assert first_trainer == []
    assert second_trainer == [json.loads((Path(first.results.pushed_model) / PUSH_RECORD).read_text())["model_uri"]]


@pytest.mark.e2e
def test_a_span_in_cents_stops_at_the_gate_naming_the_column_the_distance_and_the_threshold(span_runs: SpanRuns):
    process = span_runs.drifted.process
    assert process.returncode == 1, process.stdout + process.stderr
    outcome = last_outcome(span_runs.workdir, "stock")
    assert outcome.failed_component == "DataValidationGate"
    assert outcome.results.span == FIRST_SPANS + 2
    assert outcome.data_problems.startswith("Data in ") and "drifted beyond the thresholds of the schema" in (
        outcome.data_problems
    )
    opening = [line for line in outcome.anomalies if line.startswith("column 'open' (eval split)")]
    assert opening, outcome.anomalies
    assert "Jensen-Shannon divergence" in opening[0] and "above the schema's threshold" in opening[0]
    assert "Nothing was trained or pushed." in process.stdout
    # Nothing after the gate ran, and the serving folder holds the two versions of the first runs only.
    assert "Trainer" not in process.stdout.split("DataValidationGate")[1]
    versions = sorted(path.name for path in (span_runs.workdir / "serving" / "stock").glob("[0-9]*"))
    assert versions == sorted(
        [span_runs.first.outcome.results.pushed_version, span_runs.second.outcome.results.pushed_version]
    )


@pytest.mark.e2e
def test_tfpipe_runs_shows_the_span_of_each_run(span_runs: SpanRuns):
    process = run_tfpipe("runs", "--workdir", str(span_runs.workdir))
    assert process.returncode == 0, process.stderr
    lines = process.stdout.splitlines()
    assert lines[0].split()[-1] == "span"
    spans_shown = [line.split()[-1] for line in lines[1:4]]
    assert spans_shown == [str(FIRST_SPANS + 2), str(FIRST_SPANS + 1), str(FIRST_SPANS)]
