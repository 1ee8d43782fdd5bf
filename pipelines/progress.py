"""What the console shows of a running pipeline: each component's status and time, and what the running
component says of its progress (the Trainer's epochs). No TensorFlow here."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

PROGRESS_LOGGER = "tfpipe.progress"
"""Components report their progress as INFO records on this logger, a TrainingProgress as
`extra={"progress": ...}`. Under the local and Beam runners the Trainer runs in the console's process, whose
handler (pipelines/in_process.py) shows them; elsewhere (Kubeflow, Airflow) they only reach the log."""


@dataclasses.dataclass
class ComponentRun:
    """One component's part in a run."""

    status: str  # running | cached | done | failed
    started: float
    seconds: float | None = None
    execution_id: int | None = None
    # While running, the latest of its progress, for a live line: "epoch 3/10 · step 120/200 · loss 0.412".
    detail: str | None = None
    # The last stage it finished, for a log with no live line: "epoch 3/10 loss 0.412 val_accuracy 0.93".
    milestone: str | None = None


@dataclasses.dataclass(frozen=True)
class TrainingProgress:
    """Where a Keras fit stands (components/models/training.py reports it)."""

    epoch: int  # counted from 1
    epochs: int
    step: int | None  # steps done in this epoch; None once the epoch is over
    steps: int | None  # steps per epoch, when the fit knows it
    metrics: dict[str, float]  # Keras' latest logs: loss and metrics; at an epoch's end the validation ones too

    @property
    def epoch_done(self) -> bool:
        return self.step is None

    def detail(self) -> str:
        return " · ".join(self._parts())

    def __str__(self) -> str:
        return " ".join(self._parts())

    def _parts(self) -> list[str]:
        parts = [f"epoch {self.epoch}/{self.epochs}"]
        if self.step is not None:
            parts.append(f"step {self.step}/{self.steps}" if self.steps else f"step {self.step}")
        # The loss, and the validation metrics an epoch ends with: the figures worth watching.
        parts += [
            f"{name} {value:.3g}" for name, value in self.metrics.items() if name == "loss" or name.startswith("val_")
        ]
        return parts


ProgressCallback = Callable[[str, ComponentRun], None]
