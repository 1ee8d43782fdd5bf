"""What several commands share: the options they take alike, and how bad arguments end a command."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from pipelines.beam_profiles import DEFAULT_PROFILE, PROFILES, beam_pipeline_args
from pipelines.config import PipelineConfig, Setting, apply_settings, assignment_settings
from pipelines.registry import config_for
from pipelines.workdir import DEFAULT_WORKDIR

EXIT_RUN_FAILED = 1
EXIT_USAGE = 2
# Sets --workdir once for the commands that follow (the Airflow DAGs read it too).
WORKDIR_VARIABLE = "TFPIPE_WORKDIR"


class UsageError(Exception):
    """Bad arguments or input: printed as one sentence, exit status 2."""


def add_workdir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--workdir",
        type=Path,
        default=_default_workdir(),
        help=f"folder for artifacts, metadata, logs and served models (default: ${WORKDIR_VARIABLE} if set, "
        f"else ./{DEFAULT_WORKDIR})",
    )


def _default_workdir() -> Path:
    return Path(os.environ.get(WORKDIR_VARIABLE) or DEFAULT_WORKDIR)


def workdir_option(args: argparse.Namespace) -> str:
    """The --workdir a hint must repeat for the command it suggests to find this run's files."""
    return "" if Path(args.workdir).resolve() == _default_workdir().resolve() else f" --workdir {args.workdir}"


def add_overrides(parser: argparse.ArgumentParser, help: str) -> None:
    parser.add_argument(
        "--config",
        dest="config_file",
        type=Path,
        metavar="FILE",
        help="a YAML file of config values (keys as for --set, nested or dotted); --set applies on top",
    )
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE", help=help)


def settings(args: argparse.Namespace, from_cwd: bool = True) -> list[tuple[str, Setting]]:
    """The --config file's settings (typed as YAML typed them), then --set's; with `from_cwd`, a data
    folder the user names is taken from where they ran the command."""
    from pipelines.config_files import settings_from_file

    from_file = settings_from_file(args.config_file) if args.config_file else []
    given = [*from_file, *assignment_settings(args.overrides)]
    return [_from_cwd(key, value) for key, value in given] if from_cwd else given


def _from_cwd(key: str, value: Setting) -> tuple[str, Setting]:
    # Shipped defaults are relative to the repository; a folder the user names
    # is relative to where they ran the command.
    if key == "data_dir" and isinstance(value, str) and value:
        return key, str(Path(value).resolve())
    return key, value


def load_config(args: argparse.Namespace, from_cwd: bool = True) -> PipelineConfig:
    """The pipeline's config with the --config file and --set values applied."""
    return apply_settings(config_for(args.pipeline), settings(args, from_cwd))


def checked_config(args: argparse.Namespace) -> PipelineConfig:
    """load_config, then the config's own checks (ConfigError, one sentence)."""
    config = load_config(args)
    config.check()
    return config


def add_beam_options(parser: argparse.ArgumentParser) -> None:
    profiles = "; ".join(
        f"{name}: {profile.description}" + (f", needs {' '.join(profile.required)}" if profile.required else "")
        for name, profile in PROFILES.items()
    )
    parser.add_argument(
        "--beam-profile",
        default=DEFAULT_PROFILE,
        metavar="PROFILE",
        help=f"where the Beam pipelines inside the components run (default: {DEFAULT_PROFILE}). {profiles}",
    )
    parser.add_argument(
        "--beam-workers", type=int, default=2, help="worker processes of the multi-processing profile (default: 2)"
    )
    parser.add_argument(
        "--beam-arg",
        dest="beam_args",
        action="append",
        default=[],
        metavar="--OPTION=VALUE",
        help="a Beam pipeline option added to the profile's, e.g. --beam-arg=--project=my-project; repeatable",
    )


def beam_args(args: argparse.Namespace) -> list[str]:
    return beam_pipeline_args(args.beam_profile, args.beam_workers, args.beam_args)
