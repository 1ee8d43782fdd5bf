"""TensorFlow set-up that every process running a component needs, done once and explicitly.

Entry points call `configure()` before TensorFlow is first imported: the CLI, the Airflow DAG file,
the test session, and each Trainer run_fn (a component may run in a fresh process or container,
where no entry point of ours ran first). Importing this module does nothing by itself.
"""

from __future__ import annotations

import os


def configure() -> None:
    """Keras 2 for tf.keras, and autograph told to leave Keras 2's internals alone. Idempotent."""
    # TFX 1.16, TFT and TFMA are built around Keras 2; TF 2.16 would otherwise make tf.keras
    # Keras 3. Only effective before TensorFlow is first imported; later it is a no-op.
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    from tensorflow.python.autograph.core import config as autograph_config

    # TF 2.16's autograph leaves `keras` unconverted but not `tf_keras`, so the first
    # model.fit() transpiles all of Keras 2's internals: 14.7 s before one step on
    # this machine, 0.7 s with this rule (benchmarks/first_fit.py).
    first = autograph_config.CONVERSION_RULES[0]
    if not (isinstance(first, autograph_config.DoNotConvert) and first.matches("tf_keras")):
        autograph_config.CONVERSION_RULES = (
            autograph_config.DoNotConvert("tf_keras"),
            *autograph_config.CONVERSION_RULES,
        )
