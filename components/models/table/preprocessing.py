"""Transform module for the table pipeline: every column but the label, by its type in the data.
Analyzers see the train split only.

- A numeric column (INT or FLOAT in the schema): scaled to [0, 1] with the train split's min and max
  (tft.scale_to_0_1; eval and serving values may fall outside), as a float [batch, 1].
- A text column: its vocabulary of the train split's values (tft.compute_and_apply_vocabulary), each
  value as its id, [batch, 1]; values the train split never had share the out-of-vocabulary id.
- The label (LABEL_KEY): a classification's class index into `class_names`; a regression's value
  standardized with the train split's mean and standard deviation, which the model learns more easily
  than raw units (the exported model turns its output back into the label's units).
- The naive baselines, the same for every example: the train split's majority class
  (MAJORITY_KEY), or its mean and standard deviation of the label (MEAN_KEY, STD_KEY). They travel in
  the Transform graph, so the exported model can score them beside itself.

A missing value (a column TFDV found absent from some rows) reads as 0 or "" here.
"""

import tensorflow as tf
import tensorflow_transform as tft

from components.models.table import features
from pipelines.table.config import TableTransformConfig


def preprocessing_fn(inputs: dict, custom_config: dict) -> dict:
    """`custom_config`: TableTransformConfig's."""
    settings = TableTransformConfig.from_custom_config(custom_config)
    outputs = {}
    for key in sorted(inputs):
        if key == settings.label:
            continue
        value = dense(inputs[key])
        if value.dtype == tf.string:
            outputs[key] = tft.compute_and_apply_vocabulary(
                value, num_oov_buckets=features.NUM_OOV_BUCKETS, vocab_filename=features.vocabulary_name(key)
            )
        else:
            outputs[key] = tft.scale_to_0_1(tf.cast(value, tf.float32))
    # Any feature column gives the batch size the baselines are broadcast to (serving has no label).
    zeros = tf.zeros_like(tf.cast(outputs[min(outputs)][:, 0], tf.float32))
    label = tf.reshape(dense(inputs[settings.label]), [-1])
    if settings.task == features.REGRESSION:
        target = tf.cast(label, tf.float32)
        mean, std = tft.mean(target), tf.sqrt(tft.var(target))
        outputs[features.LABEL_KEY] = (target - mean) / tf.maximum(std, 1e-12)
        outputs[features.MEAN_KEY] = zeros + mean
        outputs[features.STD_KEY] = zeros + std
    else:
        index = class_index(label, settings.class_names)
        counts = tft.sum(tf.one_hot(index, len(settings.class_names)), reduce_instance_dims=False)
        outputs[features.LABEL_KEY] = index
        outputs[features.MAJORITY_KEY] = tf.cast(zeros, tf.int64) + tf.argmax(counts)
    return outputs


def class_index(label: tf.Tensor, class_names: tuple[str, ...]) -> tf.Tensor:
    """[batch] label values (text or whole numbers) -> their index in `class_names`, int64 [batch]; the
    schema's domain refuses a class the data gate has not seen, so every value is one of them."""
    text = label if label.dtype == tf.string else tf.strings.as_string(label)
    matches = tf.equal(tf.expand_dims(text, 1), tf.constant(class_names)[tf.newaxis, :])
    return tf.argmax(tf.cast(matches, tf.int32), axis=1)


def dense(value) -> tf.Tensor:
    """A column as a dense [batch, 1] tensor: a sparse one (a column missing from some rows) with 0 or ""."""
    if not isinstance(value, tf.SparseTensor):
        return value
    default = "" if value.dtype == tf.string else tf.zeros([], value.dtype)
    shaped = tf.SparseTensor(value.indices, value.values, [value.dense_shape[0], 1])
    return tf.sparse.to_dense(shaped, default_value=default)
