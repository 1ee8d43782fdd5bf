"""The `tfpipe` command. Imports of TensorFlow/TFX wait until a command needs them,
so `--help` and `tfpipe list` answer at once."""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import signal
import sys
import time
from pathlib import Path

from components import tf_setup
from pipelines import history, interrupts, up_to_date
from pipelines import run as pipeline_run
from pipelines.beam_profiles import DEFAULT_PROFILE, PROFILES, BeamProfileError, beam_pipeline_args
from pipelines.config import ConfigError, PipelineConfig, apply_overrides, describe_fields
from pipelines.registry import PIPELINES, UnknownPipelineError, config_for
from pipelines.workdir import DEFAULT_WORKDIR, Workdir, WorkdirBusyError
from tfpipe import ui
from tfpipe.console import Console, metrics_table, output_to_log
from tfpipe.ui import UiError

EXIT_RUN_FAILED = 1
EXIT_USAGE = 2
# Sets --workdir once for the commands that follow (the Airflow DAGs read it too).
WORKDIR_VARIABLE = "TFPIPE_WORKDIR"
# `tfpipe compile --target`: the modules that write a pipeline out for another orchestrator.
TARGETS = {"kubeflow": "pipelines.kubeflow_runner"}


class UsageError(Exception):
    """Bad arguments or input: printed as one sentence, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):
        # One sentence, like every other bad input (argparse would print the usage first).
        self.exit(EXIT_USAGE, f"tfpipe: {message}; see {self.prog} --help.\n")


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:  # bare `tfpipe`: what it can do
        parser.print_help()
        return 0
    try:
        return args.handler(args)
    except (UsageError, ConfigError, UnknownPipelineError, BeamProfileError, WorkdirBusyError, UiError) as error:
        print(f"tfpipe: {error}", file=sys.stderr)
        return EXIT_USAGE


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="tfpipe",
        description="Classic TensorFlow 2 workflows as TFX pipelines: validate, transform, train, evaluate, push.",
    )
    parser.add_argument("--version", action="version", version=f"tfpipe {_version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    listing = commands.add_parser("list", help="name the pipelines, one line each")
    listing.set_defaults(handler=_list)

    runs = commands.add_parser(
        "runs",
        help="list recent runs: date, status, eval metric, blessed, pushed version",
        description="Lists the workdir's recent runs, newest first, from their run folders (summary.json).",
    )
    runs.add_argument("pipeline", nargs="?", help="only this pipeline's runs (default: every pipeline's)")
    _add_workdir(runs)
    runs.add_argument("--limit", type=int, default=20, help="at most this many runs (default: 20)")
    runs.set_defaults(handler=_runs)

    completion = commands.add_parser(
        "completion",
        help='print a bash completion script: eval "$(tfpipe completion bash)"',
        description="Prints a bash completion script for tfpipe's commands, options and pipeline names. "
        'Add `eval "$(tfpipe completion bash)"` to ~/.bashrc.',
    )
    completion.add_argument("shell", choices=["bash"], help="the shell (bash)")
    completion.set_defaults(handler=lambda args: _completion(parser))

    run = commands.add_parser(
        "run",
        help="run a pipeline end to end",
        description="Runs every component of a pipeline (cached ones are reused) and prints a summary.",
        epilog=_settable_fields_text(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run.add_argument("pipeline", help="pipeline name (see `tfpipe list`)")
    _add_workdir(run)
    _add_overrides(run, "override a config value; repeatable (keys below)")
    run.add_argument(
        "--runner",
        choices=list(pipeline_run.RUNNERS),
        default="local",
        help="orchestrator in this process: local (TFX's LocalDagRunner, default) or beam (BeamDagRunner)",
    )
    _add_beam_options(run)
    run.add_argument(
        "--rerun",
        action="store_true",
        help="run even when nothing changed since the last successful run (every component is then cached); "
        "without it such a run only says so, before loading TensorFlow",
    )
    run.set_defaults(handler=_run)

    compile_ = commands.add_parser(
        "compile",
        help="write a pipeline out for another orchestrator (Kubeflow Pipelines)",
        description="Writes the pipeline's KFP v2 pipeline spec (JSON) with TFX's KubeflowV2DagRunner. Every "
        "component runs in IMAGE (pipelines/kubeflow/Dockerfile builds one), paths are the image's, and the "
        "MLflow server is the containers' MLFLOW_TRACKING_URI.",
    )
    compile_.add_argument("pipeline", help="pipeline name (see `tfpipe list`)")
    compile_.add_argument("--target", choices=list(TARGETS), required=True, help="orchestrator: kubeflow")
    compile_.add_argument(
        "--image", required=True, help="container image with this project (pipelines/kubeflow/Dockerfile)"
    )
    compile_.add_argument("--output", type=Path, help="spec file to write (default: ./<pipeline>_kubeflow.json)")
    compile_.add_argument(
        "--pipeline-root",
        default="minio://mlpipeline/v2/artifacts",
        help="where the artifacts go, a runtime parameter that a run may override "
        "(default: minio://mlpipeline/v2/artifacts, standalone KFP's store)",
    )
    compile_.add_argument(
        "--data-dir", help="the data folder in the containers (default: the image's copy of the shipped data)"
    )
    compile_.add_argument(
        "--serving-dir",
        default="/serving",
        help="TF Serving's model base path in the containers, a mounted volume (default: /serving)",
    )
    _add_overrides(compile_, "override a config value, as for tfpipe run")
    _add_beam_options(compile_)
    compile_.set_defaults(handler=_compile)

    schema = commands.add_parser(
        "schema",
        help="infer a fresh schema from a pipeline's data, for review against the curated one",
        description="Infers a schema with TFDV from the pipeline's data and shows how it differs "
        "from the curated schemas/<pipeline>/schema.pbtxt. The curated file is never changed.",
    )
    schema.add_argument("pipeline", help="pipeline name (see `tfpipe list`)")
    _add_workdir(schema)
    _add_overrides(schema, "override a config value, e.g. data_dir=other/folder")
    schema.set_defaults(handler=_schema)

    ui = commands.add_parser(
        "ui",
        help="start the MLflow UI on the workdir's embedded tracking store",
        description="Serves the MLflow UI over <workdir>/mlflow (runs, metrics, artifacts, registered "
        "models). With MLFLOW_TRACKING_URI set, runs are on that server instead: open it.",
    )
    _add_workdir(ui)
    ui.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1, this machine only)")
    ui.add_argument("--port", type=int, default=5000, help="port (default: 5000)")
    ui.set_defaults(handler=_ui)

    _add_serve(commands)

    predict = commands.add_parser(
        "predict",
        help="print the model's prediction for each input, from the latest pushed model or a model server",
        description="Calls the latest version pushed under <workdir>/serving/<model>/ on each input, or with "
        "--server the latest version a model server serves (tfpipe serve or TensorFlow Serving, over gRPC), "
        "and prints one line per input: the predicted class and its probability, or the forecast price and "
        "the trading day it is for.",
        epilog="inputs: digits: image files (PNG or JPEG, any size); "
        "iris: sepal_length=5.1,sepal_width=3.5,petal_length=1.4,petal_width=0.2 or 5.1,3.5,1.4,0.2 (cm); "
        "letters: the first letters of words (hel tensorflo); "
        "stock: daily price CSV files, one series each, of which the last window_days days are used "
        "(pass the --set window_days=N and horizon_days=N the model was trained with)",
    )
    predict.add_argument("pipeline", help="pipeline name (see `tfpipe list`)")
    predict.add_argument("inputs", nargs="+", metavar="INPUT", help="one input to predict for (see below)")
    _add_workdir(predict)
    _add_overrides(predict, "config values the model was trained with, where inputs depend on them")
    predict.add_argument(
        "--server",
        metavar="HOST:PORT",
        help="ask this gRPC model server (e.g. 127.0.0.1:8500) instead of loading the model here",
    )
    predict.add_argument(
        "--timeout",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="with --server: deadline of each call (default: 10); a call UNAVAILABLE is tried 3 times",
    )
    predict.add_argument(
        "--complete",
        action="store_true",
        help="for a pipeline that predicts the next step of a sequence (letters): predict step by step "
        "to the end of it and print the whole sequence",
    )
    predict.set_defaults(handler=_predict)
    return parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("tfpipe")
    except PackageNotFoundError:  # a checkout used without installing it
        return "unknown (not installed)"


def _add_overrides(parser: argparse.ArgumentParser, help: str) -> None:
    parser.add_argument(
        "--config",
        dest="config_file",
        type=Path,
        metavar="FILE",
        help="a YAML file of config values (keys as for --set, nested or dotted); --set applies on top",
    )
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE", help=help)


def _add_workdir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--workdir",
        type=Path,
        default=Path(os.environ.get(WORKDIR_VARIABLE) or DEFAULT_WORKDIR),
        help=f"folder for artifacts, metadata, logs and served models (default: ${WORKDIR_VARIABLE} if set, "
        f"else ./{DEFAULT_WORKDIR})",
    )


def _workdir_option(args: argparse.Namespace) -> str:
    """The --workdir a hint must repeat for the command it suggests to find this run's files."""
    default = Path(os.environ.get(WORKDIR_VARIABLE) or DEFAULT_WORKDIR)
    return "" if Path(args.workdir).resolve() == default.resolve() else f" --workdir {args.workdir}"


