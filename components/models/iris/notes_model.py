"""The notes' iris classifier as the notes write it: a `tf.keras.Model` subclass with `__init__` and `call`.

The run_fn builds it on the transformed measurements (components/models/iris/model.py), so it takes
them as the notes' `x_train` columns: one row of four scaled measurements per flower.
"""

import tf_keras as keras
from tf_keras import layers


@keras.saving.register_keras_serializable(package="tfpipe")
class IrisModel(keras.Model):
    """One Dense softmax layer over the four measurements, with an L2 penalty on its kernel.

    Args:
      l2: the penalty's factor; the notes use Keras' default, 0.01.
    """

    def __init__(self, l2: float = 0.01, **kwargs):
        super().__init__(**kwargs)
        self.l2 = l2
        self.d1 = layers.Dense(3, activation="softmax", kernel_regularizer=keras.regularizers.l2(l2))

    def call(self, x):
        return self.d1(x)

    def get_config(self):
        # What HDF5 saving stores to rebuild the model: its constructor's arguments. Registered (above) under
        # "tfpipe>", the class loads back wherever this module has been imported, without custom_objects.
        return {"l2": self.l2}
