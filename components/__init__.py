"""Custom TFX components and each pipeline's Transform/Trainer module code.

Importing this package sets TensorFlow up the way every component here needs it.
"""

import os

# TFX 1.16, TFT and TFMA are built around Keras 2; TF 2.16 would otherwise make
# tf.keras Keras 3. This must be set before TensorFlow is first imported.
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

from tensorflow.python.autograph.core import config as _autograph_config  # noqa: E402

# TF 2.16's autograph leaves `keras` unconverted but not `tf_keras`, so the first
# model.fit() transpiles all of Keras 2's internals: 14.7 s before one step on
# this machine, 0.7 s with this rule (benchmarks/first_fit.py).
_autograph_config.CONVERSION_RULES = (
    _autograph_config.DoNotConvert("tf_keras"),
    *_autograph_config.CONVERSION_RULES,
)
