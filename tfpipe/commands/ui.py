"""`tfpipe ui`: the MLflow UI over the workdir's embedded tracking store."""

from __future__ import annotations

import argparse
import logging
import os

from pipelines.workdir import Workdir
from tfpipe import ui
from tfpipe.commands import options


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "ui",
        help="start the MLflow UI on the workdir's embedded tracking store",
        description="Serves the MLflow UI over <workdir>/mlflow (runs, metrics, artifacts, registered "
        "models). With MLFLOW_TRACKING_URI set, runs are on that server instead: open it.",
    )
    options.add_workdir(parser)
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1, this machine only)")
    parser.add_argument("--port", type=int, default=5000, help="port (default: 5000)")
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="server processes answering requests (default: 1, one person's UI; MLflow's own default is 4, "
        "each of which loads MLflow before the UI answers)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    # Workdir.tracking() reads MLFLOW_TRACKING_URI; the UI is for the embedded store.
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    ui.check_port_free(args.host, args.port)
    workdir = Workdir(args.workdir, "")
    tracking_uri, artifact_root = workdir.tracking()
    # A new store's tables made here, once, not by the server racing a run that starts meanwhile;
    # MLflow's and alembic's notes on it are not for the console.
    # A store that has its tables needs nothing, and MLflow (seconds to load) is not loaded for it.
    if not ui.has_tables(workdir.mlflow_db):
        for noisy in ("mlflow", "alembic"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
        from components.mlflow_tracking import init_store

        init_store(tracking_uri)
    return ui.serve(
        tracking_uri, artifact_root, args.host, args.port, workdir.mlflow_db.parent / "ui.log", args.workers
    )
