"""What the console shows of a running pipeline: each component's status and time, and what the running
component says of its progress (the Trainer's epochs: components/training_progress.py). No TensorFlow here."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable


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
    # Whether every milestone is worth a line (a search's trials), not only one every few seconds (epochs).
    every_milestone: bool = False


ProgressCallback = Callable[[str, ComponentRun], None]