def _add_beam_options(parser: argparse.ArgumentParser) -> None:
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


def _beam_args(args: argparse.Namespace) -> list[str]:
    return beam_pipeline_args(args.beam_profile, args.beam_workers, args.beam_args)


def _settable_fields_text() -> str:
    from pipelines.config_files import field_descriptions

    lines = ["settable with --set or in a --config file (default values):"]
    for name, config_class in sorted(PIPELINES.items()):
        lines.append(f"  {name}:")
        descriptions = field_descriptions(config_class)
        for key, value in describe_fields(config_class()):
            lines.append(f"    {key}={value}")
            if descriptions.get(key):
                lines.append(f"        {descriptions[key]}")
    return "\n".join(lines)


def _list(args: argparse.Namespace) -> int:
    width = max(map(len, PIPELINES))
    for name, config_class in sorted(PIPELINES.items()):
        print(f"{name:<{width}}  {config_class.description}")
    return 0


def _assignments(args: argparse.Namespace, from_cwd: bool = True) -> list[str]:
    """The --config file's settings, then --set's, each `key=value`; with `from_cwd`, a data folder
    the user names is taken from where they ran the command."""
    from pipelines.config_files import assignments_from_file

    from_file = assignments_from_file(args.config_file) if args.config_file else []
    assignments = [*from_file, *args.overrides]
    return [_from_cwd(assignment) for assignment in assignments] if from_cwd else assignments


