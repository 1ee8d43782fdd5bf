"""AudioNet, the spoken digit pipeline's CNN over a log-mel spectrogram, and the spectrogram augmentation
that runs in front of any model in training only.

AudioNet, after the course assignment's spectrogram classifier: a spectrogram is an image whose
axes mean time and pitch, and a digit is a few syllables whose formants move in characteristic ways, wherever the
word sits in the clip and whoever says it. So:
  - three blocks of Conv 3x3, batch normalisation, ReLU and MaxPool 2x2 (16, 32, 64 filters): small
    kernels find local time-frequency shapes (formant onsets and glides, bursts, hiss); each block
    halves time and frequency, so a unit of the third block sees about 0.3 s and half the mel bands,
    and one of the last convolution most of the clip;
  - Conv 3x3 with 128 filters, batch normalisation and ReLU, then global average pooling: each
    feature is averaged over time and frequency, so the answer does not depend on where in the
    padded clip the word is, and a voice a little higher or lower moves features rather than
    the answer;
  - Dropout 0.3 and a Dense softmax. 99,162 weights for 10 classes (global pooling makes the count
    independent of the spectrogram's size): 2,000 recordings train it in a minute or two on 2
    cores, where the image zoo's VGG16 and ResNet18 have millions of weights for them. Batch
    normalisation after every convolution lets Adam take large steps from the start.
What makes an unseen voice work is mostly in Transform (preprocessing.py): each recording's
loudness evened out and its own mean spectrum subtracted; and in the augmentation below (speed and
vocal tract length changes, time and pitch shifts, noise, masks). Measured, each voice held out in
turn: benchmarks/RESULTS.md#spoken_digits_loso.
"""

import tensorflow as tf
import tf_keras as keras
from tf_keras import layers

from pipelines.spoken_digits.config import AudioAugmentationConfig

BLOCK_FILTERS = (16, 32, 64)
TOP_FILTERS = 128
DROPOUT = 0.3


def _conv_bn_relu(x, filters: int):
    x = layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    return layers.Activation("relu")(x)


def build_audionet(input_shape: tuple[int, int, int], class_count: int) -> keras.Model:
    """AudioNet (above): spectrogram [frames, mel bins, 1] -> class probabilities; uncompiled."""
    inputs = keras.Input(input_shape, name="spectrogram")
    x = inputs
    for filters in BLOCK_FILTERS:
        x = _conv_bn_relu(x, filters)
        # A pooling window larger than what is left would empty the map: such a block keeps its size.
        if min(x.shape[1:3]) >= 2:
            x = layers.MaxPooling2D(2)(x)
    x = _conv_bn_relu(x, TOP_FILTERS)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(DROPOUT)(x)
    outputs = layers.Dense(class_count, activation="softmax", name="probabilities")(x)
    return keras.Model(inputs, outputs, name="audionet")


