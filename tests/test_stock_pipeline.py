"""The stock pipeline end to end on a small real sample (the shared `stock_run`), and
what it refuses: a model that loses to persistence, and data that can't be windowed."""

import glob
import os
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from conftest import FAST_STOCK, STOCK_SERIES, last_outcome, run_tfpipe

from components.models.stock import features
from pipelines.history import recent_runs


def _examples(workdir: Path, split: str) -> list[tf.train.Example]:
    (uri,) = glob.glob(str(workdir / "stock" / "pipeline_root" / "TimeSeriesExampleGen" / "examples" / "*"))
    files = glob.glob(os.path.join(uri, f"Split-{split}", "*"))
    return [tf.train.Example.FromString(r.numpy()) for r in tf.data.TFRecordDataset(files, compression_type="GZIP")]


def _feature(example, key):
    feature = example.features.feature[key]
    return list(feature.float_list.value or feature.bytes_list.value or feature.int64_list.value)


def test_summary_reports_model_and_both_naive_baselines(stock_run):
    overall = stock_run.outcome.results.metrics["overall"]
    for output in ("forecast", "persistence", "last_close"):
        assert overall[f"{output}/root_mean_squared_error"] > 0
        assert overall[f"{output}/mean_absolute_error"] > 0
        assert overall[f"{output}/example_count"] == 2 * 20  # eval_days per series
    for line in (
        "forecast/root_mean_squared_error",
        "persistence/mean_absolute_error",
        "last_close/root_mean_squared_error",
    ):
        assert line in stock_run.process.stdout
    # Sliced by ticker and by the target day's year.
    assert {"ticker=MSFT", "ticker=MSFT1999", "year=2017", "year=1999"} <= set(stock_run.outcome.results.metrics)


def test_windows_follow_the_time_split_per_series(stock_run):
    train, evaluation = _examples(stock_run.workdir, "train"), _examples(stock_run.workdir, "eval")
    assert len(evaluation) == 2 * 20
    assert len(train) == 2 * (160 - 10 - 1 + 1 - 20)
    for ticker in STOCK_SERIES:
        first_eval_day = min(
            _feature(e, features.TARGET_DATE_KEY)[0] for e in evaluation if _feature(e, "ticker") == [ticker.encode()]
        )
        train_days = [
            _feature(e, features.TARGET_DATE_KEY)[0] for e in train if _feature(e, "ticker") == [ticker.encode()]
        ]
        assert max(train_days) < first_eval_day


def test_blessed_because_it_beats_persistence_and_is_pushed(stock_run):
    overall = stock_run.outcome.results.metrics["overall"]
    assert overall["forecast/root_mean_squared_error"] <= overall["persistence/root_mean_squared_error"]
    assert overall["excess_squared_error_vs_persistence/mean_prediction"] <= 0
    assert stock_run.outcome.results.blessed is True
    assert Path(stock_run.outcome.results.pushed_model).parent == stock_run.workdir / "serving" / "stock"


def test_run_artifacts_include_the_forecast_chart(stock_run):
    (model_run,) = glob.glob(str(stock_run.workdir / "stock" / "pipeline_root" / "Trainer" / "model_run" / "*"))
    chart = Path(model_run) / "forecast_vs_real.png"
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    table = (Path(model_run) / "forecast_vs_real.csv").read_text().splitlines()
    assert table[0] == "ticker,date,real,forecast" and len(table) == 1 + 2 * 20


@pytest.fixture(scope="module")
def serving_model(stock_run):
    return tf.saved_model.load(stock_run.outcome.results.pushed_model)


