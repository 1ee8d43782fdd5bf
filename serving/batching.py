"""Server-side batching: requests for the same signature that arrive together become one model call.

As TF Serving's batching does, a queue per model version and signature collects requests; one
worker thread takes the first waiting request, adds whatever else is queued (waiting up to
`batch_timeout_s` for more) until `max_batch_size` rows, runs the model once on the inputs joined
along the batch dimension, and hands each request back its own rows of every output.

While the model runs a batch, new requests queue up, so under load batches form by themselves
even with a zero timeout; a single client pays no waiting time.
"""

from __future__ import annotations

import dataclasses
import queue
import threading
import time
from concurrent.futures import Future
from typing import Callable, Mapping

import grpc
import numpy as np

from serving.errors import ServingError

Tensors = Mapping[str, np.ndarray]
RunModel = Callable[[Tensors], dict]


@dataclasses.dataclass(frozen=True)
class BatchingOptions:
    """How requests are merged.

    Attributes:
      max_batch_size: most rows (examples) in one model call. A request with at least this many
        rows runs on its own.
      batch_timeout_s: how long the first request of a batch waits for others to join, in seconds.
        0 merges only what is already queued: no added latency.
    """

    max_batch_size: int = 32
    batch_timeout_s: float = 0.0

    def __post_init__(self):
        if self.max_batch_size < 1:
            raise ValueError(f"max_batch_size must be at least 1, got {self.max_batch_size}")
        if self.batch_timeout_s < 0:
            raise ValueError(f"batch_timeout_s must not be negative, got {self.batch_timeout_s}")


@dataclasses.dataclass
class _Request:
    inputs: Tensors
    rows: int
    result: Future = dataclasses.field(default_factory=Future)


class Batcher:
    """Merges concurrent calls of one signature of one model version into batched model calls.

    Attributes:
      batches: how many batches the worker has run (each one model call, unless a failed
        batch was re-run request by request); with `requests_batched`, the mean batch size.
      requests_batched: how many requests went through the queue.
    """

    def __init__(self, run_model: RunModel, options: BatchingOptions, name: str):
        self._run_model = run_model
        self._options = options
        self._queue: queue.Queue[_Request | None] = queue.Queue()
        self._closing = threading.Lock()
        self._closed = False
        self.batches = 0
        self.requests_batched = 0
        self._worker = threading.Thread(target=self._work, name=f"batcher {name}", daemon=True)
        self._worker.start()

    def run(self, inputs: Tensors) -> dict:
        """The model's outputs for these inputs (each with the batch dimension first), maybe batched with others."""
        rows = len(next(iter(inputs.values())))
        with self._closing:
            # After close() (the version was unloaded while this request held it) the model is
            # still usable: run it directly rather than fail a request in flight.
            if self._closed or rows >= self._options.max_batch_size:
                request = None
            else:
                request = _Request(inputs, rows)
                self._queue.put(request)
        if request is None:
            return self._run_model(inputs)
        return request.result.result()

    def close(self) -> None:
        """Answers every queued request, then stops the worker."""
        with self._closing:
            self._closed = True
            self._queue.put(None)
        self._worker.join()

    def _work(self) -> None:
        carried: _Request | None = None
        while True:
            first = carried or self._queue.get()
            carried = None
            if first is None:
                return
            batch, closing = [first], False
            rows = first.rows
            deadline = time.monotonic() + self._options.batch_timeout_s
            while rows < self._options.max_batch_size:
                try:
                    remaining = deadline - time.monotonic()
                    waiting = self._queue.get(timeout=remaining) if remaining > 0 else self._queue.get_nowait()
                except queue.Empty:
                    break
                if waiting is None:
                    closing = True
                    break
                if rows + waiting.rows > self._options.max_batch_size:
                    carried = waiting
                    break
                batch.append(waiting)
                rows += waiting.rows
            self._answer(batch)
            if closing:
                return

    def _answer(self, batch: list[_Request]) -> None:
        self.batches += 1
        self.requests_batched += len(batch)
        if len(batch) == 1:
            _settle(batch[0], lambda: self._run_model(batch[0].inputs))
            return
        try:
            joined = {name: np.concatenate([request.inputs[name] for request in batch]) for name in batch[0].inputs}
            outputs = self._run_model(joined)
        except ServingError:
            # One request's bad data (an unparsable example, say) must not fail the others that
            # shared its batch: run each alone so only the bad one gets the error.
            for request in batch:
                _settle(request, lambda request=request: self._run_model(request.inputs))
            return
        except Exception as error:
            for request in batch:
                request.result.set_exception(error)
            return
        total = sum(request.rows for request in batch)
        unsplittable = [name for name, value in outputs.items() if np.ndim(value) == 0 or len(value) != total]
        if unsplittable:
            error = ServingError(
                grpc.StatusCode.INTERNAL,
                f"batched outputs {unsplittable} do not have the batch size {total} as their first dimension",
            )
            for request in batch:
                request.result.set_exception(error)
            return
        start = 0
        for request in batch:
            end = start + request.rows
            request.result.set_result({name: value[start:end] for name, value in outputs.items()})
            start = end


def _settle(request: _Request, compute: Callable[[], dict]) -> None:
    try:
        request.result.set_result(compute())
    except Exception as error:
        request.result.set_exception(error)
