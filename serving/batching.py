"""Server-side batching: requests for the same signature that arrive together become one model call.

As in TF Serving, requests for one model version and signature queue together, and one model
call runs on the inputs of several, joined along the batch dimension, up to `max_batch_size`
rows (waiting up to `batch_timeout_s` for more to arrive); each request gets back its own rows of
every output.

There is no batching thread: the request that finds no batch running runs one itself, taking
every request queued behind it, and when it is done the first request that queued meanwhile runs
the next. A lone request therefore runs the model on its own thread at once, as it would without
batching; handing it to a worker thread and back cost two thread switches, which on a busy
Python server took longer than the model call. Under load, requests queue while a batch runs,
so batches form by themselves even with a zero timeout.
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future

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
    # Set when the result is in, or when this request's thread is to run the next batch (which holds it).
    wake: threading.Event = dataclasses.field(default_factory=threading.Event)

    def settle(self, compute: Callable[[], dict]) -> None:
        try:
            self.result.set_result(compute())
        except Exception as error:
            self.result.set_exception(error)
        self.wake.set()


class Batcher:
    """Merges concurrent calls of one signature of one model version into batched model calls.

    Attributes:
      batches: how many batches have run (each one model call, unless a failed batch was re-run
        request by request); with `requests_batched`, the mean batch size.
      requests_batched: how many requests went through the queue.
    """

    def __init__(self, run_model: RunModel, options: BatchingOptions):
        self._run_model = run_model
        self._options = options
        self._queue: collections.deque[_Request] = collections.deque()
        self._queued_rows = 0
        # Guards the queue, the counters and `_running`; notified when a request joins the queue.
        self._changed = threading.Condition()
        self._running = False  # a thread is running a batch or has been told to run the next
        self._closed = False
        self.batches = 0
        self.requests_batched = 0

    def run(self, inputs: Tensors) -> dict:
        """The model's outputs for these inputs, batched with others' when every input has the same
        first (batch) dimension; otherwise (a scalar, say: shapes are the model's business, as in TF
        Serving) the request runs on its own."""
        rows = _rows_of(inputs)
        request = _Request(inputs, rows or 0)
        run_alone = rows is None
        with self._changed:
            # After close() (the version was unloaded while this request held it) the model is
            # still usable: run it directly rather than fail a request in flight.
            if run_alone or self._closed or request.rows >= self._options.max_batch_size:
                run_alone = True
            else:
                self._queue.append(request)
                self._queued_rows += request.rows
                self._changed.notify()
                if not self._running:
                    self._running = True
                    request.wake.set()
        if run_alone:
            return self._run_model(inputs)
        request.wake.wait()
        if not request.result.done():  # woken to run the next batch, which starts with this request
            self._run_next_batch()
        return request.result.result()

    def close(self) -> None:
        """Later requests run unbatched; those already queued are answered by the batches that are to run."""
        with self._changed:
            self._closed = True

    def _run_next_batch(self) -> None:
        with self._changed:
            deadline = time.monotonic() + self._options.batch_timeout_s
            while self._queued_rows < self._options.max_batch_size and not self._closed:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not self._changed.wait(remaining):
                    break
            batch, rows = [], 0
            while self._queue and rows + self._queue[0].rows <= self._options.max_batch_size:
                request = self._queue.popleft()
                batch.append(request)
                rows += request.rows
            self._queued_rows -= rows
        try:
            self._answer(batch)
        finally:  # whatever happened, the requests queued meanwhile must not be left waiting
            with self._changed:
                if self._queue:
                    self._queue[0].wake.set()
                else:
                    self._running = False

    def _answer(self, batch: list[_Request]) -> None:
        with self._changed:
            self.batches += 1
            self.requests_batched += len(batch)
        if len(batch) == 1:
            batch[0].settle(lambda: self._run_model(batch[0].inputs))
            return
        try:
            joined = _joined(batch)
            outputs = self._run_model(joined) if joined is not None else None
        except ServingError:
            # One request's bad data (an unparsable example, say) must not fail the others that
            # shared its batch: run each alone so only the bad one gets the error.
            outputs = None
        except Exception as failure:
            for request in batch:
                request.settle(functools.partial(_raise, failure))
            return
        total = sum(request.rows for request in batch)
        if outputs is None or any(np.ndim(value) == 0 or len(value) != total for value in outputs.values()):
            # Inputs that cannot be joined (other dtypes or inner shapes), a failure, or outputs
            # without the batch as their first dimension: each request runs on its own.
            for request in batch:
                request.settle(functools.partial(self._run_model, request.inputs))
            return
        start = 0
        for request in batch:
            end = start + request.rows
            request.settle(functools.partial(_rows, outputs, start, end))
            start = end


def _rows_of(inputs: Tensors) -> int | None:
    """The common first dimension of the inputs, or None if they have none (a scalar, different sizes)."""
    sizes = {np.shape(value)[0] if np.ndim(value) else None for value in inputs.values()}
    if len(sizes) != 1:
        return None
    return sizes.pop()


def _joined(batch: list[_Request]) -> dict | None:
    """The batch's inputs joined along the first dimension; None if their dtypes or inner shapes differ."""
    names = set(batch[0].inputs)
    if any(set(request.inputs) != names for request in batch):
        return None
    joined = {}
    for name in names:
        parts = [np.asarray(request.inputs[name]) for request in batch]
        if len({(part.dtype, part.shape[1:]) for part in parts}) != 1:
            return None
        joined[name] = np.concatenate(parts)
    return joined


def _raise(error: Exception) -> dict:
    raise error


def _rows(outputs: dict, start: int, end: int) -> dict:
    """Rows `start:end` of every output: one request's share of a batch."""
    return {name: value[start:end] for name, value in outputs.items()}
