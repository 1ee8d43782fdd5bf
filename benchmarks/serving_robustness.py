"""`tfpipe serve` under malformed requests and a burst of connections, on TF Serving's test models.

  .venv/bin/python benchmarks/serving_robustness.py [--rest 6000] [--grpc 4000] [--seed 15]
      [--connections 300] [--rounds 3] [--backlog N] [--results-fp PATH]

Starts the embedded server in this process over tests/data/tf_serving (the models config of
tests/test_tf_serving_contract.py), then:
  fuzz    the malformed REST and gRPC requests of tests/serving_fuzzing.py (fixed seed) through the
          server's own handlers in-process: how many, how long, the statuses, and any 5xx or gRPC
          INTERNAL/UNKNOWN (there must be none)
  burst   `--connections` connections opened at once (one non-blocking client thread), each sending
          one REST Predict to half_plus_two with `Connection: close`: the slowest and the median
          answer, and how many took over a second, per round
  output  the cost of building iris-sized Predict outputs in the typed fields (float_val, ...),
          against raw bytes in tensor_content
  call    one in-process call of half_plus_two's serving_default as the server makes it (the
          session's callable) against the restored signature's eager call (what it did before)
`--backlog N` sets the REST listener's backlog (default: the kernel's limit, as gRPC's core asks),
e.g. 5, the standard library's, to see what a burst did before.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import timeit
from pathlib import Path

from results import Results, add_results_option

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests")]
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # TensorFlow's warnings about each refused example


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rest", type=int, default=6000, help="malformed REST requests (default 6000)")
    parser.add_argument("--grpc", type=int, default=4000, help="malformed gRPC requests (default 4000)")
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--connections", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--backlog", type=int, help="the REST listen backlog (default: the kernel's limit)")
    add_results_option(parser)
    args = parser.parse_args()
    recorded = Results("serving_robustness")

    from components import tf_setup

    tf_setup.configure()
    import numpy as np
    from serving_fuzzing import connection_burst, fuzz
    from tensorflow.core.framework import tensor_pb2, tensor_shape_pb2
    from test_tf_serving_contract import models_config

    from serving import rest_server
    from serving.api import tensor_proto
    from serving.model_server import ModelServer, ServerOptions

    if args.backlog is not None:
        rest_server.RestServer.request_queue_size = args.backlog
    root = Path(tempfile.mkdtemp(prefix="tfpipe-robustness-"))
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the start")
    with ModelServer(root, ServerOptions(grpc_port=0, rest_port=0, model_config_file=models_config(root))) as server:
        result = fuzz(server.api, args.rest, args.grpc, seed=args.seed)
        print(
            f"fuzz: {result.requests} malformed requests ({args.rest} REST, {args.grpc} gRPC, seed {args.seed}) "
            f"in {result.seconds:.1f} s; failures (5xx, INTERNAL/UNKNOWN, exceptions): {len(result.failures)}"
        )
        print(f"  HTTP statuses sent: {dict([[*item] for item in sorted(result.http_statuses.items())])}")
        print(f"  gRPC codes: {dict([[*item] for item in sorted(result.grpc_codes.items())])}")
        for failure in result.failures[:10]:
            print(f"  {failure}")
        fuzz_results(recorded, result.requests, result.seconds, len(result.failures))
        recorded.table(
            "HTTP statuses sent", ["status", "responses"], [[*item] for item in sorted(result.http_statuses.items())]
        )
        recorded.table("gRPC codes", ["code", "responses"], [[*item] for item in sorted(result.grpc_codes.items())])
        body = b'{"instances": [1.0, 2.0, 5.0]}'
        request = (
            b"POST /v1/models/default:predict HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
            b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
        )
        backlog = rest_server.RestServer.request_queue_size
        for round_ in range(args.rounds):
            answers = connection_burst(server.rest_port, args.connections, request)
            seconds = sorted(duration for duration, _ in answers)
            ok = sum(first_line == b"HTTP/1.1 200 OK" for _, first_line in answers)
            slowest, median = seconds[-1] * 1000, seconds[len(seconds) // 2] * 1000
            over_1_s = sum(s > 1 for s in seconds)
            print(
                f"burst {round_ + 1}: {args.connections} connections at once (backlog {backlog}): {ok} answered 200; "
                f"slowest {slowest:.0f} ms, median {median:.0f} ms, {over_1_s} over 1 s"
            )
            burst_results(recorded, round_ + 1, args.connections, backlog, ok, slowest, median, over_1_s)

    outputs = {
        "probabilities": np.random.default_rng(0).random((3, 3), dtype=np.float32),
        "class_id": np.array([0, 1, 2]),
        "species": np.array([b"setosa", b"versicolor", b"virginica"], dtype=object),
    }

    def as_bytes(array):  # the earlier tensor_content encoding, for comparison (numbers only)
        proto = tensor_pb2.TensorProto(dtype=1)
        proto.tensor_shape.dim.extend(tensor_shape_pb2.TensorShapeProto.Dim(size=s) for s in array.shape)
        proto.tensor_content = array.tobytes()
        return proto

    repeats = 20000
    typed = timeit.timeit(lambda: [tensor_proto(v) for v in outputs.values()], number=repeats) / repeats
    numbers = [v for v in outputs.values() if v.dtype != object]
    raw = timeit.timeit(lambda: [as_bytes(v) for v in numbers], number=repeats) / repeats
    print(
        f"output: iris's three outputs in typed fields {typed * 1e6:.0f} us per response "
        f"(its two numeric ones as tensor_content bytes: {raw * 1e6:.0f} us)"
    )
    recorded.figure("iris's three outputs in typed fields, per response", round(typed * 1e6), "us")
    recorded.figure("iris's two numeric outputs as tensor_content bytes, per response", round(raw * 1e6), "us")
    import tensorflow as tf

    from serving.servables import Servable

    version = REPO / "tests" / "data" / "tf_serving" / "saved_model_half_plus_two_cpu" / "00000123"
    servable = Servable("default", 123, version, batching=None)
    x = np.array([[1.0], [2.0], [5.0]], dtype=np.float32)
    eager = tf.saved_model.load(str(version)).signatures["serving_default"]
    calls = 2000
    session_call = timeit.timeit(lambda: servable.run("serving_default", {"x": x}), number=calls) / calls
    eager_call = timeit.timeit(lambda: {k: v.numpy() for k, v in eager(x=tf.constant(x)).items()}, number=calls) / calls
    print(
        f"call: half_plus_two in-process, session callable {session_call * 1e6:.0f} us, "
        f"restored signature (eager) {eager_call * 1e6:.0f} us"
    )
    recorded.figure("half_plus_two in-process call, session callable", round(session_call * 1e6), "us")
    recorded.figure("half_plus_two in-process call, restored signature (eager)", round(eager_call * 1e6), "us")
    print(f"load average {os.getloadavg()[0]:.1f} at the end; {time.strftime('%Y-%m-%d')}")
    recorded.write(args.results_fp)
    return 0


def fuzz_results(recorded: Results, requests: int, seconds: float, failures: int) -> None:
    recorded.figure("fuzz: malformed requests", requests)
    recorded.figure("fuzz: seconds for all of them", round(seconds, 1), "s")
    recorded.figure("fuzz: failures (5xx, INTERNAL/UNKNOWN, exceptions)", failures)


def burst_results(
    recorded: Results,
    burst: int,
    connections: int,
    backlog: int,
    ok: int,
    slowest_ms: float,
    median_ms: float,
    over: int,
) -> None:
    """One burst's figures; a connection not answered within the client's 10 s counts as inf ms."""
    prefix = f"burst {burst} ({connections} connections, backlog {backlog})"
    recorded.figure(f"{prefix}: answered 200", ok)
    recorded.figure(f"{prefix}: slowest", round(slowest_ms) if slowest_ms != float("inf") else "inf", "ms")
    recorded.figure(f"{prefix}: median", round(median_ms) if median_ms != float("inf") else "inf", "ms")
    recorded.figure(f"{prefix}: over 1 s", over)


if __name__ == "__main__":
    sys.exit(main())