def _load_config(args: argparse.Namespace) -> PipelineConfig:
    config = apply_overrides(config_for(args.pipeline), _assignments(args))
    config.check()
    return config


def _from_cwd(assignment: str) -> str:
    # Shipped defaults are relative to the repository; a folder the user names
    # is relative to where they ran the command.
    key, sep, value = assignment.partition("=")
    if key == "data_dir" and sep and value:
        return f"{key}={Path(value).resolve()}"
    return assignment


def _run(args: argparse.Namespace) -> int:
    config = _load_config(args)
    beam_args = _beam_args(args)
    workdir = Workdir(args.workdir, config.name)
    try:
        # One run per workdir; Ctrl-C and SIGTERM stop the run where it is (pipelines/interrupts.py).
        with workdir.run_lock(f"tfpipe run {config.name}") as left, interrupts.raise_on_signals():
            return _run_holding_lock(args, config, beam_args, workdir, left)
    except interrupts.Interrupted as interrupted:  # a signal after the run's summary: it is stopped already
        return interrupted.exit_status


def _run_holding_lock(
    args: argparse.Namespace, config: PipelineConfig, beam_args: list[str], workdir: Workdir, left: dict | None
) -> int:
    started = time.monotonic()
    run_fingerprint = _fingerprint(config, args.runner, beam_args, workdir)
    unchanged = (
        None if args.rerun or run_fingerprint is None else up_to_date.unchanged_since(config, workdir, run_fingerprint)
    )
    if unchanged is not None:
        last_dir, last = unchanged
        print(
            f"tfpipe run {config.name}: up to date, nothing run ({time.monotonic() - started:.1f} s). Data, code, "
            f"schema, config and settings are those of the last run, {last_dir} ({_outcome_words(last)}). "
            "`--rerun` runs it anyway (every component cached)."
        )
        return 0
    run_dir = workdir.new_run_dir()
    log_path = run_dir / "run.log"
    with output_to_log(log_path) as terminal:
        console = Console(terminal)
        console.say(
            f"tfpipe run {config.name} --runner {args.runner} --beam-profile {args.beam_profile}  (log: {log_path})"
        )
        if left:
            console.say(
                f"Took over the workdir from a run that ended without releasing it "
                f"(pid {left.get('pid')}, started {left.get('started')})."
            )
        try:
            with console.step("load TensorFlow and TFX"):
                tf_setup.configure()
                runner = pipeline_run.load_runner(args.runner)
            outcome = pipeline_run.run(
                config,
                workdir,
                run_dir,
                runner,
                beam_args,
                lambda name, component: console.component(
                    name, component.status, component.seconds, component.detail, component.milestone
                ),
                on_notice=console.say,
            )
        except KeyboardInterrupt as error:  # before the pipeline started (pipeline_run.run reports its own)
            interruption = interrupts.as_interruption(error) or interrupts.Interrupted(signal.SIGINT)
            outcome = {
                "pipeline": config.name,
                "status": "interrupted",
                "interrupted_at": "load TensorFlow and TFX",
                "signal": interruption.signal_name,
                "exit_status": interruption.exit_status,
            }
        outcome["seconds"] = round(time.monotonic() - started, 1)
        outcome["fingerprint"] = run_fingerprint
        outcome["log"] = str(log_path)
        outcome["ui_hint"] = f"tfpipe ui{_workdir_option(args)}"
        _print_summary(console, outcome)
    (run_dir / "summary.json").write_text(json.dumps(outcome, indent=2, default=str) + "\n")
    if outcome["status"] == "interrupted":
        return outcome["exit_status"]
    return 0 if outcome["status"] == "succeeded" else EXIT_RUN_FAILED


