"""Transform module for spoken digits: WAV bytes -> a normalised log-mel spectrogram, all in the graph.

Each recording is decoded (`tf.audio.decode_wav`, 16-bit PCM, first channel), scaled so that its
loudest sample is +-1, its middle kept or zeros added on both sides to a fixed number of samples,
cut into Hann-windowed frames (`tf.signal.stft`), the magnitudes pooled into mel bands
(`tf.signal.linear_to_mel_weight_matrix`, from `lower_hertz`) and logged; optionally each frame
smoothed to its spectral envelope (`cepstral_coefficients`); then normalised by the recording's own
statistics over its speech (`recording_normalisation`: its mean spectrum subtracted, mean_normalise,
or each band's mean and deviation, mean_variance_normalise). Each mel band is then standardised with
the mean and variance of that band over the train split (`tft.mean`, `tft.var`: Transform's analyzers
see the train split only).

The same graph runs inside the serving signatures, so a served WAV of any length is prepared
exactly as the training recordings were; one at another sample rate fails the request rather
than being read at the wrong speed.
"""

import dataclasses
import math

import tensorflow as tf
import tensorflow_transform as tft

from components.models.spoken_digits import features
from pipelines.spoken_digits.config import SpectrogramConfig

# Mel bands start here: below it a telephone-rate recording holds hum, not speech.
LOWER_EDGE_HERTZ = 20.0
# Added to the mel magnitudes before the log: about the quietest frames of the peak-normalised FSDD
# recordings (their 1% quantile is 0.015), so zero padding sits just below real silence, not far off.
LOG_OFFSET = 1e-2
# A frame whose loudest mel band is no more than this above the log of LOG_OFFSET (a factor of 1.6)
# is silence (padding, or the quiet edges of a recording), not speech.
SILENCE_LEVEL = math.log(LOG_OFFSET) + 0.5
# Keeps a band of constant value (variance 0) from dividing by zero.
VARIANCE_FLOOR = 1e-6
# Keeps a silent recording (all zeros) from dividing by zero when its loudness is evened out.
PEAK_FLOOR = 1e-4


def preprocessing_fn(inputs: dict, custom_config: dict) -> dict:
    """`custom_config`: SpectrogramConfig's (sample rate, samples, frame sizes, mel bins)."""
    spectrogram = SpectrogramConfig.from_custom_config(custom_config)
    log_mel = recording_spectrograms(tf.reshape(inputs[features.AUDIO_KEY], [-1]), spectrogram)
    # One mean and variance per mel band, over every frame of every train recording.
    bands = tf.reshape(log_mel, [-1, spectrogram.mel_bins])
    mean = tft.mean(bands, reduce_instance_dims=False)
    variance = tft.var(bands, reduce_instance_dims=False)
    normalised = (log_mel - mean) * tf.math.rsqrt(variance + VARIANCE_FLOOR)
    return {
        features.SPECTROGRAM_KEY: normalised[..., tf.newaxis],
        features.LABEL_KEY: inputs[features.LABEL_KEY],
    }


def recording_spectrograms(encoded: tf.Tensor, spectrogram: SpectrogramConfig) -> tf.Tensor:
    """A batch of WAV files' bytes [batch] -> [batch, frames, mel bins]: each recording's log-mel spectrogram
    normalised by its own statistics (`spectrogram.recording_normalisation`), before the train split's."""
    sizes = {field.name: getattr(spectrogram, field.name) for field in dataclasses.fields(SpectrogramConfig)}
    normalisation = RECORDING_NORMALISATIONS[sizes.pop("recording_normalisation")]
    envelope = spectral_envelope(sizes.pop("cepstral_coefficients"))
    return normalisation(envelope(log_mel_spectrogram(encoded, **sizes)))


