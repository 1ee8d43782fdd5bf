"""InfraValidator: TFX's component and executor, with the candidate served by `tfpipe serve` in a child process.

TFX's InfraValidator (LOAD_AND_QUERY) starts TensorFlow Serving in Docker or on Kubernetes (the
ServingSpec's `serving_platform`), waits until the model is AVAILABLE, sends Predict requests built
from examples, and writes an InfraBlessing (INFRA_BLESSED or INFRA_NOT_BLESSED) that TFX's Pusher
requires. Where there is neither a `tensorflow_model_server` binary nor a Docker engine, this
executor does the same with `tfpipe serve` (serving/, TF Serving's API) started in a separate process
that serves the candidate alone: TFX's request builder, its TF Serving gRPC client and its blessing
are used unchanged; only the model server runner is ours, and `serving_platform` is left empty. The
component class is ours too, with TFX's spec (see InfraValidator below).

A model that does not load or does not answer is not blessed, and the blessing says why in its
`infra_failure` property (one sentence), which the run's summary shows.
"""

# No `from __future__ import annotations` here, as in every module TFX loads executors from.

import contextlib
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import grpc
from tfx import types
from tfx.components.infra_validator import error_types
from tfx.components.infra_validator import executor as infra_validator_executor
from tfx.components.infra_validator.model_server_runners import base_runner
from tfx.dsl.components.base import base_component, executor_spec
from tfx.proto import infra_validator_pb2
from tfx.types import artifact_utils, standard_artifacts, standard_component_specs
from tfx.utils import path_utils

# The InfraBlessing's property that says why a model was not infra-blessed.
FAILURE_PROPERTY = "infra_failure"
# The version the candidate is served as: the only one in the child's serving folder.
_VERSION = "1"
# Lines of the server's own output quoted when it did not start.
_LOG_LINES = 5


class ServeRunner(base_runner.BaseModelServerRunner):
    """`tfpipe serve` in a child process, serving one SavedModel as `<model_name>` version 1 on a free
    localhost port; its workdir (and log) a temporary folder that Stop() removes."""

    def __init__(self, model_path: str, model_name: str):
        self._model_path = model_path
        self._model_name = model_name
        self._workdir = Path(tempfile.mkdtemp(prefix="tfpipe-infra-validation-"))
        self._port = 0
        self._process: subprocess.Popen | None = None

    def __repr__(self) -> str:
        return f"ServeRunner(model={self._model_path}, port={self._port})"

    def GetEndpoint(self) -> str:
        return f"127.0.0.1:{self._port}"

    def Start(self) -> None:
        version_dir = self._workdir / "serving" / self._model_name / _VERSION
        version_dir.parent.mkdir(parents=True)
        version_dir.symlink_to(self._model_path, target_is_directory=True)
        self._port = _free_port()
        with open(self._console_log, "w") as console:
            self._process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "tfpipe.cli",
                    "serve",
                    "--workdir",
                    str(self._workdir),
                    "--grpc-port",
                    str(self._port),
                    "--rest-port",
                    "0",
                    "--no-batching",
                ],
                stdout=console,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )

    def WaitUntilRunning(self, deadline: float) -> None:
        """Returns once the gRPC port answers; raises JobAborted, with the server's last lines, if it exits."""
        assert self._process is not None, "Start() first"
        while time.time() < deadline:
            if self._process.poll() is not None:
                raise error_types.JobAborted(
                    f"`tfpipe serve` exited with status {self._process.returncode}: {self.GetLogs()}"
                )
            with grpc.insecure_channel(self.GetEndpoint()) as channel, contextlib.suppress(grpc.FutureTimeoutError):
                grpc.channel_ready_future(channel).result(timeout=1)
                return
        raise error_types.DeadlineExceeded("`tfpipe serve` did not open its gRPC port in time")

    def Stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        shutil.rmtree(self._workdir, ignore_errors=True)

    def GetLogs(self) -> str:
        """The server's last console lines, joined; "" if none."""
        try:
            lines = self._console_log.read_text(errors="replace").strip().splitlines()
        except OSError:
            return ""
        return " / ".join(line.strip() for line in lines[-_LOG_LINES:])

    @property
    def _console_log(self) -> Path:
        return self._workdir / "console.log"