def _fingerprint(config: PipelineConfig, runner: str, beam_args: list[str], workdir: Workdir) -> str | None:
    """up_to_date.fingerprint of this run; None (the run goes ahead) when an input cannot be read:
    the pipeline then reports the problem in its own words."""
    try:
        return up_to_date.fingerprint(config, runner, beam_args, workdir.tracking()[0])
    except OSError:
        return None


def _outcome_words(summary: dict) -> str:
    blessed = "blessed" if summary.get("blessed") else "not blessed"
    pushed = summary.get("pushed_model")
    return f"{blessed}, model {pushed} in place" if pushed else f"{blessed}, nothing pushed"


def _print_summary(console: Console, outcome: dict) -> None:
    console.say()
    if outcome["status"] == "interrupted":
        console.say(
            f"Run interrupted at {outcome['interrupted_at']} by {outcome['signal']} after {outcome['seconds']:.1f} s; "
            f"the next run goes on from the components that finished (log: {outcome['log']})."
        )
        return
    if outcome["status"] != "succeeded":
        console.say(f"Run failed at {outcome['failed_component']} after {outcome['seconds']:.1f} s.")
        _print_rejected_inputs(console, outcome)
        if "anomalies" in outcome:
            console.say(f"{outcome['data_problems']}:")
            for problem in outcome["anomalies"]:
                console.say(f"  - {problem}")
            console.say("Nothing was trained or pushed.")
            _print_statistics_page(console, outcome)
        else:
            console.say(outcome["error"])
        console.say(f"Full log: {outcome['log']}")
        return
    console.say(f"Run succeeded in {outcome['seconds']:.1f} s.")
    _print_rejected_inputs(console, outcome)
    if "metrics" in outcome:
        console.say("Evaluation (TFMA, eval split):")
        rank_by = history.blessing_metric_key(outcome["pipeline"], outcome["metrics"].get("overall", {}))
        higher_is_better = PIPELINES[outcome["pipeline"]].blessing_higher_is_better
        for line in metrics_table(outcome["metrics"], rank_by, higher_is_better):
            console.say(line)
    if outcome.get("blessed"):
        console.say("Blessed: yes")
    else:
        console.say("Blessed: no (" + "; ".join(outcome.get("blessing_failures", [])) + ")")
    console.say(f"Pushed model: {outcome.get('pushed_model', 'none')}")
    _print_statistics_page(console, outcome)
    if "mlflow_run_id" in outcome:
        console.say(
            f"MLflow run: {outcome['mlflow_run_id']} in {outcome['tracking_uri']}  (browse: {outcome['ui_hint']})"
        )
    console.say(f"Log: {outcome['log']}")