def test_serving_signatures_agree_and_speak_prices(stock_run, serving_model):
    examples = _examples(stock_run.workdir, "eval")[:8]
    serialized = tf.constant([e.SerializeToString() for e in examples])
    from_examples = serving_model.signatures["serving_default"](examples=serialized)["forecast"].numpy()
    windows = {
        column: tf.constant([_feature(e, column) for e in examples]) for column in ("open", "high", "low", "close")
    }
    from_prices = serving_model.signatures["predict_prices"](**windows)["forecast"].numpy()
    evaluated = serving_model.signatures["evaluation"](examples=serialized)
    np.testing.assert_allclose(from_examples, from_prices, rtol=1e-5)
    np.testing.assert_allclose(from_examples, evaluated["forecast"].numpy(), rtol=1e-5)
    # Prices in, a price out: within a tenth of the last close, as a next-day open is.
    last_close = windows["close"].numpy()[:, -1]
    assert np.all(np.abs(from_examples / last_close - 1) < 0.1)
    np.testing.assert_allclose(evaluated["last_close"].numpy(), last_close)
    np.testing.assert_allclose(evaluated["persistence"].numpy(), windows["open"].numpy()[:, -1])


def test_a_model_that_loses_to_persistence_is_not_pushed(stock_run, mlflow_server, tmp_path):
    # An untrained model (learning rate 1e-9: 0 is refused) on MinMax-scaled prices forecasts noise in the
    # training range; relative to the last close it would still forecast about the last close.
    process = run_tfpipe(
        "run",
        "stock",
        "--workdir",
        str(stock_run.workdir),
        "--set",
        f"data_dir={stock_run.outcome.config['data_dir']}",
        *FAST_STOCK,
        "--set",
        "model.learning_rate=1e-9",
        "--set",
        "scaling=min_max",
        tracking_uri=mlflow_server,
    )
    assert process.returncode == 0, process.stdout
    outcome = last_outcome(stock_run.workdir, "stock")
    overall = outcome.results.metrics["overall"]
    assert overall["forecast/root_mean_squared_error"] > overall["persistence/root_mean_squared_error"]
    assert outcome.results.blessed is False
    assert any("excess_squared_error_vs_persistence" in line for line in outcome.results.blessing_failures)
    assert outcome.results.pushed_model is None
    assert len(list((stock_run.workdir / "serving" / "stock").iterdir())) == 1
    # Not pushed, yet usable on request, saying what it is.
    header, *days = (Path(__file__).parent.parent / "data" / "stock" / "msft.csv").read_text().splitlines()
    recent = tmp_path / "recent.csv"
    recent.write_text("\n".join([header, *days[-15:]]) + "\n")
    window = ("--set", "window_days=10")
    trained = run_tfpipe(
        "predict", "stock", str(recent), "--workdir", str(stock_run.workdir), "--latest-trained", *window
    )
    pushed = run_tfpipe("predict", "stock", str(recent), "--workdir", str(stock_run.workdir), *window)
    assert trained.returncode == pushed.returncode == 0, trained.stderr + pushed.stderr
    note, answer = trained.stdout.splitlines()
    (latest,) = recent_runs(stock_run.workdir, "stock", limit=1)
    assert note == f"Model trained by the run of {latest.started:%Y-%m-%d %H:%M:%S}: not blessed, not pushed."
    assert answer.startswith(f"{recent}: forecast ") and answer != pushed.stdout.strip()


def _bad_run(tmp_path, lines):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "prices.csv").write_text("\n".join(lines) + "\n")
    before = (data_dir / "prices.csv").read_bytes()
    workdir = tmp_path / "workdir"
    process = run_tfpipe("run", "stock", "--workdir", str(workdir), "--set", f"data_dir={data_dir}", *FAST_STOCK)
    assert (data_dir / "prices.csv").read_bytes() == before  # raw data untouched
    return process, workdir


