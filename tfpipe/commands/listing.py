"""`tfpipe list`: the pipelines, one line each."""

from __future__ import annotations

import argparse

from pipelines.registry import PIPELINES


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("list", help="name the pipelines, one line each")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    width = max(map(len, PIPELINES))
    for name, config_class in sorted(PIPELINES.items()):
        print(f"{name:<{width}}  {config_class.description}")
    return 0