def _print_statistics_page(console: Console, outcome: dict) -> None:
    if "statistics_page" in outcome:
        console.say(f"Data statistics and anomalies: {outcome['statistics_page']}  (open in a browser)")


def _print_rejected_inputs(console: Console, outcome: dict) -> None:
    rejected = outcome.get("rejected_inputs")
    if not rejected or not rejected["count"]:
        return
    console.say(
        f"Rejected {rejected['count']} input(s) that could not be read; nothing was trained on them "
        f"(list: {rejected['list']}):"
    )
    for line in rejected["first"]:
        console.say(f"  - {line}")
    if rejected["count"] > len(rejected["first"]):
        console.say(f"  ... and {rejected['count'] - len(rejected['first'])} more")


def _compile(args: argparse.Namespace) -> int:
    # Paths are the containers', not this machine's: as given.
    config = apply_overrides(config_for(args.pipeline), _assignments(args, from_cwd=False))
    beam_args = _beam_args(args)
    output = (args.output or Path(f"{config.name}_{args.target}.json")).resolve()
    if not output.parent.is_dir():
        raise UsageError(f"--output {args.output}: folder {output.parent} does not exist.")
    print(f"Compiling {config.name} for {args.target} (image {args.image}) ...", flush=True)
    with output_to_log(output.with_suffix(".log")):
        tf_setup.configure()
        target = importlib.import_module(TARGETS[args.target])
        target.compile_pipeline(
            config,
            args.image,
            output,
            pipeline_root=args.pipeline_root,
            data_dir=args.data_dir,
            serving_dir=args.serving_dir,
            beam_pipeline_args=beam_args,
        )
    print(f"Wrote {output}")
    return 0


def _schema(args: argparse.Namespace) -> int:
    config = _load_config(args)
    out_dir = Workdir(args.workdir, config.name).pipeline_dir / "inferred_schema"
    out_dir.mkdir(parents=True, exist_ok=True)
    inferred_path = out_dir / "schema.pbtxt"
    with output_to_log(out_dir / "infer.log") as terminal:
        console = Console(terminal)
        with console.step("infer schema with TFDV"):
            tf_setup.configure()
            from pipelines.schema_review import infer_schema, schema_diff

            infer_schema(config.resolved_data_dir(), inferred_path)
        diff = schema_diff(config.schema_path, inferred_path)
    print(f"Inferred schema: {inferred_path}")
    if diff:
        print(f"Differences from the curated {config.schema_path} (review before copying anything over):")
        print(diff)
    else:
        print(f"Same as the curated {config.schema_path}.")
    return 0


