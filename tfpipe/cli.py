"""The `tfpipe` command: parses the command line and hands it to one command of tfpipe/commands/.
Imports of TensorFlow/TFX wait until a command needs them, so `--help` and `tfpipe list` answer at once."""

from __future__ import annotations

import argparse
import sys

import argcomplete

from pipelines.beam_profiles import BeamProfileError
from pipelines.config import ConfigError
from pipelines.registry import UnknownPipelineError
from pipelines.workdir import WorkdirBusyError, WorkdirNotWritableError
from tfpipe.commands import (
    compile,
    completion,
    help_text,
    listing,
    options,
    predict,
    run,
    runs,
    schema,
    serve,
    skew,
    ui,
)
from tfpipe.commands.options import EXIT_USAGE, UsageError
from tfpipe.ui import UiError

# In the order `tfpipe --help` lists them.
COMMANDS = (listing, runs, completion, run, compile, schema, ui, serve, skew, predict, help_text)
# Bad arguments or input, each said in one sentence: exit status 2.
USAGE_ERRORS = (
    UsageError,
    ConfigError,
    UnknownPipelineError,
    BeamProfileError,
    WorkdirBusyError,
    WorkdirNotWritableError,
    UiError,
)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):
        # One sentence, like every other bad input (argparse would print the usage first).
        self.exit(EXIT_USAGE, f"tfpipe: {message}; see {self.prog} --help.\n")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    # Under the shell's completion script (tfpipe completion), this answers and exits; else it returns at once.
    argcomplete.autocomplete(parser)
    args = parser.parse_args(argv)
    if args.command is None:  # bare `tfpipe`: what it can do
        parser.print_help()
        return 0
    options.resolve_workdir(args)
    try:
        return args.handler(args)
    except USAGE_ERRORS as error:
        print(f"tfpipe: {error}", file=sys.stderr)
        return EXIT_USAGE


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="tfpipe",
        description="Classic TensorFlow 2 workflows as TFX pipelines: validate, transform, train, evaluate, push.",
    )
    parser.add_argument("-V", "--version", action="version", version=f"tfpipe {_version()}")
    options.add_global_workdir(parser)
    # Every command can see the whole command line's parser (completion writes a script from it).
    parser.set_defaults(root_parser=parser)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in COMMANDS:
        command.register(commands)
    return parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("tfpipe")
    except PackageNotFoundError:  # a checkout used without installing it
        return "unknown (not installed)"


if __name__ == "__main__":
    sys.exit(main())
