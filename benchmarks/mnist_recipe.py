"""The notes' MNIST recipe twice on the same digits: as the notes' plain Keras script, and through the whole
mnist pipeline with the same model. Prints both test accuracies and both wall times.

  .venv/bin/python benchmarks/mnist_recipe.py [--epochs 5] [--precision auto] [--workdir DIR] [--results-fp PATH]

The recipe: the notes' first classifier, Flatten, Dense 128 ReLU, Dense 10 softmax, Adam at Keras' default
0.001, sparse cross-entropy, batch 32, 5 epochs, validated on the test digits after every epoch. Both sides
train on the 5,000 shipped training digits (data/mnist) and are scored on the 1,000 shipped test digits, the
pipeline's eval split (the notes use all of MNIST's 60,000 and 10,000). The pipeline trains the zoo's `mlp`
(the same layers) for 5 x 157 steps, without the autoencoder, in its `model.precision` (bfloat16 where the
CPU has the units, unless --precision float32); the plain script in float32, as the notes. One change to
the notes' script: the digits come from the shipped TFRecord files rather than
`tf.keras.datasets.mnist.load_data()`.

Each side runs in its own process and is timed from start to exit, imports included (recipes.py).
"""

from recipes import FIT_AND_SCORE_IMAGES, LOAD_IMAGES, PLAIN_SCRIPT_START, image_recipe_main

# The notes' script: their Sequential MLP, no callbacks.
PLAIN_SCRIPT = (
    PLAIN_SCRIPT_START
    + LOAD_IMAGES
    + """
model = tf.keras.models.Sequential([
    tf.keras.layers.Flatten(),
    tf.keras.layers.Dense(128, activation="relu"),
    tf.keras.layers.Dense(10, activation="softmax")])
callbacks = []
"""
    + FIT_AND_SCORE_IMAGES
)


if __name__ == "__main__":
    image_recipe_main("mnist_recipe", __doc__.splitlines()[0], "mnist", PLAIN_SCRIPT, "mlp")
