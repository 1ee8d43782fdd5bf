"""Latency and throughput of gRPC Predict on `tfpipe serve`, batching on and off, against calling the
same SavedModel signature in this process (the limit: no RPC, no server).

    .venv/bin/python benchmarks/serving_latency.py [--model iris|stock|digits] [--workdir workdir] [--seconds 5]
        [--results-fp PATH]

Needs the model pushed (`tfpipe run <model>` first). Each request carries one serialized
tf.Example of real data, built as `tfpipe predict` builds it: an iris row, the last 60-day window
of data/stock/msft.csv, one 8x8 digit PNG. For each concurrency (1, 8, 32), that many clients in
this process (threads calling the signature; asyncio gRPC calls) send requests back to back for
`--seconds` after a warm-up; p50 and p99 are per request, requests/s is the total. The CPU
columns are CPU time per request of the server process and of this process (the clients): on a
small machine both share the cores, so what the clients spend is taken from the server.
"""

import argparse
import asyncio
import importlib
import os
import re
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil
from results import Results, Value, add_results_option

REPO_ROOT = Path(__file__).resolve().parent.parent

# One real input per model, in `tfpipe predict`'s form.
SAMPLE_INPUTS = {
    "iris": "5.7,2.8,4.1,1.3",
    "stock": str(REPO_ROOT / "data" / "stock" / "msft.csv"),
    "digits": str(REPO_ROOT / "data" / "digits" / "images" / "0007.png"),
}
CONCURRENCY = (1, 8, 32)
WARM_UP_S = 1.0
COLUMNS = ["", "clients", "p50 ms", "p99 ms", "requests/s", "server CPU", "client CPU"]
IN_PROCESS, FLOOR = "in-process signature call", "gRPC, no model (the floor)"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--model", choices=sorted(SAMPLE_INPUTS), default="iris", help="pushed model to call (default: iris)"
    )
    parser.add_argument(
        "--workdir", type=Path, default=Path("workdir"), help="workdir holding serving/ (default: workdir)"
    )
    parser.add_argument("--seconds", type=float, default=5.0, help="measuring time per row of the table (default: 5)")
    parser.add_argument("--empty-server", action="store_true", help=argparse.SUPPRESS)
    add_results_option(parser)
    args = parser.parse_args()
    sys.path.insert(0, str(REPO_ROOT))
    from components import tf_setup

    tf_setup.configure()
    if args.empty_server:
        return empty_server()
    model_dir = args.workdir / "serving" / args.model
    versions = (
        sorted(int(path.name) for path in model_dir.glob("*") if path.name.isdigit()) if model_dir.is_dir() else []
    )
    if not versions:
        print(
            f"serving_latency: no pushed {args.model} model under {model_dir}; run `tfpipe run {args.model}` first.",
            file=sys.stderr,
        )
        return 2

    from pipelines.registry import config_for

    config = config_for(args.model)
    examples = importlib.import_module(config.request_module).to_examples([SAMPLE_INPUTS[args.model]], config)
    print(
        f"{args.model} version {versions[-1]}, one example per request, {args.seconds:g} s per row; "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the start"
    )
    print(
        f"{'':28} {'clients':>7} {'p50 ms':>7} {'p99 ms':>7} {'requests/s':>10} {'server CPU':>10} {'client CPU':>10}"
    )
    rows = in_process(model_dir / str(versions[-1]), examples, args.seconds)
    rows += over_grpc([sys.executable, __file__, "--empty-server"], FLOOR, args.model, examples, args.seconds)
    for batching in (False, True):
        command = [
            sys.executable,
            "-m",
            "tfpipe.cli",
            "serve",
            "--workdir",
            str(args.workdir.resolve()),
            "--grpc-port",
            "0",
            "--rest-port",
            "0",
            "--batching" if batching else "--no-batching",
        ]
        label = f"gRPC Predict, batching {'on' if batching else 'off'}"
        rows += over_grpc(command, label, args.model, examples, args.seconds)
    print(f"load average {os.getloadavg()[0]:.1f} at the end (CPU columns: ms per request)")
    results(args.model, versions[-1], rows).write(args.results_fp)
    return 0


def results(model: str, version: int, rows: list[list[Value]]) -> Results:
    """The figures of one run: `rows` as `report` returns them, in COLUMNS' order."""
    recorded = Results("serving_latency")
    recorded.figure("model", model)
    recorded.figure("model version", version)
    cell = {(row[0], row[1]): dict(zip(COLUMNS[2:], row[2:])) for row in rows}
    for label in dict.fromkeys(str(row[0]) for row in rows):
        recorded.figure(f"{label}, 1 client, p50", cell[label, 1]["p50 ms"], "ms")
        recorded.figure(f"{label}, 32 clients", cell[label, 32]["requests/s"], "requests/s")
    on, off = cell["gRPC Predict, batching on", 32], cell["gRPC Predict, batching off", 32]
    recorded.figure(
        "gRPC Predict (batching off) / in-process call, requests/s at 32 clients",
        round(float(off["requests/s"]) / float(cell[IN_PROCESS, 32]["requests/s"]), 2),
    )
    recorded.figure(
        "batching on / off, requests/s at 32 clients",
        round(float(on["requests/s"]) / float(off["requests/s"]), 2),
    )
    recorded.table("Latency, throughput and CPU per request (CPU: ms per request)", COLUMNS, rows)
    return recorded


