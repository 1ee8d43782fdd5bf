"""`tfpipe runs [PIPELINE]`: the workdir's recent runs, newest first."""

from __future__ import annotations

import argparse
from pathlib import Path

from pipelines import history, named
from tfpipe.commands import options


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "runs",
        help="list recent runs: date, status, eval metric, blessed, pushed version",
        description="Lists the workdir's recent runs, newest first, from their run folders' records (summary.json).",
    )
    options.add_pipeline(parser, nargs="?", help="only this pipeline's runs (default: every pipeline's)")
    options.add_workdir(parser)
    parser.add_argument("--limit", type=int, default=20, help="at most this many runs (default: 20)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.pipeline is not None:
        named.pipeline(Path(args.workdir), args.pipeline)  # an unknown name is one sentence
    if not Path(args.workdir).is_dir():
        raise options.UsageError(
            f"{args.workdir} holds no runs yet; run `tfpipe run <pipeline>{options.workdir_option(args)}` first."
        )
    runs = history.recent_runs(Path(args.workdir), args.pipeline, args.limit)
    if not runs:
        print(f"No runs in {args.workdir}" + (f" for {args.pipeline}." if args.pipeline else "."))
        return 0
    for line in history.table(runs):
        print(line)
    return 0
