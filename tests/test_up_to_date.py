"""The check that lets an unchanged `tfpipe run` answer before loading TensorFlow: what changes the
fingerprint, and when the last run's outputs count as still in place."""

import dataclasses
import os
import shutil
from pathlib import Path

import pytest
from conftest import REPO_ROOT

from pipelines import up_to_date
from pipelines.outcome import RunOutcome, RunResults
from pipelines.registry import config_for
from pipelines.workdir import Workdir

IRIS = config_for("iris")


@pytest.fixture
def data_dir(tmp_path) -> Path:
    data = tmp_path / "data"
    shutil.copytree(REPO_ROOT / "data" / "iris", data)
    return data


def _fingerprint(data_dir: Path, tracking_uri: str = "sqlite:///m.db", **values) -> str:
    config = dataclasses.replace(config_for("iris"), data_dir=str(data_dir), **values)
    return up_to_date.fingerprint(config, "local", [], tracking_uri)


def test_the_fingerprint_follows_data_content_config_and_tracking(data_dir):
    first = _fingerprint(data_dir)
    assert _fingerprint(data_dir) == first
    assert _fingerprint(data_dir, train_steps=7) != first
    assert _fingerprint(data_dir, tracking_uri="http://elsewhere:5000") != first
    csv = next(data_dir.glob("*.csv"))
    stat = csv.stat()
    content = csv.read_bytes()
    csv.write_bytes(content.replace(b"5.1", b"5.2", 1))  # same length: only the content tells
    os.utime(csv, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert _fingerprint(data_dir) != first
    csv.write_bytes(content)
    assert _fingerprint(data_dir) == first
    (data_dir / "more.csv").write_bytes(content)
    assert _fingerprint(data_dir) != first


def test_new_rows_to_score_change_the_fingerprint(data_dir, tmp_path):
    unlabelled = tmp_path / "unlabelled"
    unlabelled.mkdir()
    (unlabelled / "flowers.csv").write_text("sepal_length,sepal_width,petal_length,petal_width\n5.1,3.5,1.4,0.2\n")
    first = _fingerprint(data_dir, bulk_inference_dir=str(unlabelled))
    assert first != _fingerprint(data_dir)
    (unlabelled / "more.csv").write_text("sepal_length,sepal_width,petal_length,petal_width\n6.7,3.0,5.2,2.3\n")
    assert _fingerprint(data_dir, bulk_inference_dir=str(unlabelled)) != first


def _workdir_after_run(tmp_path: Path, last: RunOutcome) -> Workdir:
    workdir = Workdir(tmp_path / "workdir", "iris")
    workdir.pipeline_root.mkdir(parents=True)
    workdir.metadata_path.write_bytes(b"")
    for stamp, outcome in (
        ("20261124-010000", RunOutcome("iris", "succeeded", fingerprint="old")),
        ("20261124-020000", last),
    ):
        (workdir.pipeline_dir / "runs" / stamp).mkdir(parents=True)
        outcome.write(workdir.pipeline_dir / "runs" / stamp)
    return workdir


def test_only_the_last_successful_run_with_the_same_fingerprint_and_its_push_in_place_counts(tmp_path):
    version = tmp_path / "workdir" / "serving" / "iris" / "1795000000"
    version.mkdir(parents=True)
    (version / "saved_model.pb").write_bytes(b"model")
    pushed = RunOutcome(
        "iris", "succeeded", fingerprint="abc", results=RunResults(blessed=True, pushed_model=str(version))
    )
    workdir = _workdir_after_run(tmp_path, pushed)
    last_dir, last = up_to_date.unchanged_since(IRIS, workdir, "abc")
    assert last_dir.name == "20261124-020000" and last == pushed
    assert up_to_date.unchanged_since(IRIS, workdir, "old") is None  # not the last run
    assert up_to_date.unchanged_since(IRIS, workdir, "other") is None
    (version / "saved_model.pb").unlink()  # the pushed model is gone: run again
    assert up_to_date.unchanged_since(IRIS, workdir, "abc") is None


@pytest.mark.parametrize("status", ["failed", "interrupted"])
def test_a_run_that_did_not_succeed_is_never_unchanged(tmp_path, status):
    workdir = _workdir_after_run(tmp_path, RunOutcome("iris", status, fingerprint="abc"))
    assert up_to_date.unchanged_since(IRIS, workdir, "abc") is None


def test_missing_metadata_means_a_run(tmp_path):
    workdir = _workdir_after_run(tmp_path, RunOutcome("iris", "succeeded", fingerprint="abc"))
    assert up_to_date.unchanged_since(IRIS, workdir, "abc") is not None
    workdir.metadata_path.unlink()
    assert up_to_date.unchanged_since(IRIS, workdir, "abc") is None


def test_a_warm_started_run_always_runs(tmp_path):
    workdir = _workdir_after_run(tmp_path, RunOutcome("iris", "succeeded", fingerprint="abc"))
    assert up_to_date.unchanged_since(dataclasses.replace(IRIS, warm_start=True), workdir, "abc") is None
