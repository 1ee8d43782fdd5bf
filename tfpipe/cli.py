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
from pipelines import run as pipeline_run
from pipelines.beam_profiles import DEFAULT_PROFILE, PROFILES, BeamProfileError, beam_pipeline_args
from pipelines.config import ConfigError, PipelineConfig, apply_overrides, describe_fields
from pipelines.registry import PIPELINES, UnknownPipelineError, config_for
from pipelines.workdir import DEFAULT_WORKDIR, Workdir
from tfpipe.console import Console, metrics_table, output_to_log

EXIT_RUN_FAILED = 1
EXIT_USAGE = 2
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
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    try:
        return args.handler(args)
    except (UsageError, ConfigError, UnknownPipelineError, BeamProfileError) as error:
        print(f"tfpipe: {error}", file=sys.stderr)
        return EXIT_USAGE


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="tfpipe",
        description="Classic TensorFlow 2 workflows as TFX pipelines: validate, transform, train, evaluate, push.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    listing = commands.add_parser("list", help="name the pipelines, one line each")
    listing.set_defaults(handler=_list)

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
        "and prints one line per input: the predicted class and its probability, or the forecast price.",
        epilog="inputs: digits: image files (PNG or JPEG, any size); "
        "iris: sepal_length=5.1,sepal_width=3.5,petal_length=1.4,petal_width=0.2 or 5.1,3.5,1.4,0.2 (cm); "
        "stock: daily price CSV files, one series each, of which the last window_days days are used "
        "(pass the --set window_days=N the model was trained with)",
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
    predict.set_defaults(handler=_predict)
    return parser


def _add_overrides(parser: argparse.ArgumentParser, help: str) -> None:
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE", help=help)


def _add_workdir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--workdir",
        type=Path,
        default=DEFAULT_WORKDIR,
        help=f"folder for artifacts, metadata, logs and served models (default: ./{DEFAULT_WORKDIR})",
    )


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
    lines = ["settable with --set (default values):"]
    for name, config_class in sorted(PIPELINES.items()):
        lines.append(f"  {name}:")
        lines.extend(f"    {key}={value}" for key, value in describe_fields(config_class()))
    return "\n".join(lines)


def _list(args: argparse.Namespace) -> int:
    width = max(map(len, PIPELINES))
    for name, config_class in sorted(PIPELINES.items()):
        print(f"{name:<{width}}  {config_class.description}")
    return 0


def _load_config(args: argparse.Namespace) -> PipelineConfig:
    config = apply_overrides(config_for(args.pipeline), [_from_cwd(assignment) for assignment in args.overrides])
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
    run_dir = workdir.new_run_dir()
    log_path = run_dir / "run.log"
    started = time.monotonic()
    with output_to_log(log_path) as terminal:
        console = Console(terminal)
        console.say(
            f"tfpipe run {config.name} --runner {args.runner} --beam-profile {args.beam_profile}  (log: {log_path})"
        )
        with console.step("load TensorFlow and TFX"):
            tf_setup.configure()
            runner = pipeline_run.load_runner(args.runner)
        outcome = pipeline_run.run(
            config,
            workdir,
            runner,
            beam_args,
            lambda name, component: console.component(name, component.status, component.seconds),
        )
        outcome["seconds"] = round(time.monotonic() - started, 1)
        outcome["log"] = str(log_path)
        _print_summary(console, outcome)
    (run_dir / "summary.json").write_text(json.dumps(outcome, indent=2, default=str) + "\n")
    return 0 if outcome["status"] == "succeeded" else EXIT_RUN_FAILED


def _print_summary(console: Console, outcome: dict) -> None:
    console.say()
    if outcome["status"] != "succeeded":
        console.say(f"Run failed at {outcome['failed_component']} after {outcome['seconds']:.1f} s.")
        _print_rejected_inputs(console, outcome)
        if "anomalies" in outcome:
            console.say(f"{outcome['data_problems']}:")
            for problem in outcome["anomalies"]:
                console.say(f"  - {problem}")
            console.say("Nothing was trained or pushed.")
        else:
            console.say(outcome["error"])
        console.say(f"Full log: {outcome['log']}")
        return
    console.say(f"Run succeeded in {outcome['seconds']:.1f} s.")
    _print_rejected_inputs(console, outcome)
    if "metrics" in outcome:
        console.say("Evaluation (TFMA, eval split):")
        for line in metrics_table(outcome["metrics"]):
            console.say(line)
    if outcome.get("blessed"):
        console.say("Blessed: yes")
    else:
        console.say("Blessed: no (" + "; ".join(outcome.get("blessing_failures", [])) + ")")
    console.say(f"Pushed model: {outcome.get('pushed_model', 'none')}")
    if "mlflow_run_id" in outcome:
        console.say(f"MLflow run: {outcome['mlflow_run_id']} in {outcome['tracking_uri']}  (browse: tfpipe ui)")
    console.say(f"Log: {outcome['log']}")


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
    config = apply_overrides(config_for(args.pipeline), args.overrides)
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
    config = apply_overrides(config_for(args.pipeline), args.overrides)
    workdir = Workdir(args.workdir, config.name)
    model_dir = workdir.serving_dir / config.model_name
    no_model = f"No {config.name} model has been pushed to {model_dir} yet; run `tfpipe run {config.name}` first."
    if args.server is None and not model_dir.is_dir():
        raise UsageError(no_model)
    workdir.pipeline_dir.mkdir(parents=True, exist_ok=True)
    # TensorFlow's start-up messages go to the log, as in `tfpipe run`; the predictions to the terminal.
    # Its C++ warnings can come after the log is closed, as the process exits: keep only errors.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with output_to_log(workdir.pipeline_dir / "predict.log") as terminal:
        tf_setup.configure()
        prediction_inputs = importlib.import_module(config.request_module)
        try:
            examples = prediction_inputs.to_examples(args.inputs, config)
        except ValueError as error:
            raise UsageError(str(error)) from None
        if args.server is None:
            from serving.predict import latest_version, predict

            version = latest_version(model_dir)
            if version is None:
                raise UsageError(no_model)
            outputs = predict(version, examples)
        else:
            from serving.client import ServerError, predict_on_server

            try:
                outputs = predict_on_server(args.server, args.timeout, config.model_name, examples)
            except ServerError as error:
                raise UsageError(str(error)) from None
        for index, name in enumerate(args.inputs):
            terminal.write(f"{name}: {prediction_inputs.describe(outputs, index)}\n")
    return 0


def _ui(args: argparse.Namespace) -> int:
    # Workdir.tracking() reads MLFLOW_TRACKING_URI; the UI is for the embedded store.
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    tracking_uri, artifact_root = Workdir(args.workdir, "").tracking()
    mlflow = str(Path(sys.executable).parent / "mlflow")
    command = [
        mlflow,
        "ui",
        "--backend-store-uri",
        tracking_uri,
        "--default-artifact-root",
        artifact_root,
        "--host",
        args.host,
        "--port",
        str(args.port),
    ]
    print(f"MLflow UI on http://{args.host}:{args.port} over {tracking_uri} (Ctrl-C stops it)", flush=True)
    os.execv(mlflow, command)


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
