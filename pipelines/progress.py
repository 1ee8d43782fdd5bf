"""What the console shows of a running pipeline: each component's status and time. No TensorFlow here."""

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


ProgressCallback = Callable[[str, ComponentRun], None]
