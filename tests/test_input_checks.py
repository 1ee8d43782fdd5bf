"""What is refused before anything is trained, without a pipeline run: `--set` values out of range
and data folders that are not CSV as the CSV pipelines need it (one sentence, exit status 2, before
TensorFlow loads), the data gate's own checks (values that are not finite numbers located in the
CSV file, splits too small for the pipeline), prices that are not positive, and a NaN metric in the
console's table (issue 16)."""

import math

import pytest
from conftest import REPO_ROOT, run_tfpipe
from tensorflow_metadata.proto.v0 import anomalies_pb2

from components.models.stock import windowing
from components.validation_gate import describe_anomalies, split_size_problems
from pipelines import csv_input
from pipelines.config import ConfigError, apply_overrides, check_ranges
from pipelines.registry import PIPELINES, config_for
from tfpipe.console import metrics_table

IRIS_HEADER = "sepal_length,sepal_width,petal_length,petal_width,species"
IRIS_ROWS = (REPO_ROOT / "data" / "iris" / "iris.csv").read_text().splitlines()[1:]


@pytest.mark.parametrize("pipeline", sorted(PIPELINES))
def test_every_default_config_is_in_range(pipeline):
    check_ranges(config_for(pipeline))


@pytest.mark.parametrize(
    "pipeline, assignment, expected",
    [
        ("iris", "train_steps=-5", "--set train_steps=-5: expected a whole number 1 or more."),
        ("iris", "epochs=0", "--set epochs=0: expected a whole number 1 or more."),
        ("iris", "eval_steps=0", "--set eval_steps=0: expected a whole number 1 or more."),
        ("iris", "model.batch_size=0", "--set model.batch_size=0: expected a whole number 1 or more."),
        ("iris", "model.learning_rate=0", "--set model.learning_rate=0: expected a number above 0."),
        ("iris", "model.learning_rate=-0.1", "--set model.learning_rate=-0.1: expected a number above 0."),
        ("iris", "model.learning_rate=nan", "--set model.learning_rate=nan: expected a finite number."),
        ("iris", "blessing_threshold=inf", "--set blessing_threshold=inf: expected a finite number."),
        ("iris", "model.hidden_units=16,0", "--set model.hidden_units=16,0: expected whole numbers, each 1 or more."),
        ("iris", "model.l2=-1", "--set model.l2=-1: expected a number 0 or more."),
        ("stock", "model.dropout=1", "--set model.dropout=1: expected a number 0 or more and below 1."),
        ("stock", "window_days=0", "--set window_days=0: expected a whole number 1 or more."),
        (
            "digits",
            "augmentation.shift_fraction=1.5",
            "--set augmentation.shift_fraction=1.5: expected a number from 0 to 1.",
        ),
        (
            "digits",
            "augmentation.zoom_fraction=-0.1",
            "--set augmentation.zoom_fraction=-0.1: expected a number from 0 to 1.",
        ),
    ],
)
def test_values_out_of_range_are_refused_as_they_are_set(pipeline, assignment, expected):
    with pytest.raises(ConfigError) as error:
        apply_overrides(config_for(pipeline), [assignment])
    assert str(error.value) == expected


def test_more_epochs_than_steps_is_refused_not_clamped():
    config = apply_overrides(config_for("iris"), ["train_steps=5", "epochs=10"])
    with pytest.raises(ConfigError, match="epochs=10 with train_steps=5: each epoch needs at least one training step"):
        config.check()


def test_a_bad_value_stops_the_cli_at_once_with_exit_2():
    for assignment, sentence in [
        ("train_steps=-5", "tfpipe: --set train_steps=-5: expected a whole number 1 or more."),
        ("epochs=0", "tfpipe: --set epochs=0: expected a whole number 1 or more."),
    ]:
        result = run_tfpipe("run", "iris", "--set", assignment)
        assert result.returncode == 2
        assert result.stderr.strip() == sentence
        assert result.stdout == ""


def _folder(tmp_path, files: dict):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    for name, content in files.items():
        (data_dir / name).write_bytes(content if isinstance(content, bytes) else content.encode())
    return data_dir


def _iris_csv(rows: int = 20) -> str:
    return "\n".join([IRIS_HEADER, *IRIS_ROWS[:rows]]) + "\n"


def test_a_folder_without_csv_names_what_it_found(tmp_path):
    data_dir = _folder(tmp_path, {"README.txt": "the iris data", "meta.json": "{}"})
    assert csv_input.folder_problems(data_dir) == [
        f"data folder {data_dir} holds no CSV file (found README.txt, meta.json); expected CSV files (*.csv)."
    ]


def test_other_files_beside_the_csv_are_named(tmp_path):
    data_dir = _folder(tmp_path, {"iris.csv": _iris_csv(), "notes.txt": "x"})
    [problem] = csv_input.folder_problems(data_dir)
    assert "holds notes.txt beside its CSV files" in problem


def test_a_byte_order_mark_in_the_header_is_named(tmp_path):
    data_dir = _folder(tmp_path, {"iris.csv": b"\xef\xbb\xbf" + _iris_csv().encode()})
    [problem] = csv_input.folder_problems(data_dir)
    assert problem == (
        f"{data_dir / 'iris.csv'} starts with a byte-order mark (an invisible U+FEFF character before the "
        "column name 'sepal_length'); save it as UTF-8 without a byte-order mark."
    )


