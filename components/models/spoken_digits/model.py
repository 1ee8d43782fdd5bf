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
from components.models.spoken_digits import audionet, features, preprocessing
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
    mel_edges_hertz: tuple[float, float] = (preprocessing.LOWER_EDGE_HERTZ, 4000.0),
) -> keras.Model:
    """AudioNet or the image zoo's `model.name` behind the augmentation layer, compiled with Adam.

    Args:
      input_shape: the spectrogram's frames, mel bins and 1 channel; the image zoo's CNNs take it
        as a one-channel image whose height is time and width is pitch.
      train_steps: the steps the step size decays over, with model.cosine_decay.
      mel_edges_hertz: the spectrogram's lowest and highest mel frequency (`mel_edges_hertz(config)`),
        for the augmentation's vocal tract length warp.
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
    x = audionet.augmentation_layer(augmentation, model.seed, mel_edges_hertz)(inputs)
    built = keras.Model(inputs, classifier(x), name=f"{model.name}_classifier")
    built.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(),
        metrics=[keras.metrics.SparseCategoricalAccuracy()],
    )
    return built


def training_batches(batches: tf.data.Dataset, augmentation: AudioAugmentationConfig, seed: int) -> tf.data.Dataset:
    """The Trainer's batches of (spectrograms, labels), mixed up when `augmentation.mixup_alpha` is above 0
    (training only: evaluation and serving never see it). Mixup: the first half of each batch is paired
    with the second half, reversed; each pair becomes one spectrogram, l x + (1 - l) x', l drawn from
    Beta(alpha, alpha), entered twice, once with each label weighted l and 1 - l: the cross-entropy of the
    mixed label, with the batch's size and cost unchanged."""
    alpha = augmentation.mixup_alpha
    if not alpha:
        return batches

    def mix(seeds, inputs, labels):
        # The Trainer's inputs are the transformed features by name; a plain tensor is the spectrogram.
        spectrograms = inputs[features.SPECTROGRAM_KEY] if isinstance(inputs, dict) else inputs
        half = tf.shape(spectrograms)[0] // 2
        first, second = spectrograms[:half], tf.reverse(spectrograms[-half:], [0])
        first_labels, second_labels = labels[:half], tf.reverse(labels[-half:], [0])
        draws = [tf.random.stateless_gamma([half], seed=seeds[i], alpha=alpha) for i in (0, 1)]
        share = draws[0] / tf.maximum(draws[0] + draws[1], 1e-12)
        mixed = share[:, tf.newaxis, tf.newaxis, tf.newaxis] * first
        mixed += (1 - share[:, tf.newaxis, tf.newaxis, tf.newaxis]) * second
        mixed = tf.concat([mixed, mixed], 0)
        return (
            {features.SPECTROGRAM_KEY: mixed} if isinstance(inputs, dict) else mixed,
            tf.concat([first_labels, second_labels], 0),
            tf.concat([share, 1 - share], 0),
        )

    seeds = tf.data.Dataset.random(seed=seed).batch(4).map(lambda values: tf.reshape(values, [2, 2]))
    return tf.data.Dataset.zip((seeds, batches)).map(lambda s, batch: mix(s, *batch))


def mel_edges_hertz(config: SpokenDigitsConfig) -> tuple[float, float]:
    """The lowest and highest frequency of the Transform's mel bands."""
    return (config.lower_hertz, config.sample_rate / 2)


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
    config, transform_output, train, validation = training.prepare_training(
        fn_args, SpokenDigitsConfig, features.LABEL_KEY
    )
    model = build_classifier(
        config.model,
        config.augmentation,
        config.spectrogram_shape,
        len(config.class_names),
        config.train_steps,
        mel_edges_hertz(config),
    )
    train = training_batches(train, config.augmentation, config.model.seed)
    if fn_args.base_model:
        training.warm_start(model, fn_args.base_model)
    training.fit_and_record(model, train, validation, fn_args, config.epochs, early_stopping=config.early_stopping)
    write_spectrogram_pngs(validation, list(config.class_names), fn_args.model_run_dir)
    training.export_formats(model, fn_args)
    model.save(
        fn_args.serving_model_dir,
        save_format="tf",
        signatures=_serving_signatures(model, transform_output, list(config.class_names)),
    )


# The Tuner trains this same run_fn once per trial of a model search (components/models/tuning.py).
tuner_fn = tuning.tuner_fn_for(run_fn, SpokenDigitsConfig)
