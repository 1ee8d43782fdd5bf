"""The table pipeline (pipelines/table/): any CSV table, a column predicted from the others. What the data
says is read from it (task, classes), bad input is refused before TensorFlow loads, the schema is
inferred once and then held to, and a model is blessed only when it does no worse than the naive
baseline; the two runs of the session (table_runs) are the shipped wine and diabetes tables."""

import csv
import json
import urllib.request
from pathlib import Path

import pytest
from conftest import REPO_ROOT, TableRuns, last_outcome, run_tfpipe

from pipelines import named
from pipelines.config import ConfigError, apply_settings
from pipelines.history import blessing_metric_key, recorded_config
from pipelines.outcome import RunOutcome
from pipelines.table.config import TableConfig

WINE = REPO_ROOT / "data" / "tables" / "wine"
DIABETES = REPO_ROOT / "data" / "tables" / "diabetes"


def _table(tmp_path: Path, rows: list[str], header: str = "size,colour,label") -> Path:
    data_dir = tmp_path / "data"
    data_dir.mkdir(exist_ok=True)
    (data_dir / "t.csv").write_text("\n".join([header, *rows]) + "\n")
    return data_dir


def _named_config(tmp_path: Path, settings: list[tuple[str, str]]) -> TableConfig:
    """A table pipeline named `mine` in a workdir under tmp_path, with `settings` and what its data says."""
    definition = named.define(tmp_path / "workdir", "mine", "table", settings)
    config = apply_settings(definition.config_class()(), definition.settings)
    config = apply_settings(config, config.read_from_data({key for key, _ in settings}))
    assert isinstance(config, TableConfig)
    return config


@pytest.mark.unit
@pytest.mark.parametrize(
    "labels, task, class_names",
    [
        (["yes", "no", "yes"], "classification", ("no", "yes")),
        (["10", "2", "1", "2"], "classification", ("1", "2", "10")),  # whole numbers, few: classes, by value
        ([str(value) for value in range(25)], "regression", ()),  # whole numbers, many: a quantity
        (["1.5", "2", "0.25"], "regression", ()),
    ],
)
def test_the_task_and_classes_are_read_from_the_labels_values(tmp_path, labels, task, class_names):
    data_dir = _table(tmp_path, [f"{index},red,{label}" for index, label in enumerate(labels)])
    config = _named_config(tmp_path, [("data_dir", str(data_dir)), ("label", "label")])
    config.check()
    assert (config.task, config.class_names) == (task, class_names)
    assert config.schema_path == (tmp_path / "workdir" / "mine" / "schema.pbtxt").resolve()


@pytest.mark.unit
def test_what_is_scored_and_blessed_follows_the_task(tmp_path):
    classification = TableConfig(label="kind", task="classification", class_names=("a", "b"))
    regression = TableConfig(label="price", task="regression")
    assert (classification.blessing_metric, classification.blessing_higher_is_better) == (
        "SparseCategoricalAccuracy",
        True,
    )
    assert classification.required_wins() == ("majority",) and classification.slice_features == ("kind",)
    assert classification.win_output("majority") == "excess_correct_vs_majority"
    assert (regression.blessing_metric, regression.blessing_higher_is_better) == ("RootMeanSquaredError", False)
    assert regression.required_wins() == ("mean",) and regression.prediction_key == "prediction"
    # A recorded run is read back with its own task: `tfpipe runs` and the summary rank by its metric.
    outcome = RunOutcome(pipeline="prices", based_on="table", status="succeeded", config=regression.to_dict())
    config = recorded_config(outcome)
    assert config is not None and config.blessing_metric == "RootMeanSquaredError"
    assert blessing_metric_key(config, {"prediction/root_mean_squared_error": 1.0}) == (
        "prediction/root_mean_squared_error"
    )