def _predict(args: argparse.Namespace) -> int:
    config = apply_overrides(config_for(args.pipeline), _assignments(args))
    workdir = Workdir(args.workdir, config.name)
    model_dir = workdir.serving_dir / config.model_name
    no_model = (
        f"No {config.name} model has been pushed to {model_dir} yet; "
        f"run `tfpipe run {config.name}{_workdir_option(args)}` first."
    )
    if args.server is None and not model_dir.is_dir():
        raise UsageError(no_model)
    workdir.pipeline_dir.mkdir(parents=True, exist_ok=True)
    # TensorFlow's start-up messages go to the log, as in `tfpipe run`; the predictions to the terminal.
    # Its C++ warnings can come after the log is closed, as the process exits: keep only errors.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with output_to_log(workdir.pipeline_dir / "predict.log") as terminal:
        tf_setup.configure()
        prediction_inputs = importlib.import_module(config.request_module)
        # A request module that can continue a sequence has complete(inputs, config, predict).
        if args.complete and not hasattr(prediction_inputs, "complete"):
            raise UsageError(f"--complete: the {config.name} pipeline predicts no sequence to continue.")
        try:
            examples = prediction_inputs.to_examples(args.inputs, config)
        except ValueError as error:
            raise UsageError(str(error)) from None
        predict = _model(args, config, model_dir, no_model)
        if args.complete:
            lines = prediction_inputs.complete(args.inputs, config, predict)
        else:
            outputs = predict(examples)
            lines = [prediction_inputs.describe(outputs, index) for index in range(len(args.inputs))]
            # A request module whose inputs decide what a prediction is for (stock: the day after
            # the file's last) has predicted_for(input, config).
            if hasattr(prediction_inputs, "predicted_for"):
                lines = [
                    f"{line} for {prediction_inputs.predicted_for(name, config)}"
                    for name, line in zip(args.inputs, lines)
                ]
        for name, line in zip(args.inputs, lines):
            terminal.write(f"{name}: {line}\n")
    return 0


def _model(args: argparse.Namespace, config: PipelineConfig, model_dir: Path, no_model: str):
    """A function of serialized tf.Examples -> the model's outputs: the latest pushed version loaded
    here, or with --server the latest version a model server serves."""
    if args.server is None:
        from serving.predict import latest_version, load

        version = latest_version(model_dir)
        if version is None:
            raise UsageError(no_model)
        return load(version)
    from serving.client import ServerError, predict_on_server

    def on_server(examples: list[bytes]):
        try:
            return predict_on_server(args.server, args.timeout, config.model_name, examples)
        except ServerError as error:
            raise UsageError(str(error)) from None

    return on_server


