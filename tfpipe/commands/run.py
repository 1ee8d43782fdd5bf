"""`tfpipe run PIPELINE`: runs every component of a pipeline and prints a line each, then a summary."""

from __future__ import annotations

import argparse
import contextlib
from pathlib import Path
from typing import TextIO

from pipelines import interrupts, named
from pipelines import run as pipeline_run
from pipelines.config import PipelineConfig
from pipelines.outcome import RunOutcome
from pipelines.progress import ComponentRun
from pipelines.registry import PIPELINES
from pipelines.workdir import Workdir
from tfpipe.commands import options
from tfpipe.console import Console
from tfpipe.run_view import outcome_words, summary_lines


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "run",
        help="run a pipeline end to end",
        description="Runs every component of a pipeline (cached ones are reused) and prints a summary.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        add_help=False,
    )
    parser.add_argument("-h", "--help", action=_PipelineHelp)
    options.add_pipeline(parser)
    parser.add_argument(
        "--name",
        help="run the shipped pipeline's code as a pipeline of this name, with its own runs, served model and "
        "MLflow experiment; the --config and --set values given define it (later: `tfpipe run NAME`)",
    )
    options.add_workdir(parser)
    options.add_overrides(parser, "override a config value; repeatable (keys below)")
    parser.add_argument(
        "--runner",
        choices=list(pipeline_run.RUNNERS),
        default="local",
        help="orchestrator in this process: local (TFX's LocalDagRunner, default) or beam (BeamDagRunner)",
    )
    options.add_beam_options(parser)
    parser.add_argument(
        "--rerun",
        action="store_true",
        help="run even when nothing changed since the last successful run (every component is then cached); "
        "without it such a run only says so, before loading TensorFlow",
    )
    parser.set_defaults(handler=run)


class _PipelineHelp(argparse.Action):
    """-h/--help: the options, then the --set keys of the pipeline named before it, or how to see them."""

    def __init__(self, option_strings: list[str], dest: str, **kwargs):
        super().__init__(
            option_strings,
            dest,
            nargs=0,
            default=argparse.SUPPRESS,
            help="show this help and exit; after a pipeline name (`tfpipe run iris --help`), with its --set keys",
        )

    def __call__(self, parser, namespace, values, option_string=None):
        parser.epilog = _settable_fields_text(getattr(namespace, "pipeline", None))
        parser.print_help()
        parser.exit()


def _settable_fields_text(pipeline: str | None) -> str:
    from pipelines.config import describe_fields
    from pipelines.config_files import field_descriptions

    if pipeline not in PIPELINES:
        return (
            "`tfpipe run PIPELINE --help` lists the keys PIPELINE's --set and --config take, with their defaults; "
            f"pipelines: {', '.join(sorted(PIPELINES))}."
        )
    config_class = PIPELINES[pipeline]
    lines = [f"{pipeline}: settable with --set or in a --config file (default values):"]
    descriptions = field_descriptions(config_class)
    for key, value in describe_fields(config_class()):
        lines.append(f"  {key}={value}")
        if descriptions.get(key):
            lines.append(f"      {descriptions[key]}")
    return "\n".join(lines)


def _checked_config(args: argparse.Namespace) -> PipelineConfig:
    """The run's config, checked; a pipeline named with --name is recorded in the workdir once its config
    checks out. Says what was read from the data rather than given."""
    if args.name is None:
        config, read = options.checked(*options.config_settings(args))
    else:
        if args.pipeline not in PIPELINES:
            raise options.UsageError(
                f"--name {args.name}: name a shipped pipeline to run under it, one of {', '.join(sorted(PIPELINES))}; "
                f"{args.pipeline} is not one."
            )
        given = options.settings(args)
        definition = named.define(Path(args.workdir), args.name, args.pipeline, given)
        config, read = options.checked(definition.config_class(), given)
        Workdir(args.workdir, args.name).check_writable()
        named.write(Path(args.workdir), definition)
    for key, value in read:
        print(f"{key}={value} (read from {config.data_dir}; --set {key}=... to choose otherwise)")
    return config


def run(args: argparse.Namespace) -> int:
    config = _checked_config(args)
    request = pipeline_run.RunRequest(
        config=config,
        workdir=Workdir(args.workdir, config.name),
        runner=args.runner,
        beam_args=options.beam_args(args),
        rerun=args.rerun,
    )
    observer = _ConsoleObserver(f"tfpipe run {config.name} --runner {args.runner} --beam-profile {args.beam_profile}")
    observer.ui_hint = f"tfpipe ui{options.workdir_option(args)}"
    try:
        result = pipeline_run.execute(request, observer)
    except interrupts.Interrupted as interrupted:  # a signal after the run's summary: it is stopped already
        return interrupted.exit_status
    if isinstance(result, pipeline_run.UpToDate):
        print(
            f"tfpipe run {config.name}: up to date, nothing run ({result.seconds:.1f} s). Data, code, "
            f"schema, config and settings are those of the last run, {result.run_dir} "
            f"({outcome_words(result.last)}). `--rerun` runs it anyway (every component cached)."
        )
        return 0
    if result.status == "interrupted" and result.exit_status is not None:
        return result.exit_status
    return 0 if result.succeeded else options.EXIT_RUN_FAILED


class _ConsoleObserver:
    """A run as the console shows it (pipeline_run.RunObserver)."""

    def __init__(self, header: str):
        self.header = header
        self.ui_hint = "tfpipe ui"
        self.console: Console | None = None

    def started(self, terminal: TextIO, log_path: Path, took_over: dict | None) -> None:
        self.console = Console(terminal)
        self.console.say(f"{self.header}  (log: {log_path})")
        if took_over:
            self.console.say(
                f"Took over the workdir from a run that ended without releasing it "
                f"(pid {took_over.get('pid')}, started {took_over.get('started')})."
            )

    def _console(self) -> Console:
        assert self.console is not None, "started() comes first"
        return self.console

    def step(self, name: str) -> contextlib.AbstractContextManager[None]:
        return self._console().step(name)

    def component(self, name: str, run: ComponentRun) -> None:
        self._console().component(name, run.status, run.seconds, run.detail, run.milestone, run.every_milestone)

    def notice(self, text: str) -> None:
        self._console().say(text)

    def finished(self, outcome: RunOutcome) -> None:
        for line in summary_lines(outcome, self.ui_hint, self._console().width):
            self._console().say(line)
