"""Trainer module for spoken digits: AudioNet, or a CNN of the image zoo, behind training-only
spectrogram augmentation, as a TFX run_fn.

The exported SavedModel has two signatures, both returning `probabilities` (one per class),
`class_id` and `class_name`:
  serving_default  serialized tf.Examples with the WAV file's bytes in `audio` (what TFMA, the
                   embedded server and `tfpipe predict` send)
  wav_files        the WAV files' bytes themselves, a string tensor `audio`
Both run the Transform graph first, so a recording of any length is decoded, cut or padded and
turned into the normalised log-mel spectrogram as the training recordings were.

Besides the shared training record, run_fn leaves one spectrogram PNG per class of the eval split
in the Trainer's ModelRun (`spectrogram_<class>.png`), which MlflowTracker logs under `training/`.
"""

import os

import numpy as np
import tensorflow as tf
import tf_keras as keras
from tensorflow.io import gfile
from tensorflow_transform import TFTransformOutput
from tfx.components.trainer.fn_args_utils import FnArgs

from components import training_record
from components.models import training, tuning
from components.models.images import zoo
from components.models.spoken_digits import audionet, features
from pipelines.spoken_digits.config import AudioAugmentationConfig, AudioModelConfig, SpokenDigitsConfig

AUDIONET = "audionet"
SPECTROGRAM_FILE = "spectrogram_{}.png"
# How many eval batches are searched for a recording of each class to draw.
_SPECTROGRAM_BATCHES = 20


def build_classifier(
    model: AudioModelConfig,
    augmentation: AudioAugmentationConfig,
    input_shape: tuple[int, int, int],
    class_count: int,
    train_steps: int,
) -> keras.Model:
    """AudioNet or the image zoo's `model.name` behind the augmentation layer, compiled with Adam.

    Args:
      input_shape: the spectrogram's frames, mel bins and 1 channel; the image zoo's CNNs take it
        as a one-channel image whose height is time and width is pitch.
      train_steps: the steps the step size decays over, with model.cosine_decay.
    """
    if model.name == AUDIONET:
        classifier = audionet.build_audionet(input_shape, class_count)
    elif model.name in zoo.MODELS:
        classifier = zoo.build(model.name, input_shape, class_count)
    else:
        raise ValueError(
            f"model.name {model.name!r}: expected {AUDIONET} or one of the image zoo's {', '.join(zoo.MODELS)}."
        )
    learning_rate = (
        keras.optimizers.schedules.CosineDecay(model.learning_rate, max(1, train_steps))
        if model.cosine_decay
        else model.learning_rate
    )
    inputs = keras.Input(input_shape, name=features.SPECTROGRAM_KEY)
    x = audionet.augmentation_layer(augmentation, model.seed)(inputs)
    built = keras.Model(inputs, classifier(x), name=f"{model.name}_classifier")
    built.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(),
        metrics=[keras.metrics.SparseCategoricalAccuracy()],
    )
    return built


def _serving_signatures(model: keras.Model, transform_output: TFTransformOutput, class_names: list[str]) -> dict:
    # Keep the Transform layer on the model so it is tracked and saved with it.
    model.tft_layer = transform_output.transform_features_layer()
    names = tf.constant(class_names)

    def classify(wav_files):
        # The label and the stored rate and length are not needed to prepare a recording.
        transformed = model.tft_layer({features.AUDIO_KEY: tf.reshape(wav_files, [-1, 1])})
        probabilities = model(transformed[features.SPECTROGRAM_KEY])
        class_id = tf.argmax(probabilities, axis=1)
        return {"probabilities": probabilities, "class_id": class_id, "class_name": tf.gather(names, class_id)}

    @tf.function(input_signature=[tf.TensorSpec(shape=[None], dtype=tf.string, name="examples")])
    def serve_examples(serialized_examples):
        parsed = tf.io.parse_example(serialized_examples, {features.AUDIO_KEY: tf.io.FixedLenFeature([], tf.string)})
        return classify(parsed[features.AUDIO_KEY])

    @tf.function(input_signature=[tf.TensorSpec(shape=[None], dtype=tf.string, name=features.AUDIO_KEY)])
    def serve_wav_files(wav_files):
        return classify(wav_files)

    return {"serving_default": serve_examples, SpokenDigitsConfig.json_signature: serve_wav_files}


def write_spectrogram_pngs(dataset, class_names: list[str], model_run_dir: str) -> list[str]:
    """One PNG per class found in the first batches of `dataset` (transformed features, label): the
    normalised log-mel spectrogram the model sees, time across, mel bands up. Returns the paths."""
    found: dict[int, np.ndarray] = {}
    for batch, labels in dataset.take(_SPECTROGRAM_BATCHES):
        spectrograms = batch[features.SPECTROGRAM_KEY].numpy()
        for spectrogram, label in zip(spectrograms, labels.numpy().reshape(-1)):
            found.setdefault(int(label), spectrogram[..., 0])
        if len(found) == len(class_names):
            break
    plt = training_record.pyplot()
    paths = []
    for label, spectrogram in sorted(found.items()):
        figure, axis = plt.subplots(figsize=(5, 3))
        image = axis.imshow(spectrogram.T, origin="lower", aspect="auto", cmap="magma")
        figure.colorbar(image, ax=axis, label="normalised log-mel")
        axis.set_title(f"'{class_names[label]}' (eval split)")
        axis.set_xlabel("frame")
        axis.set_ylabel("mel band")
        figure.tight_layout()
        path = os.path.join(model_run_dir, SPECTROGRAM_FILE.format(class_names[label]))
        with gfile.GFile(path, "wb") as f:
            figure.savefig(f, format="png", dpi=80)
        plt.close(figure)
        paths.append(path)
    return paths


def run_fn(fn_args: FnArgs) -> None:
    """Trains on the transformed train split, draws a few spectrograms, exports the SavedModel with both signatures."""
    config, transform_output, train, evaluation = training.prepare_training(
        fn_args, SpokenDigitsConfig, features.LABEL_KEY
    )
    model = build_classifier(
        config.model, config.augmentation, config.spectrogram_shape, len(config.class_names), config.train_steps
    )
    if fn_args.base_model:
        training.warm_start(model, fn_args.base_model)
    training.fit_and_record(model, train, evaluation, fn_args, config.epochs)
    write_spectrogram_pngs(evaluation, list(config.class_names), fn_args.model_run_dir)
    training.export_formats(model, fn_args)
    model.save(
        fn_args.serving_model_dir,
        save_format="tf",
        signatures=_serving_signatures(model, transform_output, list(config.class_names)),
    )


# The Tuner trains this same run_fn once per trial of a model search (components/models/tuning.py).
tuner_fn = tuning.tuner_fn_for(run_fn, SpokenDigitsConfig)