def _ui(args: argparse.Namespace) -> int:
    # Workdir.tracking() reads MLFLOW_TRACKING_URI; the UI is for the embedded store.
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    ui.check_port_free(args.host, args.port)
    workdir = Workdir(args.workdir, "")
    tracking_uri, artifact_root = workdir.tracking()
    # A new store's tables made here, once, not by the server racing a run that starts meanwhile;
    # MLflow's and alembic's notes on it are not for the console.
    for noisy in ("mlflow", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    from components.mlflow_tracking import init_store

    init_store(tracking_uri)
    return ui.serve(tracking_uri, artifact_root, args.host, args.port, workdir.mlflow_db.parent / "ui.log")


def _completion(parser: argparse.ArgumentParser) -> int:
    from tfpipe.completion import bash_script

    print(bash_script(parser, sorted(PIPELINES)), end="")
    return 0


def _runs(args: argparse.Namespace) -> int:
    if args.pipeline is not None:
        config_for(args.pipeline)  # an unknown name is one sentence
    if not Path(args.workdir).is_dir():
        raise UsageError(f"{args.workdir} holds no runs yet; run `tfpipe run <pipeline>{_workdir_option(args)}` first.")
    runs = history.recent_runs(Path(args.workdir), args.pipeline, args.limit)
    if not runs:
        print(f"No runs in {args.workdir}" + (f" for {args.pipeline}." if args.pipeline else "."))
        return 0
    for line in history.table(runs):
        print(line)
    return 0


def _add_serve(commands) -> None:
    serve = commands.add_parser(
        "serve",
        help="serve every pushed model with TF Serving's gRPC and REST APIs",
        description="Serves the models <workdir>/serving/models.config lists (the Pushers write it), or "
        "without one every model folder under <workdir>/serving/, with TensorFlow Serving's gRPC and REST "
        "APIs until Ctrl-C. New versions are loaded as they are pushed, and the config is re-read as often.",
    )
    _add_workdir(serve)
    serve.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to bind (default: 127.0.0.1; 0.0.0.0 exposes the server to the network)",
    )
    serve.add_argument("--grpc-port", type=int, default=8500, help="gRPC port (default: 8500; 0: any free port)")
    serve.add_argument("--rest-port", type=int, default=8501, help="REST port (default: 8501; 0: any free port)")
    serve.add_argument(
        "--batching",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="merge requests that arrive together into one model call (default: on)",
    )
    serve.add_argument(
        "--max-batch-size", type=int, default=32, help="most examples in one batched model call (default: 32)"
    )
    serve.add_argument(
        "--batch-timeout-ms",
        type=float,
        default=0.0,
        help="how long a request waits for others to join its batch (default: 0)",
    )
    serve.add_argument(
        "--model-config-file",
        type=Path,
        metavar="PATH",
        help="a ModelServerConfig text file, as tensorflow_model_server's --model_config_file "
        "(default: <workdir>/serving/models.config if it exists)",
    )
    serve.add_argument(
        "--versions-to-keep",
        type=int,
        default=1,
        help="without a model config file: newest versions of each model kept loaded (default: 1)",
    )
    serve.add_argument(
        "--poll-seconds", type=float, default=1.0, help="how often to look for newly pushed versions (default: 1)"
    )
    serve.add_argument("--max-request-mb", type=float, default=4.0, help="larger requests are refused (default: 4)")
    serve.add_argument(
        "--version-label",
        dest="version_labels",
        action="append",
        default=[],
        metavar="MODEL:LABEL=VERSION",
        help="name a version for requests by label; repeatable",
    )
    serve.set_defaults(handler=_serve)


def _serve(args: argparse.Namespace) -> int:
    serving_dir = Workdir(args.workdir, "").serving_dir
    model_config_file = args.model_config_file
    if model_config_file is None and (serving_dir / "models.config").is_file():
        model_config_file = serving_dir / "models.config"
    if model_config_file is None and not serving_dir.is_dir():
        raise UsageError(f"{serving_dir} does not exist; push a model first (tfpipe run <pipeline>).")
    labels: dict = {}
    for assignment in args.version_labels:
        model, _, label_version = assignment.partition(":")
        label, _, version = label_version.partition("=")
        if not (model and label and version.isdigit()):
            raise UsageError(
                f"--version-label {assignment}: expected MODEL:LABEL=VERSION, e.g. iris:stable=1795431339."
            )
        labels.setdefault(model, {})[label] = int(version)
    tf_setup.configure()
    from serving.batching import BatchingOptions
    from serving.model_server import ModelServer, ServerOptions

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    try:
        batching = BatchingOptions(args.max_batch_size, args.batch_timeout_ms / 1000) if args.batching else None
        options = ServerOptions(
            host=args.host,
            grpc_port=args.grpc_port,
            rest_port=args.rest_port,
            model_config_file=model_config_file,
            versions_to_keep=args.versions_to_keep,
            poll_interval_s=args.poll_seconds,
            batching=batching,
            max_request_bytes=int(args.max_request_mb * 2**20),
            version_labels=labels,
        )
        server = ModelServer(serving_dir, options).start()
    except (ValueError, OSError) as error:  # a bad option value, a port in use, a host not this machine's
        raise UsageError(f"{error}.") from None
    models = ", ".join(f"{name} {server.manager.loaded_versions(name)}" for name in server.manager.model_names())
    print(f"Serving {model_config_file or serving_dir}: {models or 'no models yet'}", flush=True)
    print(
        f"gRPC on {args.host}:{server.grpc_port}, REST on http://{args.host}:{server.rest_port}/v1/models/<name>"
        " (Ctrl-C stops)",
        flush=True,
    )
    signal.signal(signal.SIGTERM, lambda *_: server.stop())
    try:
        server.wait()
    except KeyboardInterrupt:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
