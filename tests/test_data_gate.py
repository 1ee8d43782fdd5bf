"""The data gate on a real iris run (issue 16): values that are not finite numbers (NaN, inf) and a
split too small for one training batch stop the run at DataValidationGate, before Transform, each
problem one line naming the column and the file; nothing is trained or pushed, the data is untouched.
(File-level problems, such as a folder without CSV or a byte-order mark, stop the CLI before anything
runs: tests/test_input_checks.py.)"""

import hashlib

import mlflow
import pytest
from conftest import REPO_ROOT, last_outcome, run_tfpipe

pytestmark = pytest.mark.e2e

HEADER, *ROWS = (REPO_ROOT / "data" / "iris" / "iris.csv").read_text().splitlines()


def test_nan_inf_and_too_few_rows_stop_the_run_before_transform(tmp_path):
    rows = ROWS[::7][:21]  # 21 rows of every species: the train split gets fewer than a batch of 32
    rows[3] = "nan" + rows[3][rows[3].index(",") :]  # sepal_length, line 5 of the file
    fields = rows[9].split(",")
    fields[3] = "inf"  # petal_width, line 11
    rows[9] = ",".join(fields)
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    csv_path = data_dir / "iris.csv"
    csv_path.write_text("\n".join([HEADER, *rows]) + "\n")
    digest = hashlib.sha256(csv_path.read_bytes()).hexdigest()
    workdir = tmp_path / "workdir"

    process = run_tfpipe("run", "iris", "--workdir", str(workdir), "--set", f"data_dir={data_dir}")

    assert process.returncode == 1, process.stdout + process.stderr
    console = process.stdout
    assert "Run failed at DataValidationGate" in console
    problems = [line.strip() for line in console.splitlines() if line.startswith("  - ")]
    [nan] = [line for line in problems if "column 'sepal_length'" in line]
    assert "Float feature has NaN values" in nan and "first in iris.csv line 5 ('nan')" in nan
    [inf] = [line for line in problems if "column 'petal_width'" in line]
    assert "Float feature has Inf values" in inf and "first in iris.csv line 11 ('inf')" in inf
    [size] = [line for line in problems if "train split has" in line]
    assert "(from iris.csv); the pipeline needs at least 32: one training batch (model.batch_size=32)" in size
    assert len(problems) == 3, problems
    assert "Nothing was trained or pushed." in console
    assert "Traceback" not in console + process.stderr
    pipeline_root = workdir / "iris" / "pipeline_root"
    assert not (pipeline_root / "Transform").exists() and not (pipeline_root / "Trainer").exists()
    assert not (workdir / "serving").exists()
    assert hashlib.sha256(csv_path.read_bytes()).hexdigest() == digest
    assert last_outcome(workdir, "iris").status == "failed"
    [run] = mlflow.MlflowClient(f"sqlite:///{workdir / 'mlflow' / 'mlflow.db'}").search_runs(["1"])
    assert run.info.status == "FAILED" and "first in iris.csv line 5" in run.data.tags["failure_reason"]


def test_a_class_missing_from_the_data_stops_the_run_naming_it(tmp_path):
    """R's write.csv of iris without its virginica rows: the quoted column names are read as the schema's
    (no column problem), and the gate refuses both splits for the class they lack."""
    header = ",".join(f'"{name}"' for name in HEADER.split(","))
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "iris.csv").write_text("\n".join([header, *[row for row in ROWS if not row.endswith(",2")]]) + "\n")
    workdir = tmp_path / "workdir"

    process = run_tfpipe("run", "iris", "--workdir", str(workdir), "--set", f"data_dir={data_dir}")

    assert process.returncode == 1, process.stdout + process.stderr
    console = process.stdout
    assert "Run failed at DataValidationGate" in console
    assert f"Data in {data_dir} is too little for the pipeline" in console
    problems = [line.strip() for line in console.splitlines() if line.startswith("  - ")]
    assert problems == [
        f"- the {split} split has fewer than 1 example(s) of class 'virginica' (0); every class needs at least 1 in "
        "each split (min_class_examples): add examples of each, or leave it out of the pipeline's classes"
        for split in ("eval", "train")
    ]
    assert "Nothing was trained or pushed." in console
    pipeline_root = workdir / "iris" / "pipeline_root"
    assert not (pipeline_root / "Transform").exists() and not (pipeline_root / "Trainer").exists()
    assert not (workdir / "serving").exists()
