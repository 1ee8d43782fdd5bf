"""`tfpipe list`: the pipelines, one line each: the shipped ones, then those named in the workdir."""

from __future__ import annotations

import argparse
from pathlib import Path

from pipelines import named
from pipelines.registry import PIPELINES
from tfpipe.commands import options


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("list", help="name the pipelines, one line each")
    options.add_workdir(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    rows = [(name, config_class.description) for name, config_class in sorted(PIPELINES.items())]
    rows += [
        (pipeline.name, f"{pipeline.config_class().description} Data: {pipeline.config().data_dir}")
        for pipeline in named.all_named(Path(args.workdir))
    ]
    width = max(len(name) for name, _ in rows)
    for name, description in rows:
        print(f"{name:<{width}}  {description}")
    return 0