def decode(encoded: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """One WAV file's bytes -> (float32 samples in [-1, 1] of its first channel, sample rate).

    AudioExampleGen admits a recording only if this decodes it, so Transform never meets one it cannot read.
    """
    audio, sample_rate = tf.audio.decode_wav(encoded, desired_channels=1)
    return audio[:, 0], sample_rate


def fit_length(waveform: tf.Tensor, samples: int) -> tf.Tensor:
    """The middle `samples` of a longer recording; a shorter one centred between zeros."""
    length = tf.shape(waveform)[0]
    start = tf.maximum(length - samples, 0) // 2
    kept = waveform[start : start + samples]
    missing = samples - tf.shape(kept)[0]
    before = missing // 2
    return tf.ensure_shape(tf.pad(kept, [[before, missing - before]]), [samples])


def peak_normalise(waveform: tf.Tensor) -> tf.Tensor:
    """The recording scaled so that its loudest sample is +-1: FSDD's five voices were recorded at
    levels 20 dB apart (median peaks from 0.03 to 0.43), which the model should not have to learn."""
    return waveform / tf.maximum(tf.reduce_max(tf.abs(waveform)), PEAK_FLOOR)


def waveforms(encoded: tf.Tensor, sample_rate: int, samples: int) -> tf.Tensor:
    """A batch of WAV files' bytes [batch] -> float32 [batch, samples], each peak-normalised, then cut or
    padded; a file at another rate is an error."""

    def one(wav_bytes):
        waveform, rate = decode(wav_bytes)
        check = tf.debugging.assert_equal(
            rate, sample_rate, message=f"expected WAV recordings sampled at {sample_rate} Hz"
        )
        with tf.control_dependencies([check]):
            return fit_length(peak_normalise(waveform), samples)

    return tf.map_fn(one, encoded, fn_output_signature=tf.TensorSpec([samples], tf.float32))


def log_mel_spectrogram(
    encoded: tf.Tensor,
    sample_rate: int,
    samples: int,
    frame_length: int,
    frame_step: int,
    fft_length: int,
    mel_bins: int,
    lower_hertz: float = LOWER_EDGE_HERTZ,
) -> tf.Tensor:
    """A batch of WAV files' bytes [batch] -> float32 [batch, frames, mel_bins]: log(mel magnitude + LOG_OFFSET).

    Frames of `frame_length` samples every `frame_step`, Hann-windowed, `fft_length`-point FFT;
    mel bands (HTK scale) from `lower_hertz` to half the sample rate.
    """
    stft = tf.signal.stft(
        waveforms(encoded, sample_rate, samples),
        frame_length=frame_length,
        frame_step=frame_step,
        fft_length=fft_length,
        window_fn=tf.signal.hann_window,
    )
    mel_matrix = tf.signal.linear_to_mel_weight_matrix(
        num_mel_bins=mel_bins,
        num_spectrogram_bins=fft_length // 2 + 1,
        sample_rate=sample_rate,
        lower_edge_hertz=lower_hertz,
        upper_edge_hertz=sample_rate / 2,
    )
    mel = tf.tensordot(tf.abs(stft), mel_matrix, axes=1)
    return tf.math.log(mel + LOG_OFFSET)


def spectral_envelope(coefficients: int):
    """[batch, frames, mel bins] -> the same, each frame's log-mel spectrum smoothed to its envelope by keeping
    its first `coefficients` cepstral coefficients (the DCT over the mel bands, as MFCCs are made, and back):
    the formants that make a digit stay, the ripple of a voice's pitch harmonics goes. 0: unchanged."""

    def smooth(log_mel: tf.Tensor) -> tf.Tensor:
        if not coefficients or coefficients >= log_mel.shape[-1]:
            return log_mel
        cepstrum = tf.signal.dct(log_mel, type=2, norm="ortho")
        kept = tf.concat([cepstrum[..., :coefficients], tf.zeros_like(cepstrum[..., coefficients:])], axis=-1)
        return tf.signal.idct(kept, type=2, norm="ortho")

    return smooth


def mean_normalise(log_mel: tf.Tensor) -> tf.Tensor:
    """[batch, frames, mel bins] -> the same, each recording's own mean spectrum over its speech frames
    subtracted from those frames (cepstral mean normalisation: what a microphone and a voice colour
    every frame with goes, what changes from frame to frame stays). Silent frames are shifted by the
    average of that mean only, so they stay flat and as far below the speech as they were."""
    speech = tf.reduce_max(log_mel, axis=2, keepdims=True) > SILENCE_LEVEL
    weights = tf.cast(speech, log_mel.dtype)
    count = tf.maximum(tf.reduce_sum(weights, axis=1, keepdims=True), 1.0)
    mean = tf.reduce_sum(log_mel * weights, axis=1, keepdims=True) / count
    level = tf.reduce_mean(mean, axis=2, keepdims=True)
    return tf.where(speech, log_mel - mean, log_mel - level)


def mean_variance_normalise(log_mel: tf.Tensor) -> tf.Tensor:
    """[batch, frames, mel bins] -> the same, each mel band of each recording standardised by its own mean
    and standard deviation over the recording's speech frames (cepstral mean and variance normalisation):
    besides a microphone's and a voice's fixed colouring, how widely each band swings in that voice goes.
    A band that does not vary is divided by VARIANCE_FLOOR's root at most. Silent frames are shifted
    by the average of the mean and scaled by the average deviation, so they stay flat and below the speech."""
    speech = tf.reduce_max(log_mel, axis=2, keepdims=True) > SILENCE_LEVEL
    weights = tf.cast(speech, log_mel.dtype)
    count = tf.maximum(tf.reduce_sum(weights, axis=1, keepdims=True), 1.0)
    mean = tf.reduce_sum(log_mel * weights, axis=1, keepdims=True) / count
    variance = tf.reduce_sum(tf.square(log_mel - mean) * weights, axis=1, keepdims=True) / count
    deviation = tf.sqrt(variance + VARIANCE_FLOOR)
    level = tf.reduce_mean(mean, axis=2, keepdims=True)
    spread = tf.reduce_mean(deviation, axis=2, keepdims=True)
    return tf.where(speech, (log_mel - mean) / deviation, (log_mel - level) / spread)


# recording_normalisation's values (pipelines/spoken_digits/config.py): what each recording's log-mel
# spectrogram is normalised by, its own statistics only, before the train split's per-band standardisation.
RECORDING_NORMALISATIONS = {"mean": mean_normalise, "mean_variance": mean_variance_normalise}
