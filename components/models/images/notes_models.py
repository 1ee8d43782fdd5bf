"""The notes' image classifiers as the notes write them: `tf.keras.Model` subclasses with `__init__` and
`call`, registered in the zoo (components/models/images/zoo.py) under their class names.

components/models/images/model.py calls the instance on the pixels, as it calls the zoo's functional
models, so each trains, warm-starts and exports as they do. Where a class differs from the notes' code,
its docstring says so.
"""

import tf_keras as keras
from tf_keras import layers


@keras.saving.register_keras_serializable(package="tfpipe")
class Baseline(keras.Model):
    """The notes' baseline CNN for CIFAR-10: Conv 6@5x5 'same', BatchNormalization, ReLU, MaxPool 2x2 stride 2
    'same', Dropout 0.2, Flatten, Dense 128 ReLU, Dropout 0.2, Dense softmax.

    Args:
      class_count: units of the softmax layer (the notes' 10).

    Unlike the notes' code the softmax layer computes in float32, as the zoo's last layers do: under
    bfloat16 mixed precision the probabilities and the loss stay float32 (components/precision.py).
    """

    def __init__(self, class_count: int = 10, **kwargs):
        super().__init__(**kwargs)
        self.class_count = class_count
        self.c1 = layers.Conv2D(filters=6, kernel_size=(5, 5), padding="same")
        self.b1 = layers.BatchNormalization()
        self.a1 = layers.Activation("relu")
        self.p1 = layers.MaxPool2D(pool_size=(2, 2), strides=2, padding="same")
        self.d1 = layers.Dropout(0.2)
        self.flatten = layers.Flatten()
        self.f1 = layers.Dense(128, activation="relu")
        self.d2 = layers.Dropout(0.2)
        self.f2 = layers.Dense(class_count, activation="softmax", dtype="float32")

    def call(self, x):
        x = self.c1(x)
        x = self.b1(x)
        x = self.a1(x)
        x = self.p1(x)
        x = self.d1(x)
        x = self.flatten(x)
        x = self.f1(x)
        x = self.d2(x)
        return self.f2(x)

    def get_config(self):
        # What HDF5 saving stores to rebuild the model: its constructor's arguments. Registered (above) under
        # "tfpipe>", the class loads back wherever this module has been imported, without custom_objects.
        return {"class_count": self.class_count}