# Registered so that the model loads back from HDF5 (components/model_inspection.py) without custom_objects.
@keras.saving.register_keras_serializable(package="tfpipe")
class SpectrogramAugmentation(keras.layers.Layer):
    """Random changes to a batch of spectrograms [batch, frames, bins, channels], in training only:
    a speed change (the time axis stretched or squeezed about its middle), a vocal tract length change
    (the frequency axis warped: every frequency multiplied by one factor), a time shift (wrapping
    round), a shift of the mel bands, Gaussian noise, then time masks and frequency masks (SpecAugment)
    that set bands to 0, each band's train mean after Transform's normalisation. Outside training
    (evaluation, serving) the input passes unchanged.

    `mel_edges_hertz`: the lowest and highest frequency of the mel bands, which the warp needs to know
    what frequency each band holds.
    """

    def __init__(
        self,
        time_shift_fraction: float,
        frequency_shift_bins: int,
        noise_stddev: float,
        time_masks: int,
        time_mask_frames: int,
        frequency_masks: int,
        frequency_mask_bins: int,
        seed: int,
        speed_range: float = 0.0,
        warp_range: float = 0.0,
        mel_edges_hertz: tuple[float, float] = (20.0, 4000.0),
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.speed_range = speed_range
        self.warp_range = warp_range
        self.mel_edges_hertz = tuple(mel_edges_hertz)
        self.time_shift_fraction = time_shift_fraction
        self.frequency_shift_bins = frequency_shift_bins
        self.noise_stddev = noise_stddev
        self.time_masks = time_masks
        self.time_mask_frames = time_mask_frames
        self.frequency_masks = frequency_masks
        self.frequency_mask_bins = frequency_mask_bins
        self.seed = seed
        self._random = tf.random.Generator.from_seed(seed)

    def call(self, inputs, training=None):
        return keras.backend.in_train_phase(lambda: self._augment(inputs), inputs, training=training)

    def _augment(self, x):
        batch, frames = tf.shape(x)[0], x.shape[1]
        if self.speed_range:
            # Faster speech (factor above 1) takes its frames from further out from the middle.
            speed = self._random.uniform([batch, 1], 1 - self.speed_range, 1 + self.speed_range)
            middle = (frames - 1) / 2
            positions = middle + (tf.range(frames, dtype=tf.float32)[tf.newaxis, :] - middle) * speed
            x = _interpolate(x, positions)
        if self.warp_range:
            # A vocal tract shorter by a factor moves every formant up by it: band i holds what the
            # original voice had at its frequency divided by the factor.
            factor = self._random.uniform([batch, 1], 1 - self.warp_range, 1 + self.warp_range)
            x = tf.transpose(
                _interpolate(tf.transpose(x, [0, 2, 1, 3]), self._warped_bins(x.shape[2], factor)), [0, 2, 1, 3]
            )
        max_shift = round(self.time_shift_fraction * frames)
        if max_shift:
            shifts = self._random.uniform([batch], -max_shift, max_shift + 1, dtype=tf.int32)
            order = tf.math.floormod(tf.range(frames)[tf.newaxis, :] - shifts[:, tf.newaxis], frames)
            x = tf.gather(x, order, batch_dims=1)
        if self.frequency_shift_bins:
            # A voice higher or lower: every band moves up or down, the edge bands repeating.
            bins = x.shape[2]
            shifts = self._random.uniform(
                [batch], -self.frequency_shift_bins, self.frequency_shift_bins + 1, dtype=tf.int32
            )
            order = tf.clip_by_value(tf.range(bins)[tf.newaxis, :] - shifts[:, tf.newaxis], 0, bins - 1)
            x = tf.transpose(tf.gather(tf.transpose(x, [0, 2, 1, 3]), order, batch_dims=1), [0, 2, 1, 3])
        if self.noise_stddev:
            x = x + self._random.normal(tf.shape(x), stddev=self.noise_stddev)
        for _ in range(self.time_masks if self.time_mask_frames else 0):
            x = self._mask(x, axis=1, widest=self.time_mask_frames)
        for _ in range(self.frequency_masks if self.frequency_mask_bins else 0):
            x = self._mask(x, axis=2, widest=self.frequency_mask_bins)
        return x

    def _warped_bins(self, bins: int, factor):
        """[batch, bins]: the fractional mel band each band takes its value from, under `factor` [batch, 1]."""
        low, high = (_mel(hertz) for hertz in self.mel_edges_hertz)
        width = (high - low) / (bins + 1)
        centres = low + width * tf.range(1, bins + 1, dtype=tf.float32)[tf.newaxis, :]
        return (_mel(_hertz(centres) / factor) - low) / width - 1

    def _mask(self, x, axis: int, widest: int):
        """Sets a band of 0 to `widest` consecutive positions along `axis` to 0, a different band per example."""
        batch, size = tf.shape(x)[0], x.shape[axis]
        widest = min(widest, size)
        width = self._random.uniform([batch], 0, widest + 1, dtype=tf.int32)
        start = self._random.uniform([batch], 0, 2**30, dtype=tf.int32) % (size - width + 1)
        positions = tf.range(size)[tf.newaxis, :]
        inside = (positions >= start[:, tf.newaxis]) & (positions < (start + width)[:, tf.newaxis])
        inside = inside[:, :, tf.newaxis, tf.newaxis] if axis == 1 else inside[:, tf.newaxis, :, tf.newaxis]
        return tf.where(inside, tf.zeros_like(x), x)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "time_shift_fraction": self.time_shift_fraction,
            "frequency_shift_bins": self.frequency_shift_bins,
            "noise_stddev": self.noise_stddev,
            "time_masks": self.time_masks,
            "time_mask_frames": self.time_mask_frames,
            "frequency_masks": self.frequency_masks,
            "frequency_mask_bins": self.frequency_mask_bins,
            "seed": self.seed,
            "speed_range": self.speed_range,
            "warp_range": self.warp_range,
            "mel_edges_hertz": self.mel_edges_hertz,
        }


def _mel(hertz):
    """The HTK mel scale tf.signal.linear_to_mel_weight_matrix uses."""
    return 1127.0 * tf.math.log(1.0 + hertz / 700.0)


def _hertz(mel):
    return 700.0 * (tf.exp(mel / 1127.0) - 1.0)


def _interpolate(x, positions):
    """x [batch, n, ...] read at fractional `positions` [batch, m] along its second axis (linear
    interpolation; positions outside 0 to n-1 take the edge's value) -> [batch, m, ...]."""
    size = x.shape[1]
    positions = tf.clip_by_value(positions, 0.0, size - 1.0)
    below = tf.floor(positions)
    weight = tf.reshape(positions - below, [tf.shape(positions)[0], -1] + [1] * (len(x.shape) - 2))
    below = tf.cast(below, tf.int32)
    above = tf.minimum(below + 1, size - 1)
    return tf.gather(x, below, batch_dims=1) * (1 - weight) + tf.gather(x, above, batch_dims=1) * weight


def augmentation_layer(
    augmentation: AudioAugmentationConfig, seed: int, mel_edges_hertz: tuple[float, float] = (20.0, 4000.0)
) -> SpectrogramAugmentation:
    """The configured augmentation; `seed` seeds its random changes; `mel_edges_hertz`: the spectrogram's
    lowest and highest mel frequency."""
    return SpectrogramAugmentation(
        time_shift_fraction=augmentation.time_shift_fraction,
        frequency_shift_bins=augmentation.frequency_shift_bins,
        noise_stddev=augmentation.noise_stddev,
        time_masks=augmentation.time_masks,
        time_mask_frames=augmentation.time_mask_frames,
        frequency_masks=augmentation.frequency_masks,
        frequency_mask_bins=augmentation.frequency_mask_bins,
        seed=seed,
        speed_range=augmentation.speed_range,
        warp_range=augmentation.warp_range,
        mel_edges_hertz=mel_edges_hertz,
        name="augmentation",
    )
