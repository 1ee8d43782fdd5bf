"""Latency and throughput of gRPC Predict on `tfpipe serve`, batching on and off, against calling the
same SavedModel signature in this process (the limit: no RPC, no server).

    .venv/bin/python benchmarks/serving_latency.py [--workdir workdir] [--model iris] [--seconds 5]

Needs a pushed model (`tfpipe run iris` first). Each request carries one serialized tf.Example (a
real iris row). For each concurrency (1, 8, 32) the clients, threads in this process, send requests
back to back for `--seconds`, after a warm-up; p50 and p99 are per request, requests/s is the total.
The server runs as its own process (`tfpipe serve`), as it would in production; on a small machine
the clients share its cores, so the figures are a floor of what the server alone can do.
"""

import argparse
import os
import re
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

CONCURRENCY = (1, 8, 32)
WARM_UP_S = 1.0
IRIS_ROW = dict(sepal_length=5.7, sepal_width=2.8, petal_length=4.1, petal_width=1.3)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", type=Path, default=Path("workdir"), help="workdir holding serving/ (default: workdir)")
    parser.add_argument("--model", default="iris", help="model to call; its signature must take serialized tf.Examples (default: iris)")
    parser.add_argument("--seconds", type=float, default=5.0, help="measuring time per row of the table (default: 5)")
    args = parser.parse_args()
    model_dir = args.workdir / "serving" / args.model
    versions = sorted(int(path.name) for path in model_dir.glob("*") if path.name.isdigit()) if model_dir.is_dir() else []
    if not versions:
        print(f"serving_latency: no pushed version of {args.model} under {model_dir}; run `tfpipe run {args.model}` first.",
              file=sys.stderr)
        return 2

    from serving.client import example

    examples = [example(IRIS_ROW)]
    print(f"{args.model} version {versions[-1]}, one example per request, {args.seconds:g} s per row, "
          f"{os.cpu_count()} CPUs shared by server and clients")
    print(f"{'':32} {'concurrency':>11} {'p50 ms':>8} {'p99 ms':>8} {'requests/s':>11}")
    in_process(model_dir / str(versions[-1]), examples, args.seconds)
    for batching in (False, True):
        over_grpc(args.workdir, args.model, examples, args.seconds, batching)
    return 0


def in_process(version_dir: Path, examples: list[bytes], seconds: float) -> None:
    """The signature called directly, as the server calls it, with the same input tensor."""
    import tensorflow as tf

    signature = tf.saved_model.load(str(version_dir)).signatures["serving_default"]

    def call():
        signature(examples=tf.constant(examples, dtype=tf.string))

    for concurrency in CONCURRENCY:
        report("in-process signature call", concurrency, measure(call, concurrency, seconds))


def over_grpc(workdir: Path, model: str, examples: list[bytes], seconds: float, batching: bool) -> None:
    from serving.client import PredictionClient, predict_request

    command = [sys.executable, "-m", "tfpipe.cli", "serve", "--workdir", str(workdir), "--grpc-port", "0",
               "--rest-port", "0", "--batching" if batching else "--no-batching"]
    server = subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        server.stdout.readline()  # "Serving <dir>: <models>"
        port = int(re.search(r":(\d+),", server.stdout.readline()).group(1))
        request = predict_request(model, examples)
        # One channel per client thread: a shared channel would measure its own contention.
        clients = threading.local()

        def call():
            if not hasattr(clients, "client"):
                clients.client = PredictionClient(f"127.0.0.1:{port}", attempts=1)
            clients.client.predict_response(request)

        for concurrency in CONCURRENCY:
            label = f"gRPC Predict, batching {'on' if batching else 'off'}"
            report(label, concurrency, measure(call, concurrency, seconds))
    finally:
        server.terminate()
        server.wait(timeout=60)


def measure(call, concurrency: int, seconds: float) -> tuple[list[float], float]:
    """(latency of every call in seconds, wall seconds) of `concurrency` threads calling back to back."""
    latencies: list[list[float]] = [[] for _ in range(concurrency)]
    start = threading.Barrier(concurrency + 1)
    window = {}

    def client(index: int) -> None:
        mine = latencies[index]
        start.wait()
        warm_until = window["warm_until"]
        end = window["end"]
        while True:
            began = time.perf_counter()
            if began >= end:
                return
            call()
            if began >= warm_until:
                mine.append(time.perf_counter() - began)

    with ThreadPoolExecutor(concurrency) as pool:
        futures = [pool.submit(client, index) for index in range(concurrency)]
        window["warm_until"] = time.perf_counter() + WARM_UP_S
        window["end"] = window["warm_until"] + seconds
        start.wait()
        for future in futures:
            future.result()
    return [latency for mine in latencies for latency in mine], seconds


def report(label: str, concurrency: int, measured: tuple[list[float], float]) -> None:
    latencies, seconds = measured
    cuts = statistics.quantiles(latencies, n=100)
    print(f"{label:32} {concurrency:>11} {cuts[49] * 1000:>8.2f} {cuts[98] * 1000:>8.2f} {len(latencies) / seconds:>11.0f}",
          flush=True)


if __name__ == "__main__":
    sys.exit(main())
