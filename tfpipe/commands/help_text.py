"""`tfpipe help [COMMAND]`: what `tfpipe --help` or `tfpipe COMMAND --help` prints."""

from __future__ import annotations

import argparse


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("help", help="print the help of tfpipe or of one command")
    parser.add_argument("topic", nargs="?", metavar="COMMAND", help="the command to explain (default: tfpipe's)")
    parser.set_defaults(handler=run, commands=commands)


def run(args: argparse.Namespace) -> int:
    if args.topic is None:
        args.root_parser.print_help()
        return 0
    if args.topic not in args.commands.choices:
        args.root_parser.error(f"no command {args.topic!r} (choose from {', '.join(args.commands.choices)})")
    args.commands.choices[args.topic].print_help()
    return 0
