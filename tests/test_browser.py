"""What only a browser shows, rendered by headless Chromium: MLflow's UI is a JavaScript app, so its
pages hold nothing until a browser runs it. The shared iris run, tracked on the real `mlflow server`
(which serves the UI too), as a person opening its run page sees it; and the run's statistics page."""

import html
import re
import shutil
import subprocess
from pathlib import Path

import mlflow
import pytest
from conftest import PipelineRun
from PIL import Image

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no Chromium here to render pages (.ci/run installs Debian's where apt-get can)"
)
# Chromium's own clock for the page: long enough for MLflow's app to load and ask the server for the run.
_PAGE_BUDGET_MS = "30000"


def _chromium(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            str(CHROMIUM),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            f"--virtual-time-budget={_PAGE_BUDGET_MS}",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=True,
    )


def _rendered_text(url: str) -> str:
    """The page's text once its scripts ran: tags, styles and scripts dropped, spaces collapsed."""
    dom = _chromium("--dump-dom", url).stdout
    dom = re.sub(r"<(style|script)\b.*?</\1>", " ", dom, flags=re.S)
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", dom)))


def test_the_mlflow_run_page_shows_the_run_its_source_data_set_duration_and_metrics(
    iris_run: PipelineRun, mlflow_server
):
    client = mlflow.MlflowClient(tracking_uri=mlflow_server)
    run = client.get_run(iris_run.outcome.results.mlflow_run_id)

    text = _rendered_text(f"{mlflow_server}/#/experiments/{run.info.experiment_id}/runs/{run.info.run_id}")

    assert run.info.run_name in text  # `iris ...: blessed, pushed <version>`
    assert "Source tfpipe run iris" in text
    assert re.search(r"Datasets iris \([0-9a-f]+\) training", text), text[:2000]
    assert re.search(r"Duration [\d.]+ ?(s|min)", text)
    assert "Status Finished" in text
    assert "eval.sparse_categorical_accuracy" in text and "val_sparse_categorical_accuracy" in text


def test_the_statistics_page_renders_offline_with_the_classes_by_name(iris_run: PipelineRun, tmp_path):
    page = Path(iris_run.outcome.results.statistics_page)
    screenshot = tmp_path / "statistics.png"

    text = _rendered_text(page.as_uri())
    _chromium("--window-size=1200,900", f"--screenshot={screenshot}", page.as_uri())

    assert "Classes of species" in text and "virginica" in text and "No anomalies" in text
    # Drawn, not blank: the tables' text, lines and the histograms' bars take many colours.
    with Image.open(screenshot) as image:
        assert image.size == (1200, 900)
        assert len(image.convert("RGB").getcolors(maxcolors=1 << 16) or range(1 << 16)) > 16
