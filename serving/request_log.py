"""Request logging: a sample of the requests the server answers, as TF Serving's own request logs.

Each logged request is a `tensorflow_serving.apis.prediction_log_pb2.PredictionLog` (its request, its
response, and `log_metadata` naming the model, version and signature that answered, and the sampling
rate), in TFRecord files: what TF Serving's `--logging_config` and TFX's BulkInferrer write, so the same
tools read them. A model's logs are `<directory>/<model>/request_logs/prediction_log-<UTC time>-<pid>.tfrecord`,
a new file every `rotate_s` seconds, so a long-running server leaves files of a bounded span of time.

A request pays only for the sampling draw and a queue put: the records are built and written by one
background thread, and when the queue is full (the disk slower than the requests) a record is dropped,
never the request delayed. Each batch of records is flushed as soon as the queue is empty, so a reader
sees whole records; `stop()` writes what is queued and closes the files.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import queue
import random
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import tensorflow as tf
from tensorflow_serving.apis import model_pb2, prediction_log_pb2

log = logging.getLogger(__name__)

LOGS_FOLDER = "request_logs"
FILE_PREFIX = "prediction_log-"
FILE_SUFFIX = ".tfrecord"
# Records waiting for the writer, at most; beyond them a record is dropped rather than a request delayed.
QUEUE_RECORDS = 10_000


@dataclasses.dataclass(frozen=True)
class RequestLogOptions:
    """Which requests are logged, and where.

    Attributes:
      sampling_rate: the fraction of answered requests logged, 0 < rate <= 1 (TF Serving's
        `sampling_config.sampling_rate`).
      directory: a model's logs go to `<directory>/<model>/request_logs/` (the workdir: beside the pipeline's runs).
      rotate_s: seconds a log file is written before the next one starts.
    """

    sampling_rate: float
    directory: Path
    rotate_s: float = 3600.0

    def __post_init__(self) -> None:
        if not 0 < self.sampling_rate <= 1:
            raise ValueError(f"the request log's sampling rate must be above 0 and at most 1, not {self.sampling_rate}")
        if self.rotate_s <= 0:
            raise ValueError(f"the request log's rotation must be a positive number of seconds, not {self.rotate_s}")


def logs_folder(directory: Path, model_name: str) -> Path:
    """Where the logs of `model_name` are written under a logging directory."""
    return Path(directory) / model_name / LOGS_FOLDER


class RequestLogger:
    """Samples answered requests and writes them in the background; `stop()` flushes and closes."""

    def __init__(self, options: RequestLogOptions):
        self.options = options
        self.dropped = 0
        self._queue: queue.Queue = queue.Queue(QUEUE_RECORDS)
        self._writer = threading.Thread(target=self._write_until_stopped, name="request log", daemon=True)
        self._writer.start()

    def log(self, spec: model_pb2.ModelSpec, record: Callable[[], prediction_log_pb2.PredictionLog]) -> None:
        """Logs one answered request, if sampled: `spec` names the model, version and signature that answered,
        `record` builds its PredictionLog (called on the writer's thread, not the request's)."""
        if random.random() >= self.options.sampling_rate:
            return
        try:
            self._queue.put_nowait((spec, time.time(), record))
        except queue.Full:
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 1000 == 0:
                log.warning("request log: %d records dropped, the disk is slower than the requests", self.dropped)

    def stop(self) -> None:
        """Writes the queued records and closes the files; again, does nothing."""
        if self._writer.is_alive():
            self._queue.put(None)
            self._writer.join()

    def _write_until_stopped(self) -> None:
        files: dict[str, _LogFile] = {}
        try:
            while True:
                item = self._queue.get()
                if item is None:
                    return
                spec, seconds, record = item
                try:
                    self._write(files, spec, seconds, record)
                except Exception:  # a record that cannot be built or written costs that record, not the log
                    log.exception("request log: could not log a request to %s", spec.name)
                if self._queue.empty():
                    for file in files.values():
                        file.writer.flush()
        finally:
            for file in files.values():
                file.writer.close()

    def _write(self, files: dict[str, _LogFile], spec: model_pb2.ModelSpec, seconds: float, record) -> None:
        entry = record()
        entry.log_metadata.model_spec.CopyFrom(spec)
        entry.log_metadata.sampling_config.sampling_rate = self.options.sampling_rate
        entry.log_metadata.timestamp_secs = int(seconds)
        current = files.get(spec.name)
        if current is None or seconds - current.opened >= self.options.rotate_s:
            if current is not None:
                current.writer.close()
            current = files[spec.name] = _LogFile.open(logs_folder(self.options.directory, spec.name), seconds)
        current.writer.write(entry.SerializeToString())


@dataclasses.dataclass
class _LogFile:
    writer: tf.io.TFRecordWriter
    opened: float

    @classmethod
    def open(cls, folder: Path, seconds: float) -> _LogFile:
        folder.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(seconds))
        path = folder / f"{FILE_PREFIX}{stamp}-{os.getpid()}{FILE_SUFFIX}"
        # A file of the same second (a restart within it) is continued, not overwritten: a new name.
        count = 1
        while path.exists():
            count += 1
            path = folder / f"{FILE_PREFIX}{stamp}-{os.getpid()}-{count}{FILE_SUFFIX}"
        return cls(tf.io.TFRecordWriter(str(path)), seconds)


def log_files(folder: Path) -> list[Path]:
    """A model's request log files, oldest first."""
    return sorted(Path(folder).glob(f"{FILE_PREFIX}*{FILE_SUFFIX}"))


def read_prediction_logs(folder: Path) -> Iterator[prediction_log_pb2.PredictionLog]:
    """Every PredictionLog in a model's request log files, oldest first; a file a running server is
    still writing ends at its last whole record."""
    for path in log_files(folder):
        try:
            for serialized in tf.data.TFRecordDataset(str(path)).as_numpy_iterator():
                yield prediction_log_pb2.PredictionLog.FromString(serialized)
        except tf.errors.DataLossError:  # a record being written as it was read
            continue
