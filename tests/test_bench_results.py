"""RESULTS.md is rendered from stored results: every figure with its date, commit, machine and command,
and a stored result without its command refused (benchmarks/render.py, benchmarks/results.py)."""

import json
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import render  # noqa: E402
from results import StoredResult  # noqa: E402

FIXTURE = {
    "title": "A fixture benchmark",
    "benchmark": "fixture_bench",
    "figures": [
        {"name": "first run, wall", "value": 46.4, "unit": "s"},
        {"name": "eval accuracy", "value": 0.9333, "unit": ""},
        {"name": "blessed", "value": True, "unit": ""},
    ],
    "tables": [{"title": "Seconds per component", "columns": ["component", "seconds"], "rows": [["Transform", 12.8]]}],
    "provenance": {
        "date": "2026-12-01 10:00 UTC",
        "commit": "0123456789abcdef0123456789abcdef01234567",
        "machine": {"cpus": 16, "memory_gib": 64, "cpu_model": "Some CPU", "avx512_bf16": True, "amx": False},
        "command": ".venv/bin/python benchmarks/fixture_bench.py --results-fp $BENCH_DIR/fixture_bench.json",
        "seconds": 61,
    },
}


def _folder(tmp_path: Path, stored: dict, conclusion: str = '- It is fast ("first run, wall").') -> Path:
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / f"{stored['benchmark']}.json").write_text(json.dumps(stored))
    (tmp_path / "conclusions.md").write_text(f"About this file.\n\n## {stored['benchmark']}\n\n{conclusion}\n")
    return tmp_path


def test_every_figure_is_rendered_with_its_provenance(tmp_path):
    folder = _folder(tmp_path, FIXTURE)
    render.write(folder / "results", folder / "conclusions.md", folder / "RESULTS.md")
    text = (folder / "RESULTS.md").read_text()
    section = text[text.index("## fixture_bench") :]
    for figure in FIXTURE["figures"]:
        assert f"| {figure['name']} | {render._value(figure['value'])} | {figure['unit']} |" in section
    assert "| Transform | 12.8 |" in section
    provenance = FIXTURE["provenance"]
    assert f"| date | {provenance['date']} |" in section
    assert f"| commit | `{provenance['commit']}` |" in section
    assert "| machine | 16 CPUs; 64 GiB; Some CPU; AVX-512-BF16 yes, AMX no;" in section
    assert f"| command | `{provenance['command']}` (61 s) |" in section
    assert "It is fast" in section
    assert "[fixture_bench](#fixture_bench)" in text


@pytest.mark.parametrize("missing", ["command", "commit", "date"])
def test_a_stored_result_without_its_provenance_is_refused(tmp_path, missing):
    stored = json.loads(json.dumps(FIXTURE))
    del stored["provenance"][missing]
    folder = _folder(tmp_path, stored)
    with pytest.raises(ValueError, match=f"no {missing}"):
        render.write(folder / "results", folder / "conclusions.md", folder / "RESULTS.md")


def test_results_and_conclusions_must_match(tmp_path):
    folder = _folder(tmp_path, FIXTURE)
    (folder / "conclusions.md").write_text("## another_bench\n\n- Nothing measured.\n")
    with pytest.raises(ValueError, match="without a conclusion"):
        render.write(folder / "results", folder / "conclusions.md", folder / "RESULTS.md")


def test_the_committed_results_md_is_what_the_stored_results_render():
    stored = render.read_results(render.RESULTS_DIR)
    assert all(isinstance(result, StoredResult) for result in stored.values())
    assert render.RESULTS_MD.read_text() == render.render(stored, render.read_conclusions(render.CONCLUSIONS))
