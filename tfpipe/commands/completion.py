"""`tfpipe completion bash`: a bash completion script for tfpipe's commands, options and pipelines."""

from __future__ import annotations

import argparse

from pipelines.registry import PIPELINES


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "completion",
        help='print a bash completion script: eval "$(tfpipe completion bash)"',
        description="Prints a bash completion script for tfpipe's commands, options and pipeline names. "
        'Add `eval "$(tfpipe completion bash)"` to ~/.bashrc.',
    )
    parser.add_argument("shell", choices=["bash"], help="the shell (bash)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from tfpipe.completion import bash_script

    # The whole command line's parser, which the entry point hands every command (tfpipe/cli.py).
    print(bash_script(args.root_parser, sorted(PIPELINES)), end="")
    return 0
