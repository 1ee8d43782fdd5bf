"""What a running Trainer or Tuner says of its progress, for the console: the epoch, the step, the loss;
the trial of a model search.
No TensorFlow here: the console's process reads it."""

from __future__ import annotations

import dataclasses

PROGRESS_LOGGER = "tfpipe.progress"
"""Components report their progress as INFO records on this logger, a TrainingProgress as
`extra={"progress": ...}`. Under the local and Beam runners the Trainer runs in the console's process, whose
handler (pipelines/in_process.py) shows them; elsewhere (Kubeflow, Airflow) they only reach the log."""


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


@dataclasses.dataclass(frozen=True)
class TrialProgress:
    """Where a model search stands (components/models/tuning.py reports it at each trial's start and end)."""

    trial: int  # counted from 1
    trials: int | None  # the most the search may try; None when the algorithm decides (hyperband)
    values: dict[str, object]  # the trial's candidate values, by config key
    score: float | None = None  # the trial's score, once it has ended
    best: float | None = None  # the best score so far
    failed: str | None = None  # why the trial failed, if it did

    def detail(self) -> str:
        of = f"/{self.trials}" if self.trials else ""
        parts = [f"trial {self.trial}{of}", " ".join(f"{key}={value}" for key, value in self.values.items())]
        if self.best is not None:
            parts.append(f"best {self.best:.4g}")
        return " · ".join(parts)

    def __str__(self) -> str:
        if self.failed:
            return f"{self.detail()}: failed ({self.failed})"
        return self.detail() if self.score is None else f"{self.detail()}: score {self.score:.4g}"