@pytest.mark.unit
@pytest.mark.parametrize(
    "settings, message",
    [
        ([("label", "label")], "no data folder given; add --set data_dir=FOLDER"),
        ([("data_dir", "{missing}"), ("label", "label")], "does not exist; --set data_dir=FOLDER"),
        ([("data_dir", "{data}")], "no label given; add --set label=COLUMN, the column to predict, one of"),
        ([("data_dir", "{data}"), ("label", "price")], "t.csv has no column 'price'; --set label=COLUMN with one"),
        ([("data_dir", "{data}"), ("label", "colour")], "the label column 'colour' of {data}/t.csv holds one value"),
        ([("data_dir", "{data}"), ("label", "label"), ("task", "regression")], "--set task=regression: the label"),
    ],
)
def test_bad_input_is_one_sentence_naming_the_file_or_column_and_the_fix(tmp_path, settings, message):
    data_dir = _table(tmp_path, ["1,red,yes", "2,red,no"])
    filled = {"{data}": str(data_dir), "{missing}": str(tmp_path / "missing")}
    settings = [(key, filled.get(value, value)) for key, value in settings]
    with pytest.raises(ConfigError) as raised:
        _named_config(tmp_path, settings).check()
    assert message.replace("{data}", str(data_dir)) in str(raised.value)
    assert str(raised.value).count(". ") == 0  # one sentence


@pytest.mark.unit
def test_the_table_pipeline_runs_only_under_a_name(tmp_path):
    config = apply_settings(TableConfig(), [("data_dir", str(WINE)), ("label", "cultivar")])
    with pytest.raises(ConfigError, match="add --name NAME"):
        config.check()


@pytest.mark.unit
@pytest.mark.parametrize(
    "sets, words",
    [
        ([f"data_dir={WINE}"], "no label given; add --set label=COLUMN"),
        ([f"data_dir={WINE}", "label=colour"], "has no column 'colour'"),
        ([f"data_dir={WINE}", "label=cultivar", "task=regression"], "--set task=regression"),
        (["data_dir=nowhere", "label=cultivar"], "does not exist; --set data_dir=FOLDER"),
    ],
)
def test_the_cli_refuses_bad_input_with_exit_2_before_tensorflow_loads(tmp_path, sets, words):
    workdir = tmp_path / "workdir"
    overrides = [argument for value in sets for argument in ("--set", value)]
    process = run_tfpipe("run", "table", "--name", "mine", "--workdir", str(workdir), *overrides)
    assert process.returncode == 2, process.stdout + process.stderr
    assert words in process.stderr and len(process.stderr.strip().splitlines()) == 1
    assert "load TensorFlow" not in process.stdout
    assert not (workdir / "mine" / named.RECORD).exists()


def _overall(run) -> dict:
    return run.outcome.results.metrics["overall"]


def test_both_tables_are_blessed_and_beat_their_naive_baselines(table_runs: TableRuns):
    wine, diabetes = _overall(table_runs.wine), _overall(table_runs.diabetes)
    assert table_runs.wine.outcome.results.blessed and table_runs.diabetes.outcome.results.blessed
    assert wine["probabilities/sparse_categorical_accuracy"] > wine["majority/sparse_categorical_accuracy"]
    assert wine["excess_correct_vs_majority/mean_prediction"] > 0
    assert diabetes["prediction/root_mean_squared_error"] < diabetes["mean/root_mean_squared_error"]
    assert "task=classification (read from" in table_runs.wine.process.stdout
    assert "class_names=class_0,class_1,class_2 (read from" in table_runs.wine.process.stdout
    assert "task=regression (read from" in table_runs.diabetes.process.stdout
    # Each table has its own served model; the runs list ranks each by its own metric.
    for name in ("wine", "diabetes"):
        assert len(list((table_runs.workdir / "serving" / name).iterdir())) == 1
    runs = run_tfpipe("runs", "--workdir", str(table_runs.workdir)).stdout
    assert "sparse_categorical_accuracy" in runs and "root_mean_squared_error" in runs


