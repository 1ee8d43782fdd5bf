"""Transform module for iris: each measurement scaled to [0, 1].

TFX's Transform analyzes the train split only, so the min and max used for
scaling are the training data's (the notes' MinMaxScaler fit on train); eval
and serving data are scaled with those same values and may fall outside [0, 1].
"""

import tensorflow as tf
import tensorflow_transform as tft

from components.models.iris import features


def preprocessing_fn(inputs: dict) -> dict:
    outputs = {key: tft.scale_to_0_1(inputs[key]) for key in features.FEATURE_KEYS}
    outputs[features.LABEL_KEY] = tf.cast(inputs[features.LABEL_KEY], tf.int64)
    return outputs