def in_process(version_dir: Path, examples: list[bytes], seconds: float) -> list[list[Value]]:
    """The signature called directly, as the server calls it, with the same input tensor."""
    import tensorflow as tf

    signature = tf.saved_model.load(str(version_dir)).signatures["serving_default"]

    def call():
        signature(examples=tf.constant(examples, dtype=tf.string))

    rows = []
    for concurrency in CONCURRENCY:
        with cpu_time() as client_cpu:
            latencies = measure_threads(call, concurrency, seconds)
        rows.append(report(IN_PROCESS, concurrency, latencies, seconds, None, client_cpu))
    return rows


def over_grpc(command: list[str], label: str, model: str, examples: list[bytes], seconds: float) -> list[list[Value]]:
    """A server (`tfpipe serve`) in its own process, as in production, called over gRPC on localhost."""
    server = subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    rows = []
    try:
        server.stdout.readline()  # "Serving <dir>: <models>"
        port = int(re.search(r":(\d+),", server.stdout.readline()).group(1))
        for concurrency in CONCURRENCY:
            with cpu_time(server.pid) as server_cpu, cpu_time() as client_cpu:
                latencies = asyncio.run(measure_grpc(port, model, examples, concurrency, seconds))
            rows.append(report(label, concurrency, latencies, seconds, server_cpu, client_cpu))
        return rows
    finally:
        server.terminate()
        server.wait(timeout=60)


def empty_server() -> int:
    """gRPC's own cost: the same server setup as `tfpipe serve`, answering Predict with a fixed response."""
    from concurrent import futures

    import grpc
    from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

    class Fixed(prediction_service_pb2_grpc.PredictionServiceServicer):
        def Predict(self, request, context):
            return predict_pb2.PredictResponse(model_spec=request.model_spec)

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=64))
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(Fixed(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    print("no model", flush=True)
    print(f"gRPC on 127.0.0.1:{port}, the floor", flush=True)
    server.wait_for_termination()
    return 0


def measure_threads(call, concurrency: int, seconds: float) -> list[float]:
    """Latency of every call, in seconds, of `concurrency` threads calling back to back."""
    latencies: list[float] = []
    warm_until = time.perf_counter() + WARM_UP_S
    end = warm_until + seconds

    def client() -> None:
        while (began := time.perf_counter()) < end:
            call()
            if began >= warm_until:
                latencies.append(time.perf_counter() - began)

    with ThreadPoolExecutor(concurrency) as pool:
        for future in [pool.submit(client) for _ in range(concurrency)]:
            future.result()
    return latencies


async def measure_grpc(port: int, model: str, examples: list[bytes], concurrency: int, seconds: float) -> list[float]:
    """As `measure_threads`, with `concurrency` asyncio clients on one channel: gRPC's asyncio client
    costs the shared CPUs less per call than a thread per client does, leaving more to the server."""
    import grpc
    from tensorflow_serving.apis import prediction_service_pb2_grpc

    from serving.client import predict_request

    request = predict_request(model, examples)
    latencies: list[float] = []
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        warm_until = time.perf_counter() + WARM_UP_S
        end = warm_until + seconds

        async def client() -> None:
            while (began := time.perf_counter()) < end:
                await stub.Predict(request, timeout=10)
                if began >= warm_until:
                    latencies.append(time.perf_counter() - began)

        await asyncio.gather(*(client() for _ in range(concurrency)))
    return latencies


class cpu_time:
    """CPU seconds (user + system) a process spends inside the `with` block; `seconds` after it."""

    def __init__(self, pid: int | None = None):
        self._process = psutil.Process(pid)

    def _now(self) -> float:
        times = self._process.cpu_times()
        return times.user + times.system + times.children_user + times.children_system

    def __enter__(self) -> "cpu_time":
        self._start = self._now()
        return self

    def __exit__(self, *exc_info) -> None:
        self.seconds = self._now() - self._start


def report(
    label: str,
    concurrency: int,
    latencies: list[float],
    seconds: float,
    server_cpu: cpu_time | None,
    client_cpu: cpu_time,
) -> list[Value]:
    """Prints the row and returns it, in COLUMNS' order."""
    # The warm-up's CPU is in the CPU figures too; it is a sixth of the time and the same work.
    calls = len(latencies) * (seconds + WARM_UP_S) / seconds
    cuts = statistics.quantiles(latencies, n=100)
    row: list[Value] = [
        label,
        concurrency,
        round(cuts[49] * 1000, 2),
        round(cuts[98] * 1000, 2),
        round(len(latencies) / seconds),
        round(server_cpu.seconds / calls * 1000, 2) if server_cpu else None,
        round(client_cpu.seconds / calls * 1000, 2),
    ]
    server = f"{row[5]:10.2f}" if server_cpu else f"{'':10}"
    print(
        f"{label:28} {concurrency:>7} {row[2]:>7.2f} {row[3]:>7.2f} {row[4]:>10} {server} {row[6]:10.2f}",
        flush=True,
    )
    return row


if __name__ == "__main__":
    sys.exit(main())