def test_other_invisible_characters_in_the_header_are_named(tmp_path):
    header = IRIS_HEADER.replace("petal_width", "petal\u200b_width")
    data_dir = _folder(tmp_path, {"iris.csv": "\n".join([header, *IRIS_ROWS[:5]]) + "\n"})
    [problem] = csv_input.folder_problems(data_dir)
    assert "header column 4 ('petal\\u200b_width') holds invisible characters (U+200B ZERO WIDTH SPACE)" in problem


@pytest.mark.parametrize(
    "content, expected",
    [
        ("", "is empty; expected a header line naming the columns"),
        (IRIS_HEADER + "\n", "has a header but no rows"),
        (IRIS_HEADER + "\n\n\n", "has a header but no rows"),
        (b"\xff\xfe" + IRIS_HEADER.encode("utf-16-le"), "is UTF-16 text; save it as UTF-8"),
    ],
)
def test_empty_and_header_only_files_are_named(tmp_path, content, expected):
    data_dir = _folder(tmp_path, {"iris.csv": content})
    [problem] = csv_input.folder_problems(data_dir)
    assert problem.startswith(str(data_dir / "iris.csv")) and expected in problem


def test_the_shipped_csv_data_passes(tmp_path):
    for name in ("iris", "stock"):
        assert csv_input.folder_problems(REPO_ROOT / "data" / name) == []


def test_folder_problems_stop_the_cli_before_anything_runs(tmp_path):
    data_dir = _folder(tmp_path, {"README.txt": "x", "meta.json": "{}"})
    result = run_tfpipe("run", "iris", "--workdir", str(tmp_path / "workdir"), "--set", f"data_dir={data_dir}")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"tfpipe: data folder {data_dir} holds no CSV file (found README.txt, meta.json); expected CSV files (*.csv)."
    )
    assert not (tmp_path / "workdir").exists()


def _nan_anomaly(column: str, kind=anomalies_pb2.AnomalyInfo.FLOAT_TYPE_HAS_NAN) -> anomalies_pb2.Anomalies:
    anomalies = anomalies_pb2.Anomalies()
    info = anomalies.anomaly_info[column]
    info.description = "Float feature has NaN values."
    info.reason.add(type=kind, description="Float feature has NaN values.")
    return anomalies


def test_values_that_are_not_finite_are_located_in_the_csv(tmp_path):
    rows = list(IRIS_ROWS[:20])
    rows[3] = "nan" + rows[3][rows[3].index(",") :]
    rows[9] = "inf" + rows[9][rows[9].index(",") :]
    data_dir = _folder(tmp_path, {"iris.csv": "\n".join([IRIS_HEADER, *rows]) + "\n"})
    [line] = describe_anomalies({"train": _nan_anomaly("sepal_length")}, str(data_dir))
    assert line == (
        "column 'sepal_length' (train split): Float feature has NaN values, first in iris.csv line 5 ('nan'); "
        "2 such value(s) in all, expected finite numbers"
    )
    # Without the data folder (a container's path), the column and split alone.
    [line] = describe_anomalies({"train": _nan_anomaly("sepal_length")}, str(tmp_path / "elsewhere"))
    assert line == "column 'sepal_length' (train split): Float feature has NaN values"


def test_splits_smaller_than_the_pipeline_needs_are_named(tmp_path):
    data_dir = _folder(tmp_path, {"iris.csv": _iris_csv(1)})
    needed = {split: list(value) for split, value in config_for("iris").min_split_examples().items()}
    problems = split_size_problems({"train": 1, "eval": 0}, needed, str(data_dir))
    assert problems == [
        "the eval split has 0 example(s) (from iris.csv); the pipeline needs at least 1: one example to evaluate "
        "the model on; add data",
        "the train split has 1 example(s) (from iris.csv); the pipeline needs at least 32: one training batch "
        "(model.batch_size=32); add data or lower it",
    ]
    assert split_size_problems({"train": 100, "eval": 50}, needed, str(data_dir)) == []


def test_a_price_that_is_not_positive_is_a_problem_naming_file_column_and_day(tmp_path):
    path = tmp_path / "prices.csv"
    path.write_text("date,open,high,low,close,volume\n")
    layout = windowing.read_layout(str(path))
    assert windowing.parse_row(layout, "2017-01-03,62.8,62.9,62.1,0,20694101") == (
        f"{path}: column 'close' on 2017-01-03 holds '0'; expected a price above 0."
    )
    assert windowing.parse_row(layout, "2017-01-03,-1,62.9,62.1,62.5,20694101").startswith(
        f"{path}: column 'open' on 2017-01-03 holds '-1'; expected a price above 0."
    )
    # A day without trades is a volume of 0, which is fine.
    assert not isinstance(windowing.parse_row(layout, "2017-01-03,62.8,62.9,62.1,62.5,0"), str)


def test_a_nan_metric_is_shown_not_a_crash():
    # TFMA's JSON gives a NaN metric as the string "NaN": the console crashed formatting it with 'g'.
    table = metrics_table({"overall": {"loss": "NaN", "accuracy": 0.3333}, "species=0": {"loss": math.nan}})
    assert table[1].split() == ["accuracy", "0.3333", "-"]
    assert table[2].split() == ["loss", "nan", "nan"]
