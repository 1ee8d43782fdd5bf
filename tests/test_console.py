"""Live progress, from the Trainer's Keras callback through the runner's log handler to the console."""

import io
import logging
import math
import re
import types

import numpy as np
import pytest
import tf_keras as keras

from components.models.training import ProgressReport
from components.training_progress import PROGRESS_LOGGER, TrainingProgress
from pipelines.in_process import ComponentProgress
from pipelines.progress import ComponentRun
from tfpipe import console as console_module
from tfpipe.console import Console, metrics_table

ESCAPE = "\x1b"
# A finished component's line, as tests of whole runs parse it: name, status, seconds.
COMPONENT_LINE = re.compile(r"^  (\S+) +(\S+) +(\d+\.\d) s$")


def _progress_records(caplog) -> list[TrainingProgress]:
    return [record.progress for record in caplog.records if record.name == PROGRESS_LOGGER]


def test_a_fit_reports_each_epoch_and_step(caplog):
    caplog.set_level(logging.INFO, logger=PROGRESS_LOGGER)
    model = keras.Sequential([keras.layers.Dense(1, input_shape=(2,))])
    model.compile(optimizer="sgd", loss="mse")
    features, targets = np.ones((12, 2)), np.ones((12, 1))
    model.fit(
        features,
        targets,
        batch_size=4,
        epochs=2,
        validation_data=(features, targets),
        callbacks=[ProgressReport(interval_s=0)],
        verbose=0,
    )
    reports = _progress_records(caplog)
    # Three steps and the epoch's end, for each of the two epochs.
    assert [(p.epoch, p.epochs, p.step, p.steps) for p in reports] == [
        (epoch, 2, step, 3) for epoch in (1, 2) for step in (1, 2, 3, None)
    ]
    assert set(reports[0].metrics) == {"loss"}
    assert {"loss", "val_loss"} <= set(reports[3].metrics)
    assert all(isinstance(value, float) for p in reports for value in p.metrics.values())


def test_reports_are_throttled(caplog):
    caplog.set_level(logging.INFO, logger=PROGRESS_LOGGER)
    now = [0.0]
    report = ProgressReport(interval_s=0.5, clock=lambda: now[0])
    report.set_params({"epochs": 3, "steps": 100, "verbose": 0})
    report.on_epoch_begin(0)
    for batch in range(100):  # 100 steps in 2 s
        now[0] = batch / 50
        report.on_train_batch_end(batch, {"loss": 1.0})
    report.on_epoch_end(0, {"loss": 1.0, "val_loss": 0.9})  # soon after step 76's report: reported all the same
    report.on_epoch_begin(1)
    report.on_train_batch_end(0, {"loss": 0.8})  # at once after a report: left out
    report.on_epoch_end(1, {"loss": 0.8, "val_loss": 0.8})  # at once after an epoch's end: left out
    report.on_epoch_begin(2)
    report.on_epoch_end(2, {"loss": 0.7, "val_loss": 0.8})  # the last epoch's end: always reported
    assert [(p.epoch, p.step) for p in _progress_records(caplog)] == [
        (1, 1),
        (1, 26),
        (1, 51),
        (1, 76),
        (1, None),
        (3, None),
    ]


def test_progress_is_shown_as_text():
    during = TrainingProgress(epoch=3, epochs=10, step=120, steps=200, metrics={"loss": 0.41234, "accuracy": 0.9})
    assert during.detail() == "epoch 3/10 · step 120/200 · loss 0.412"
    end = TrainingProgress(epoch=3, epochs=10, step=None, steps=200, metrics={"loss": 0.41, "val_accuracy": 0.93})
    assert str(end) == "epoch 3/10 loss 0.41 val_accuracy 0.93"


def _record(name: str, message: str, **extra) -> logging.LogRecord:
    return logging.makeLogRecord({"name": name, "msg": message, "levelno": logging.INFO, **extra})


def test_a_progress_record_is_a_detail_of_the_running_component():
    reported: list[tuple[str, ComponentRun]] = []
    handler = ComponentProgress(lambda name, run: reported.append((name, ComponentRun(**vars(run)))))
    during = TrainingProgress(epoch=2, epochs=5, step=3, steps=10, metrics={"loss": 0.5})
    handler.handle(_record(PROGRESS_LOGGER, "Training", progress=during))  # no component running: ignored
    handler.handle(_record("absl", "Component Trainer is running."))
    handler.handle(_record(PROGRESS_LOGGER, "Training", progress=during))
    end = TrainingProgress(epoch=2, epochs=5, step=None, steps=10, metrics={"loss": 0.4, "val_loss": 0.45})
    handler.handle(_record(PROGRESS_LOGGER, "Training", progress=end))
    assert [(name, run.status, run.detail, run.milestone) for name, run in reported] == [
        ("Trainer", "running", None, None),
        ("Trainer", "running", "epoch 2/5 · step 3/10 · loss 0.5", None),
        ("Trainer", "running", "epoch 2/5 · loss 0.4 · val_loss 0.45", "epoch 2/5 loss 0.4 val_loss 0.45"),
    ]


def test_a_console_failure_does_not_stop_the_trainer(capsys):
    def on_progress(name: str, run: ComponentRun) -> None:
        if run.detail:
            raise OSError("terminal gone")

    handler = ComponentProgress(on_progress)
    handler.handle(_record("absl", "Component Trainer is running."))
    progress = TrainingProgress(epoch=1, epochs=1, step=1, steps=1, metrics={})
    handler.handle(_record(PROGRESS_LOGGER, "Training", progress=progress))  # does not raise
    assert "terminal gone" in capsys.readouterr().err