@pytest.mark.e2e
def test_rows_and_series_that_cant_be_windowed_are_listed_and_nothing_is_trained(tmp_path):
    header, *days = (Path(__file__).parent.parent / "data" / "stock" / "msft.csv").read_text().splitlines()[:101]
    text_price, decimal_comma = days[40].split(","), days[50].split(",")
    text_price[1] = "abc"
    decimal_comma[2] = "0,0955"  # one field too many
    rows = [*days[:40], ",".join(text_price), *days[41:50], ",".join(decimal_comma), *days[51:], days[7]]  # day 8 twice
    rows += [line.replace(",MSFT", ",TINY") for line in days[:6]]
    process, workdir = _bad_run(tmp_path, [header, *rows])
    assert process.returncode == 1
    assert "Run failed at TimeSeriesExampleGen" in process.stdout
    assert "column 'open' on 1986-05-09 holds 'abc'; expected a number" in process.stdout
    assert "has 8 fields; expected 7, as in the header" in process.stdout
    assert "series MSFT has more than one row for 1986-03-24" in process.stdout
    assert "series TINY has 6 days; a window needs at least 11 (window_days 10 + horizon_days 1)" in process.stdout
    assert "Nothing was trained or pushed." in process.stdout
    assert not (workdir / "stock" / "pipeline_root" / "Trainer").exists()
    assert not (workdir / "serving").exists()


@pytest.mark.e2e  # loads TFX and builds the pipeline: seconds, not a unit test
def test_missing_columns_fail_before_anything_runs(tmp_path):
    process, workdir = _bad_run(tmp_path, ["date,open,close", "2020-01-02,1.0,1.1"])
    assert process.returncode == 1
    assert "has no column 'high', 'low', 'volume'" in process.stdout
    assert not (workdir / "stock" / "pipeline_root" / "Transform").exists()


def test_predict_prints_the_forecast_for_a_price_file(stock_run, tmp_path):
    header, *days = (Path(__file__).parent.parent / "data" / "stock" / "msft.csv").read_text().splitlines()
    recent = tmp_path / "recent.csv"
    recent.write_text("\n".join([header, *days[-15:]]) + "\n")
    process = run_tfpipe(
        "predict", "stock", str(recent), "--workdir", str(stock_run.workdir), "--set", "window_days=10"
    )
    assert process.returncode == 0, process.stderr
    forecast = float(process.stdout.split()[2])
    assert process.stdout == f"{recent}: forecast {forecast:.4f} for the next trading day after 2017-11-10\n"
    last_close = float(days[-1].split(",")[4])
    assert abs(forecast / last_close - 1) < 0.1
    short = run_tfpipe("predict", "stock", str(recent), "--workdir", str(stock_run.workdir))
    assert short.returncode == 2
    assert "recent.csv has 15 days; expected at least window_days (60)" in short.stderr


@pytest.mark.e2e
def test_the_verdict_does_not_depend_on_the_price_scale(stock_run, tmp_path):
    # The same series in other units (x20): a default that judged RMSE in dollars would differ.
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    [source] = Path(stock_run.outcome.config["data_dir"]).iterdir()
    header, *rows = source.read_text().splitlines()
    columns = header.split(",")
    prices = [columns.index(name) for name in ("open", "high", "low", "close")]
    scaled = []
    for row in rows:
        fields = row.split(",")
        for index in prices:
            fields[index] = repr(float(fields[index]) * 20)
        scaled.append(",".join(fields))
    (data_dir / source.name).write_text("\n".join([header, *scaled]) + "\n")
    process = run_tfpipe(
        "run", "stock", "--workdir", str(tmp_path / "workdir"), "--set", f"data_dir={data_dir}", *FAST_STOCK
    )
    assert process.returncode == 0, process.stdout
    outcome = last_outcome(tmp_path / "workdir", "stock")
    assert outcome.results.blessed == stock_run.outcome.results.blessed
    for metric in ("forecast/root_mean_squared_error", "persistence/root_mean_squared_error"):
        unscaled = stock_run.outcome.results.metrics["overall"][metric]
        assert outcome.results.metrics["overall"][metric] == pytest.approx(20 * unscaled, rel=0.02)
