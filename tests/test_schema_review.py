"""`tfpipe schema`: a freshly inferred schema, diffed against the curated one, which stays untouched."""

import hashlib

import pytest
from conftest import REPO_ROOT, run_tfpipe


@pytest.mark.e2e  # loads TFX and builds the pipeline: seconds, not a unit test
def test_schema_review_shows_how_the_data_differs_from_the_contract(tmp_path):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    lines = (REPO_ROOT / "data" / "iris" / "iris.csv").read_text().splitlines()
    lines[3] = "3.0.1" + lines[3][3:]  # a sepal_length TFDV cannot read as a number
    (data_dir / "iris.csv").write_text("\n".join(lines) + "\n")
    curated = REPO_ROOT / "schemas" / "iris" / "schema.pbtxt"
    curated_digest = hashlib.sha256(curated.read_bytes()).hexdigest()

    result = run_tfpipe("schema", "iris", "--workdir", str(tmp_path / "workdir"), "--set", f"data_dir={data_dir}")

    assert result.returncode == 0, result.stdout + result.stderr
    inferred = tmp_path / "workdir" / "iris" / "inferred_schema" / "schema.pbtxt"
    assert f"Inferred schema: {inferred}" in result.stdout
    assert "type: BYTES" in inferred.read_text()
    assert "+  type: BYTES" in result.stdout  # the diff shows the type change...
    assert "-  float_domain {" in result.stdout  # ...and what only the curated schema says
    assert hashlib.sha256(curated.read_bytes()).hexdigest() == curated_digest
