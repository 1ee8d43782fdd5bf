"""What several commands share: the options they take alike, and how bad arguments end a command."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from pipelines import named
from pipelines.beam_profiles import DEFAULT_PROFILE, PROFILES, beam_pipeline_args
from pipelines.config import ConfigError, PipelineConfig, Setting, apply_settings, assignment_settings, describe_fields
from pipelines.registry import PIPELINES, UnknownPipelineError
from pipelines.workdir import DEFAULT_WORKDIR

EXIT_RUN_FAILED = 1
EXIT_USAGE = 2
# Sets --workdir once for the commands that follow (the Airflow DAGs read it too).
WORKDIR_VARIABLE = "TFPIPE_WORKDIR"


class UsageError(Exception):
    """Bad arguments or input: printed as one sentence, exit status 2."""


_WORKDIR_HELP = (
    f"folder for artifacts, metadata, logs and served models (default: ${WORKDIR_VARIABLE} if set, "
    f"else ./{DEFAULT_WORKDIR})"
)


def add_workdir(parser: argparse.ArgumentParser) -> None:
    """A command's --workdir; given before the command instead (`tfpipe --workdir DIR runs`), it applies
    to the command all the same (resolve_workdir)."""
    parser.add_argument("--workdir", type=Path, help=_WORKDIR_HELP)


def add_global_workdir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--workdir", dest="global_workdir", type=Path, metavar="WORKDIR", help=_WORKDIR_HELP)


def resolve_workdir(args: argparse.Namespace) -> None:
    """The command's --workdir: given after the command, else before it, else the default."""
    if hasattr(args, "workdir"):
        args.workdir = workdir_of(args)


def _default_workdir() -> Path:
    return Path(os.environ.get(WORKDIR_VARIABLE) or DEFAULT_WORKDIR)


def workdir_option(args: argparse.Namespace) -> str:
    """The --workdir a hint must repeat for the command it suggests to find this run's files."""
    return "" if Path(args.workdir).resolve() == _default_workdir().resolve() else f" --workdir {args.workdir}"


def add_pipeline(parser: argparse.ArgumentParser, help: str = "pipeline name (see `tfpipe list`)", **kwargs) -> None:
    """The command's pipeline argument, completed with the shipped and the workdir's named pipelines."""
    parser.add_argument("pipeline", help=help, **kwargs).completer = _pipeline_names  # type: ignore[attr-defined]


def add_overrides(parser: argparse.ArgumentParser, help: str) -> None:
    parser.add_argument(
        "--config",
        dest="config_file",
        type=Path,
        metavar="FILE",
        help="a YAML file of config values (keys as for --set, nested or dotted); --set applies on top",
    )
    overrides = parser.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE", help=help
    )
    overrides.completer = _settable_keys  # type: ignore[attr-defined]


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
    if key in ("data_dir", "bulk_inference_dir") and isinstance(value, str) and value:
        return key, str(Path(value).resolve())
    return key, value


def workdir_of(args: argparse.Namespace) -> Path:
    """The command's --workdir: given after the command, else before it, else the default (also for a
    command that has none, and for completion, which runs before resolve_workdir)."""
    return Path(getattr(args, "workdir", None) or getattr(args, "global_workdir", None) or _default_workdir())


def config_settings(
    args: argparse.Namespace, from_cwd: bool = True
) -> tuple[type[PipelineConfig], list[tuple[str, Setting]]]:
    """The pipeline's config class (a shipped pipeline's, or one named in the workdir) and the settings
    to apply to it: a named pipeline's defining ones, then the --config file's and --set's."""
    config_class, defining = named.pipeline(workdir_of(args), args.pipeline)
    return config_class, [*defining, *settings(args, from_cwd)]


def load_config(args: argparse.Namespace, from_cwd: bool = True) -> PipelineConfig:
    """The pipeline's config with its settings applied (config_settings)."""
    config_class, given = config_settings(args, from_cwd)
    return apply_settings(config_class(), given)


def checked(
    config_class: type[PipelineConfig], given: list[tuple[str, Setting]]
) -> tuple[PipelineConfig, list[tuple[str, Setting]]]:
    """`config_class`'s config with the `given` settings, then what the data folder says of the keys not
    given (PipelineConfig.read_from_data: class names from class folders), then checked (ConfigError,
    one sentence); and the settings read from the data."""
    config = apply_settings(config_class(), given)
    read = config.read_from_data({key for key, _ in given})
    config = apply_settings(config, read)
    config.check()
    return config, read


def checked_config(args: argparse.Namespace) -> PipelineConfig:
    """The pipeline's config with its settings and what its data says, checked (`checked`)."""
    return checked(*config_settings(args))[0]


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


def _pipeline_names(prefix: str, parsed_args: argparse.Namespace, **_) -> list[str]:
    """argcomplete's completer of a pipeline argument: the shipped pipelines and the workdir's named ones."""
    names = [*PIPELINES, *(pipeline.name for pipeline in named.all_named(workdir_of(parsed_args)))]
    return sorted(name for name in names if name.startswith(prefix))


def _settable_keys(prefix: str, parsed_args: argparse.Namespace, **_) -> list[str]:
    """argcomplete's completer of --set: `key=` for each key of the pipeline named on the command line."""
    if getattr(parsed_args, "pipeline", None) is None:
        return []
    try:
        config = named.pipeline(workdir_of(parsed_args), parsed_args.pipeline)[0]()
    except (ConfigError, UnknownPipelineError):
        return []
    return [f"{key}=" for key, _ in describe_fields(config) if f"{key}=".startswith(prefix)]