class Executor(infra_validator_executor.Executor):
    """TFX's InfraValidator executor, validating with ServeRunner in place of Docker or Kubernetes."""

    def Do(
        self,
        input_dict: dict[str, list[types.Artifact]],
        output_dict: dict[str, list[types.Artifact]],
        exec_properties: dict[str, Any],
    ) -> None:
        self._failure = ""
        super().Do(input_dict, output_dict, exec_properties)
        blessing = artifact_utils.get_single_instance(output_dict[standard_component_specs.BLESSING_KEY])
        if self._failure and not blessing.get_int_custom_property("blessed"):
            blessing.set_string_custom_property(FAILURE_PROPERTY, self._failure)

    @contextlib.contextmanager
    def _InstallGracefulShutdownHandler(self):
        # TFX's turns SIGTERM into its own error; the orchestrator's handling stays (tfpipe run's: an
        # interrupted run), and ServeRunner.Stop still runs on the way out.
        try:
            yield
        finally:
            self._Cleanup()

    def _PrepareModelPath(self, model: types.Artifact, serving_spec: infra_validator_pb2.ServingSpec) -> str:
        # TFX copies the model into TF Serving's <name>/<version> layout; ServeRunner links it there.
        return path_utils.serving_model_path(model.uri, path_utils.is_old_model_artifact(model))

    def _ValidateOnce(self, model_path, serving_binary, serving_spec, validation_spec, requests) -> None:
        deadline = time.time() + validation_spec.max_loading_time_seconds
        runner = None
        try:
            runner = ServeRunner(model_path, serving_spec.model_name)
            runner.Start()
            runner.WaitUntilRunning(deadline)
            client = serving_binary.MakeClient(runner.GetEndpoint())
            try:
                client.WaitUntilModelLoaded(deadline, polling_interval_sec=1)
            except error_types.ValidationFailed:
                raise error_types.ValidationFailed(
                    f"the model server could not load it ({_load_error(runner, serving_spec.model_name)})"
                ) from None
            try:
                client.SendRequests(requests)
            except error_types.ValidationFailed as error:
                raise error_types.ValidationFailed(
                    f"the model server loaded it but failed a Predict request of {len(requests)} ({_rpc_error(error)})"
                ) from None
        except Exception as error:
            self._failure = f"{error}".rstrip(".")
            raise
        finally:
            if runner is not None:
                runner.Stop()


def _free_port() -> int:
    # As TFX's LocalDockerRunner finds a port: bound and released, then given to the server.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _load_error(runner: ServeRunner, model_name: str) -> str:
    """What the server's status says of the failed load."""
    from tensorflow_serving.apis import get_model_status_pb2, model_pb2, model_service_pb2_grpc

    request = get_model_status_pb2.GetModelStatusRequest(model_spec=model_pb2.ModelSpec(name=model_name))
    try:
        with grpc.insecure_channel(runner.GetEndpoint()) as channel:
            response = model_service_pb2_grpc.ModelServiceStub(channel).GetModelStatus(request, timeout=10)
    except grpc.RpcError as error:
        return f"{error.code().name}: {error.details()}"
    return "; ".join(status.status.error_message for status in response.model_version_status) or "no reason given"


def _rpc_error(error: Exception) -> str:
    cause = error.__cause__
    if isinstance(cause, grpc.RpcError):
        return f"{cause.code().name}: {cause.details()}"
    return f"{cause or error}"


class InfraValidator(base_component.BaseComponent):
    """TFX's InfraValidator component (its spec, inputs, InfraBlessing output) with this module's executor.
    Not a subclass of TFX's: Kubeflow's V2 compiler refuses TFX's InfraValidator by type, as its
    executor needs Docker or Kubernetes; this one runs in the component's container like any other."""

    SPEC_CLASS = standard_component_specs.InfraValidatorSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(Executor)

    def __init__(
        self,
        model: types.BaseChannel,
        examples: types.BaseChannel,
        serving_spec: infra_validator_pb2.ServingSpec,
        validation_spec: infra_validator_pb2.ValidationSpec,
        request_spec: infra_validator_pb2.RequestSpec,
    ):
        super().__init__(
            spec=standard_component_specs.InfraValidatorSpec(
                model=model,
                examples=examples,
                blessing=types.Channel(type=standard_artifacts.InfraBlessing),
                serving_spec=serving_spec,
                validation_spec=validation_spec,
                request_spec=request_spec,
            )
        )


def serving_infra_validator(
    model: types.BaseChannel,
    examples: types.BaseChannel,
    model_name: str,
    num_examples: int,
    max_loading_time_seconds: int,
) -> InfraValidator:
    """TFX's InfraValidator in LOAD_AND_QUERY mode with this module's executor: `model` served as
    `model_name` by `tfpipe serve`, sent `num_examples` of the eval split of `examples` (one Predict request
    each) through serving_default; one try, the server given `max_loading_time_seconds` to start and load."""
    return InfraValidator(
        model=model,
        examples=examples,
        serving_spec=infra_validator_pb2.ServingSpec(
            # TF Serving's binary and API; the process that serves it is ServeRunner's (no serving_platform).
            tensorflow_serving=infra_validator_pb2.TensorFlowServing(tags=["tfpipe-serve"]),
            model_name=model_name,
        ),
        validation_spec=infra_validator_pb2.ValidationSpec(
            max_loading_time_seconds=max_loading_time_seconds, num_tries=1
        ),
        request_spec=infra_validator_pb2.RequestSpec(
            tensorflow_serving=infra_validator_pb2.TensorFlowServingRequestSpec(signature_names=["serving_default"]),
            split_name="eval",
            num_examples=num_examples,
        ),
    )
