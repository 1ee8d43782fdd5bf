"""The notes' CIFAR-10 recipe twice on the same photos: as the notes' plain Keras script, and through the
whole cifar10 pipeline with the same model. Prints both test accuracies and both wall times.

  .venv/bin/python benchmarks/cifar10_recipe.py [--epochs 5] [--precision auto] [--workdir DIR] [--results-fp PATH]

The recipe: the notes' baseline CNN (Conv 6@5x5 'same', BatchNormalization, ReLU, MaxPool 2x2, Dropout 0.2,
Dense 128 ReLU, Dropout 0.2, Dense 10 softmax), Adam at Keras' default 0.001, sparse cross-entropy, batch 32,
5 epochs over the 50,000 shipped training photos (data/cifar10), validated on the test photos after every
epoch, with the notes' best-weights checkpoint. Both sides are scored on the 5,000 shipped test photos,
the pipeline's eval split. The pipeline trains the zoo's `baseline` (the same layers, built functionally;
pipelines/cifar10/notes.yaml holds the same settings) for 5 x 1,563 steps, without augmentation or the
autoencoder, in its `model.precision` (bfloat16 where the CPU has the units, unless --precision float32);
the plain script in float32, as the notes. Two changes to the notes' script: the photos come from the
shipped TFRecord files rather than `tf.keras.datasets.cifar10.load_data()`, and it writes no weights.txt
or curves (the pipeline writes both).

Each side runs in its own process and is timed from start to exit, imports included (recipes.py).
"""

from recipes import FIT_AND_SCORE_IMAGES, LOAD_IMAGES, PLAIN_SCRIPT_START, image_recipe_main

# The notes' script: their subclassed Baseline and checkpoint, as they wrote them.
PLAIN_SCRIPT = (
    PLAIN_SCRIPT_START
    + LOAD_IMAGES
    + """
from tensorflow.keras.layers import Conv2D, BatchNormalization, Activation, MaxPool2D, Dropout, Flatten, Dense
class Baseline(tf.keras.Model):
    def __init__(self):
        super(Baseline, self).__init__()
        self.c1 = Conv2D(filters=6, kernel_size=(5, 5), padding="same")
        self.b1 = BatchNormalization()
        self.a1 = Activation("relu")
        self.p1 = MaxPool2D(pool_size=(2, 2), strides=2, padding="same")
        self.d1 = Dropout(0.2)
        self.flatten = Flatten()
        self.f1 = Dense(128, activation="relu")
        self.d2 = Dropout(0.2)
        self.f2 = Dense(10, activation="softmax")

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
model = Baseline()
callbacks = [tf.keras.callbacks.ModelCheckpoint(filepath=os.path.join(workdir, "Baseline.ckpt"),
                                                save_weights_only=True, save_best_only=True)]
"""
    + FIT_AND_SCORE_IMAGES
)


if __name__ == "__main__":
    image_recipe_main("cifar10_recipe", __doc__.splitlines()[0], "cifar10", PLAIN_SCRIPT, "baseline")