@pytest.fixture
def clock(monkeypatch) -> list[float]:
    """The console's clock, set by the test."""
    now = [0.0]
    monkeypatch.setattr(console_module, "time", types.SimpleNamespace(monotonic=lambda: now[0]))
    return now


def test_not_a_terminal_gets_plain_lines_and_an_epoch_line_at_most_every_10_s(clock):
    stream = io.StringIO()
    console = Console(stream)
    assert not console.live
    console.component("Transform", "running", None)
    console.component("Transform", "done", 12.34)
    console.component("Trainer", "running", None)
    for second, epoch in [(1, 1), (2, 2), (9, 3), (11, 4), (12, 5), (30, 5)]:
        clock[0] = second
        console.component("Trainer", "running", None, f"epoch {epoch}/9 · step 1/4", f"epoch {epoch}/9 loss 0.5")
    console.component("Trainer", "done", 30.0)
    console.say("Run succeeded in 42.3 s.")
    output = stream.getvalue()
    assert ESCAPE not in output and "\r" not in output
    assert output.splitlines() == [
        "  Transform                        done       12.3 s",
        "  Trainer:                         epoch 1/9 loss 0.5",
        "  Trainer:                         epoch 4/9 loss 0.5",
        "  Trainer:                         epoch 5/9 loss 0.5",  # left out at 12 s, still the latest at 30 s
        "  Trainer                          done       30.0 s",
        "Run succeeded in 42.3 s.",
    ]
    # Whole runs' tests find a component's line by its first word: one line per component.
    assert [COMPONENT_LINE.match(line).groups() for line in output.splitlines() if line.split()[0] == "Trainer"] == [
        ("Trainer", "done", "30.0")
    ]


def test_a_terminal_shows_the_running_component_with_its_detail(monkeypatch):
    monkeypatch.setenv("COLUMNS", "120")  # the live line is cut to the terminal's width
    stream = io.StringIO()
    console = Console(stream, live=True)
    console.component("Trainer", "running", None)
    console.component("Trainer", "running", None, "epoch 3/10 · step 120/200 · loss 0.412", None)
    shown = stream.getvalue()
    assert re.search(r"Trainer +running +\d+ s +epoch 3/10 · step 120/200 · loss 0.412", _visible(shown))
    console.say("a note while it runs")
    console.component("Trainer", "done", 5.0)
    after = _visible(stream.getvalue()[len(shown) :])
    assert "a note while it runs" in after
    assert after.rstrip().endswith("Trainer                          done        5.0 s")


def _visible(text: str) -> str:
    """`text` without terminal control sequences (colours, cursor moves, line erases)."""
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text)


def test_many_slices_are_cut_to_the_best_and_worst_by_the_blessing_metric():
    tickers = {
        f"ticker=T{i:03d}": {"forecast/root_mean_squared_error": float(i), "forecast/example_count": 9.0}
        for i in range(500)
    }
    tickers["ticker=NAN"] = {"forecast/root_mean_squared_error": math.nan}
    metrics = {"overall": {"forecast/root_mean_squared_error": 250.0}, **tickers}
    table = metrics_table(metrics, "forecast/root_mean_squared_error", higher_is_better=False, width=200)
    header = table[0].split()
    best, worst = [f"ticker=T{i:03d}" for i in range(5)], [f"ticker=T{i:03d}" for i in range(495, 500)]
    assert header == ["overall", *best, *worst]
    assert table[-1] == (
        "  (10 of 501 slices shown: the 5 best and 5 worst by forecast/root_mean_squared_error; "
        "every slice is in summary.json and in MLflow's evaluation/slices.csv)"
    )
    # Higher is better (accuracy): the best come first.
    accuracy = {"overall": {"acc": 0.5}, **{f"label={i}": {"acc": i / 20} for i in range(20)}}
    assert metrics_table(accuracy, "acc", width=200)[0].split()[1:4] == ["label=19", "label=18", "label=17"]
    # Few slices (overall and ten classes): every slice; nothing to rank by: the first ones.
    assert len(metrics_table(dict(list(accuracy.items())[:11]), "acc", width=200)[0].split()) == 11
    assert metrics_table(accuracy, width=200)[0].split() == ["overall", *(f"label={i}" for i in range(11))]


def test_the_table_fits_the_terminal_and_shows_counts_as_integers():
    metrics = {
        "overall": {"example_count": 33000.0, "sparse_categorical_accuracy": 0.91234},
        **{f"label=class {i}": {"example_count": 3300.0, "sparse_categorical_accuracy": i / 10} for i in range(10)},
    }
    table = metrics_table(metrics, "sparse_categorical_accuracy", width=80)
    assert max(len(line) for line in table[:-1]) <= 80
    assert table[0].split()[:3] == ["overall", "label=class", "9"]
    assert table[-1].startswith("  (2 of 10 slices shown: the 1 best and 1 worst by sparse_categorical_accuracy")
    counts = next(line for line in table if line.split()[0] == "example_count")
    assert counts.split()[1:] == ["33000", "3300", "3300"]
    assert "0.9123" in next(line for line in table if line.split()[0] == "sparse_categorical_accuracy")
    # A log or a pipe (no terminal, no width): every slice up to MOST_SLICES.
    assert Console(io.StringIO()).width is None
    assert len(metrics_table(metrics, "sparse_categorical_accuracy")[0].split()) == 1 + 10 * 2