def test_the_inferred_schema_is_written_then_held_to(table_runs: TableRuns, tmp_path):
    schema = table_runs.workdir / "wine" / "schema.pbtxt"
    assert "Schema inferred from" in table_runs.wine.process.stdout and schema.is_file()
    text = schema.read_text()
    assert 'name: "cultivar"' in text and "disallow_nan: true" in text
    # The text column went through a vocabulary (the diabetes copy writes `sex` as text).
    assert 'name: "sex"' in (table_runs.workdir / "diabetes" / "schema.pbtxt").read_text()

    bad = tmp_path / "bad"
    bad.mkdir()
    with open(WINE / "wine.csv", newline="") as f:
        rows = list(csv.reader(f))
    rows[3][0] = "strong"  # alcohol, a number in the schema
    with open(bad / "wine.csv", "w", newline="") as f:
        csv.writer(f, lineterminator="\n").writerows(rows)
    process = run_tfpipe("run", "wine", "--workdir", str(table_runs.workdir), "--set", f"data_dir={bad}")
    assert process.returncode == 1, process.stdout + process.stderr
    assert f"does not match the schema {schema}" in process.stdout
    assert "column 'alcohol'" in process.stdout and "Nothing was trained or pushed." in process.stdout
    assert schema.read_text() == text
    assert last_outcome(table_runs.workdir, "wine").failed_component == "DataValidationGate"


def _first_row(table: Path, label: str) -> tuple[str, dict[str, str], str]:
    """The table's first row as `tfpipe predict` takes it, as a JSON instance, and its label."""
    with open(table, newline="") as f:
        row = next(csv.DictReader(f))
    answer = row.pop(label)
    return ",".join(f"{key}={value}" for key, value in row.items()), row, answer


def test_predict_and_the_model_server_answer_with_the_labels_classes_and_units(table_runs: TableRuns):
    from serving.model_server import ModelServer, ServerOptions

    workdir = str(table_runs.workdir)
    wine_row, wine_instance, cultivar = _first_row(WINE / "wine.csv", "cultivar")
    diabetes_row, _, _ = _first_row(table_runs.diabetes_dir / "diabetes.csv", "progression")
    wine = run_tfpipe("predict", "wine", wine_row, "--workdir", workdir)
    diabetes = run_tfpipe("predict", "diabetes", diabetes_row, "--workdir", workdir)
    assert wine.returncode == diabetes.returncode == 0, wine.stderr + diabetes.stderr
    assert wine.stdout.strip().endswith(")") and f": {cultivar} (probability" in wine.stdout
    assert float(diabetes.stdout.strip().rsplit(": ", 1)[1]) > 0

    with ModelServer(table_runs.workdir / "serving", ServerOptions(grpc_port=0, rest_port=0)) as server:
        address = f"127.0.0.1:{server.grpc_port}"
        answer = run_tfpipe("predict", "wine", wine_row, "--workdir", workdir, "--server", address)
        assert answer.returncode == 0 and answer.stdout == wine.stdout, answer.stderr
        instance = {key: float(value) for key, value in wine_instance.items()}
        body = json.dumps({"signature_name": "predict_row", "instances": [instance]}).encode()
        url = f"http://127.0.0.1:{server.rest_port}/v1/models/wine:predict"
        with urllib.request.urlopen(url, body) as response:
            (prediction,) = json.loads(response.read())["predictions"]
    assert prediction["class"] == cultivar


@pytest.mark.unit
def test_the_shipped_tables_are_what_make_tables_wrote():
    wine = (WINE / "wine.csv").read_text().splitlines()
    diabetes = (DIABETES / "diabetes.csv").read_text().splitlines()
    assert len(wine) == 179 and wine[0].endswith(",cultivar") and "/" not in wine[0]
    assert len(diabetes) == 443 and diabetes[0] == "age,sex,bmi,bp,s1,s2,s3,s4,s5,s6,progression"


@pytest.mark.unit
def test_csv_files_are_found_as_the_example_gen_finds_them(tmp_path):
    data_dir = _table(tmp_path, ["1,red,yes", "2,blue,no"])
    (data_dir / "t.csv").rename(data_dir / "T.CSV")
    config = _named_config(tmp_path, [("data_dir", str(data_dir)), ("label", "colour")])
    config.check()
    assert config.class_names == ("blue", "red")
