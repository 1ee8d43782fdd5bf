"""An embedded TF-Serving-compatible model server: gRPC and REST over a model base path.

    with ModelServer(Path("workdir/serving"), ServerOptions(grpc_port=0, rest_port=0)) as server:
        ...  # server.grpc_port / server.rest_port are the bound ports

It serves every `<model>/<version>/` SavedModel under the base path (TF Serving's layout), or
the models a `models.config` lists (`ServerOptions.model_config_file`), with TF Serving's gRPC
and REST APIs, so a client written against it works against the real
`tensorflow_model_server` unchanged. It exists for machines where that binary cannot be installed
(it ships as a Docker image or a Debian package from Google's own repository); docs/serving.md,
"Differences from TF Serving", says what it does not implement.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Mapping
from http.server import ThreadingHTTPServer
from pathlib import Path

from serving.api import ServingApi
from serving.batching import BatchingOptions
from serving.grpc_server import start_grpc_server
from serving.model_manager import ModelManager, config_file_models, folder_models
from serving.request_log import RequestLogger, RequestLogOptions
from serving.rest_server import start_rest_server

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class ServerOptions:
    """How the server listens and serves; the defaults are TF Serving's where it has one.

    Attributes:
      host: address both ports bind to; 127.0.0.1 keeps the server private to this machine.
      grpc_port: gRPC port (TF Serving's 8500); 0 picks a free port.
      rest_port: REST port (TF Serving's 8501); 0 picks a free port, None serves no REST.
      model_config_file: a ModelServerConfig text file naming the models, their base paths,
        version policies and labels (re-read at every poll); None serves every folder under
        the base path.
      versions_to_keep: without a model config file, how many of each model's newest versions stay loaded.
      poll_interval_s: seconds between looks at the base path for new versions.
      batching: how concurrent requests are merged; None runs each request on its own.
      max_request_bytes: larger requests are refused (gRPC RESOURCE_EXHAUSTED, HTTP 413).
      version_labels: per model, label -> version number, for requests by `version_label`
        (added to the model config file's labels).
      threads: gRPC request threads; more concurrent gRPC calls wait (REST uses a thread per connection).
      request_log: which answered requests are logged and where (serving/request_log.py); None logs none,
        as TF Serving without a logging_config.
    """

    host: str = "127.0.0.1"
    grpc_port: int = 8500
    rest_port: int | None = 8501
    model_config_file: Path | None = None
    versions_to_keep: int = 1
    poll_interval_s: float = 1.0
    batching: BatchingOptions | None = BatchingOptions()
    max_request_bytes: int = 4 * 1024 * 1024
    version_labels: Mapping[str, Mapping[str, int]] = dataclasses.field(default_factory=dict)
    threads: int = 64
    request_log: RequestLogOptions | None = None


class ModelServer:
    """Loads the models, then serves them until `stop()`; a context manager does both."""

    def __init__(self, base_path: Path, options: ServerOptions = ServerOptions()):
        self.base_path = Path(base_path)
        self.options = options
        if options.model_config_file is not None:
            source = config_file_models(Path(options.model_config_file), options.version_labels)
        else:
            source = folder_models(self.base_path, options.versions_to_keep, options.version_labels)
        self.manager = ModelManager(source, options.batching)
        self.request_log = RequestLogger(options.request_log) if options.request_log is not None else None
        self.api = ServingApi(self.manager, self.request_log)  # what both front ends answer from
        self.grpc_port: int | None = None
        self.rest_port: int | None = None
        self._grpc_server = None
        self._rest_server: ThreadingHTTPServer | None = None
        self._stopped = threading.Event()

    def start(self) -> ModelServer:
        """Loads what is on disk now (so the first request finds it), then opens the ports and starts watching."""
        self.manager.poll()
        options = self.options
        try:
            self._grpc_server, self.grpc_port = start_grpc_server(
                self.api, f"{options.host}:{options.grpc_port}", options.max_request_bytes, options.threads
            )
            if options.rest_port is not None:
                self._rest_server, self.rest_port = start_rest_server(
                    self.api, options.host, options.rest_port, options.max_request_bytes
                )
        except Exception:
            self.stop()
            raise
        self.manager.start_watching(options.poll_interval_s)
        log.info(
            "serving %s: gRPC on %s:%s, REST on %s:%s",
            self.base_path,
            options.host,
            self.grpc_port,
            options.host,
            self.rest_port,
        )
        return self

    def stop(self, grace_s: float = 1.0) -> None:
        """Stops accepting requests, lets those in flight finish (up to `grace_s` seconds), writes the
        request log's queued records, unloads the models."""
        if self._grpc_server is not None:
            self._grpc_server.stop(grace_s).wait()
        if self._rest_server is not None:
            self._rest_server.shutdown()
            self._rest_server.server_close()
        if self.request_log is not None:
            self.request_log.stop()
        self.manager.stop()
        self._stopped.set()

    def wait(self) -> None:
        """Blocks until `stop()` (from another thread or a signal handler)."""
        # Short waits: a signal reaching another thread does not wake a blocked wait, and the
        # main thread must get back to Python for Ctrl-C or SIGTERM handlers to run.
        while not self._stopped.wait(0.5):
            pass

    def __enter__(self) -> ModelServer:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()
