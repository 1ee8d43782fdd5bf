"""`tfpipe serve`: every pushed model over TensorFlow Serving's gRPC and REST APIs, until Ctrl-C."""

from __future__ import annotations

import argparse
import logging
import os
import signal
from pathlib import Path
from typing import TextIO

from components import tf_setup
from pipelines.run_log import output_to_log
from pipelines.workdir import Workdir
from tfpipe.commands import options

# Beside the workdir's pipelines: everything TensorFlow and the server's threads write while it serves.
SERVE_LOG = "serve.log"


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "serve",
        help="serve every pushed model with TF Serving's gRPC and REST APIs",
        description="Serves the models <workdir>/serving/models.config lists (the Pushers write it), or "
        "without one every model folder under <workdir>/serving/, with TensorFlow Serving's gRPC and REST "
        "APIs until Ctrl-C. New versions are loaded as they are pushed, and the config is re-read as often.",
    )
    options.add_workdir(parser)
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to bind (default: 127.0.0.1; 0.0.0.0 exposes the server to the network)",
    )
    parser.add_argument("--grpc-port", type=int, default=8500, help="gRPC port (default: 8500; 0: any free port)")
    parser.add_argument("--rest-port", type=int, default=8501, help="REST port (default: 8501; 0: any free port)")
    parser.add_argument(
        "--batching",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="merge requests that arrive together into one model call (default: on)",
    )
    parser.add_argument(
        "--max-batch-size", type=int, default=32, help="most examples in one batched model call (default: 32)"
    )
    parser.add_argument(
        "--batch-timeout-ms",
        type=float,
        default=0.0,
        help="how long a request waits for others to join its batch (default: 0)",
    )
    parser.add_argument(
        "--model-config-file",
        type=Path,
        metavar="PATH",
        help="a ModelServerConfig text file, as tensorflow_model_server's --model_config_file "
        "(default: <workdir>/serving/models.config if it exists)",
    )
    parser.add_argument(
        "--versions-to-keep",
        type=int,
        default=1,
        help="without a model config file: newest versions of each model kept loaded (default: 1)",
    )
    parser.add_argument(
        "--poll-seconds", type=float, default=1.0, help="how often to look for newly pushed versions (default: 1)"
    )
    parser.add_argument("--max-request-mb", type=float, default=4.0, help="larger requests are refused (default: 4)")
    parser.add_argument(
        "--log-requests",
        type=_sampling_rate,
        metavar="RATE",
        help="log this fraction (0 < RATE <= 1) of the requests answered, as TF Serving's PredictionLog records, "
        "for `tfpipe skew` (default: none logged)",
    )
    parser.add_argument(
        "--request-log-dir",
        type=Path,
        metavar="DIR",
        help="with --log-requests: a model's logs go to DIR/<model>/request_logs/ (default: the workdir)",
    )
    parser.add_argument(
        "--version-label",
        dest="version_labels",
        action="append",
        default=[],
        metavar="MODEL:LABEL=VERSION",
        help="name a version for requests by label; repeatable",
    )
    parser.set_defaults(handler=run)


def _sampling_rate(text: str) -> float:
    """--log-requests RATE: a fraction of the requests, checked before anything loads."""
    try:
        rate = float(text)
    except ValueError:
        rate = 0.0
    if not 0 < rate <= 1:
        raise argparse.ArgumentTypeError(f"expected a fraction of the requests above 0 and at most 1, not {text!r}")
    return rate


def _version_labels(assignments: list[str]) -> dict[str, dict[str, int]]:
    """--version-label MODEL:LABEL=VERSION values, by model then label."""
    labels: dict[str, dict[str, int]] = {}
    for assignment in assignments:
        model, _, label_version = assignment.partition(":")
        label, _, version = label_version.partition("=")
        if not (model and label and version.isdigit()):
            raise options.UsageError(
                f"--version-label {assignment}: expected MODEL:LABEL=VERSION, e.g. iris:stable=1795431339."
            )
        labels.setdefault(model, {})[label] = int(version)
    return labels


def run(args: argparse.Namespace) -> int:
    serving_dir = Workdir(args.workdir, "").serving_dir
    model_config_file = args.model_config_file
    if model_config_file is None and (serving_dir / "models.config").is_file():
        model_config_file = serving_dir / "models.config"
    if model_config_file is None and not serving_dir.is_dir():
        raise options.UsageError(f"{serving_dir} does not exist; push a model first (tfpipe run <pipeline>).")
    labels = _version_labels(args.version_labels)
    if args.request_log_dir is not None and args.log_requests is None:
        raise options.UsageError("--request-log-dir needs --log-requests RATE (the fraction of requests to log).")
    Path(args.workdir).mkdir(parents=True, exist_ok=True)
    log_path = Path(args.workdir) / SERVE_LOG
    # TensorFlow's start-up and C++ messages go to the log; the terminal gets the server's own lines, once:
    # what it serves on stdout, its log lines (versions loaded and unloaded, config re-read) on stderr.
    server_log = os.fdopen(os.dup(2), "w", buffering=1)
    with server_log, output_to_log(log_path) as terminal:
        server = _started(args, serving_dir, model_config_file, labels, server_log)
        models = ", ".join(f"{name} {server.manager.loaded_versions(name)}" for name in server.manager.model_names())
        terminal.write(f"Serving {model_config_file or serving_dir}: {models or 'no models yet'}\n")
        terminal.write(
            f"gRPC on {args.host}:{server.grpc_port}, REST on http://{args.host}:{server.rest_port}/v1/models/<name>"
            f" (Ctrl-C stops; TensorFlow's log: {log_path})\n"
        )
        if server.options.request_log is not None:
            from serving.request_log import logs_folder

            where = logs_folder(server.options.request_log.directory, "<model>")
            terminal.write(f"Logging {args.log_requests:g} of the requests answered to {where}\n")
        signal.signal(signal.SIGTERM, lambda *_: server.stop())
        try:
            server.wait()
        except KeyboardInterrupt:
            server.stop()
    return 0


def _started(args: argparse.Namespace, serving_dir: Path, model_config_file: Path | None, labels, server_log: TextIO):
    """The model server, listening, its log lines written to `server_log` as well as to the log;
    UsageError for a bad option value, a port in use, a host not this machine's."""
    tf_setup.configure()
    from serving.batching import BatchingOptions
    from serving.model_server import ModelServer, ServerOptions
    from serving.request_log import RequestLogOptions

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    to_terminal = logging.StreamHandler(server_log)
    to_terminal.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logging.getLogger("serving").addHandler(to_terminal)
    try:
        batching = BatchingOptions(args.max_batch_size, args.batch_timeout_ms / 1000) if args.batching else None
        request_log = None
        if args.log_requests is not None:
            request_log = RequestLogOptions(args.log_requests, args.request_log_dir or Path(args.workdir))
        server_options = ServerOptions(
            host=args.host,
            grpc_port=args.grpc_port,
            rest_port=args.rest_port,
            model_config_file=model_config_file,
            versions_to_keep=args.versions_to_keep,
            poll_interval_s=args.poll_seconds,
            batching=batching,
            max_request_bytes=int(args.max_request_mb * 2**20),
            version_labels=labels,
            request_log=request_log,
        )
        return ModelServer(serving_dir, server_options).start()
    except (ValueError, OSError) as error:  # a bad option value, a port in use, a host not this machine's
        raise options.UsageError(f"{error}.") from None
