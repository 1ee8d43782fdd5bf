"""Spoken digits without a pipeline run: FileExampleGen's file-name layout and split rules with the WAV
reader on real FSDD recordings and bad files, the Transform's spectrogram against a NumPy/SciPy
reference, normalisation statistics from the train split only, the models and the augmentation."""

import dataclasses
import io
import shutil
import wave

import numpy as np
import pytest
import scipy.io.wavfile
import scipy.signal
import tensorflow as tf
import tensorflow_transform.beam as tft_beam
from conftest import REPO_ROOT
from tensorflow_transform.tf_metadata import dataset_metadata, schema_utils
from test_digits_ingestion import ingest

from components.example_gen import layouts
from components.models.spoken_digits import audionet, features, preprocessing
from components.models.spoken_digits import ingest as reader
from components.models.spoken_digits import model as spoken_model
from components.models.spoken_digits.model import build_classifier
from pipelines.config import ConfigError, apply_overrides
from pipelines.registry import config_for
from pipelines.spoken_digits.config import AudioAugmentationConfig, AudioModelConfig

RECORDINGS = REPO_ROOT / "data" / "spoken_digits"
CLASSES = ", ".join("0123456789")


def _wav(samples: np.ndarray, rate: int = 8000, channels: int = 1) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as recording:
        recording.setnchannels(channels)
        recording.setsampwidth(samples.dtype.itemsize)
        recording.setframerate(rate)
        recording.writeframes(samples.tobytes())
    return buffer.getvalue()


def _frames(name: str) -> int:
    with wave.open(str(RECORDINGS / name)) as recording:
        return recording.getnframes()


def _copy(folder, names) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        shutil.copyfile(RECORDINGS / name, folder / name)


def _names(digits, speakers, takes) -> list[str]:
    return [f"{digit}_{speaker}_{take}.wav" for digit in digits for speaker in speakers for take in takes]


def _value(example: tf.train.Example, key: str):
    feature = example.features.feature[key]
    return (feature.bytes_list.value or feature.int64_list.value)[0]


def _column(ingested, split: str, key: str) -> list:
    return sorted(_value(example, key) for example in ingested.splits[split])


def test_the_shipped_recordings_are_the_named_files_layout():
    assert len(list(RECORDINGS.glob("*.wav"))) == 2500
    assert layouts.detect(RECORDINGS) == layouts.Layout(layouts.NAMED_FILES, {layouts.SINGLE_SPLIT: "*"})


def test_named_files_split_by_speaker_with_bad_files_listed(tmp_path):
    data_dir = tmp_path / "data"
    _copy(data_dir, _names(range(10), ("george", "jackson", "theo"), (0, 7)))
    whole = (RECORDINGS / "5_jackson_9.wav").read_bytes()
    data_chunk = len(whole) - 44  # FSDD's files: a 44-byte header, then the samples
    bad = {
        "1_bad_0.wav": b"",
        "2_bad_0.wav": whole[: len(whole) // 2],
        "3_bad_0.wav": (REPO_ROOT / "data" / "digits" / "images" / "0000.png").read_bytes(),
        "4_bad_0.wav": _wav(np.zeros(800, np.int16), rate=16000),
        "5_bad_0.wav": _wav(np.zeros(0, np.int16)),
        "6_bad_0.wav": _wav(np.full(800, 128, np.uint8)),
        "notes_on_jackson.wav": whole,
    }
    for name, content in bad.items():
        (data_dir / name).write_bytes(content)
    (data_dir / ".DS_Store").write_bytes(b"\0")  # hidden files are not inputs
    ingested = ingest(data_dir, tmp_path / "out", pipeline="spoken_digits")

    assert ingested.rejected == [
        "1_bad_0.wav: is empty",
        f"2_bad_0.wav: is truncated (its data chunk declares {data_chunk} bytes, {len(whole) // 2 - 44} are present)",
        "3_bad_0.wav: is not a WAV file (no RIFF/WAVE header)",
        "4_bad_0.wav: is sampled at 16000 Hz; expected 8000 Hz",
        "5_bad_0.wav: holds no samples",
        "6_bad_0.wav: is not 16-bit PCM (format 1, 8 bits per sample)",
        f"notes_on_jackson.wav: its name does not start with a class name and '_' ({CLASSES})",
    ]
    # The default split: theo, a voice never trained on, is the eval split.
    assert set(_column(ingested, "eval", features.SPEAKER_KEY)) == {b"theo"}
    assert set(_column(ingested, "train", features.SPEAKER_KEY)) == {b"george", b"jackson"}
    assert ingested.labels("eval") == sorted(list(range(10)) * 2)
    assert set(_column(ingested, "eval", features.TAKE_KEY)) == {b"0", b"7"}
    (example,) = [
        e for e in ingested.splits["eval"] if _value(e, features.LABEL_KEY) == 4 and _value(e, "take") == b"7"
    ]
    assert _value(example, features.AUDIO_KEY) == (RECORDINGS / "4_theo_7.wav").read_bytes()
    assert _value(example, features.SAMPLE_RATE_KEY) == 8000
    assert _value(example, features.SAMPLES_KEY) == _frames("4_theo_7.wav")


def test_the_fsdd_split_holds_out_recordings_0_to_4_of_everyone(tmp_path):
    data_dir = tmp_path / "data"
    _copy(data_dir, _names((1, 8), ("nicolas", "yweweler"), range(3, 8)))
    ingested = ingest(data_dir, tmp_path / "out", "split=fsdd", pipeline="spoken_digits")
    assert set(_column(ingested, "eval", features.TAKE_KEY)) == {b"3", b"4"}
    assert set(_column(ingested, "train", features.TAKE_KEY)) == {b"5", b"6", b"7"}
    assert set(_column(ingested, "eval", features.SPEAKER_KEY)) == {b"nicolas", b"yweweler"}
    assert ingested.rejected == []


def test_class_folders_given_split_read_the_speaker_from_names_that_carry_it(tmp_path):
    data_dir = tmp_path / "data"
    for split, speaker in (("train", "jackson"), ("test", "theo")):
        for digit in (2, 9):
            _copy(data_dir / split / str(digit), _names([digit], [speaker], (10, 11)))
    shutil.copyfile(RECORDINGS / "9_theo_12.wav", data_dir / "test" / "9" / "my recording.wav")
    config = config_for("spoken_digits")
    with pytest.raises(ConfigError, match="comes split into train and test parts .*use --set split=given"):
        apply_overrides(config, [f"data_dir={data_dir}"]).check()

    ingested = ingest(data_dir, tmp_path / "out", "split=given", pipeline="spoken_digits")
    assert ingested.labels("train") == [2, 2, 9, 9]
    assert ingested.labels("eval") == [2, 2, 9, 9, 9]
    assert _column(ingested, "eval", features.SPEAKER_KEY) == [b"", b"theo", b"theo", b"theo", b"theo"]


def test_folders_of_named_files_are_given_splits(tmp_path):
    _copy(tmp_path / "train", _names([0], ["george"], [1]))
    _copy(tmp_path / "eval", _names([0], ["theo"], [1]))
    assert layouts.detect(tmp_path) == layouts.Layout(layouts.NAMED_FILES, {"train": "train/*", "eval": "eval/*"})


def test_an_eval_speaker_with_no_recordings_is_refused_before_anything_loads(tmp_path):
    data_dir = tmp_path / "data"
    _copy(data_dir, _names([3], ["george"], [1, 2]))
    with pytest.raises(ConfigError, match="no recordings of bob; its file names give the speakers george"):
        ingest(data_dir, tmp_path / "out", "eval_speakers=bob", pipeline="spoken_digits")


def test_the_reader_takes_the_first_channel_of_a_stereo_file():
    stereo = _wav(np.arange(20, dtype=np.int16), channels=2)
    assert reader.read(stereo, {"sample_rate": 8000, "max_seconds": 600}) == {
        features.SAMPLE_RATE_KEY: 8000,
        features.SAMPLES_KEY: 10,
    }
    waveform, _ = preprocessing.decode(stereo)
    np.testing.assert_array_equal(waveform.numpy() * 32768, np.arange(0, 20, 2))


# --- The Transform's spectrogram against a NumPy/SciPy reference. ---


def _hz_to_mel(hertz):
    return 1127.0 * np.log1p(np.asarray(hertz) / 700.0)


def _mel_matrix(mel_bins: int, fft_length: int, rate: int, lower: float, upper: float) -> np.ndarray:
    """Triangular filters equally spaced on the HTK mel scale, over the FFT bins (DC excluded)."""
    bin_mels = _hz_to_mel(np.linspace(0, rate / 2, fft_length // 2 + 1))[1:, np.newaxis]
    edges = np.linspace(_hz_to_mel(lower), _hz_to_mel(upper), mel_bins + 2)
    left, centre, right = edges[:-2], edges[1:-1], edges[2:]
    weights = np.maximum(0, np.minimum((bin_mels - left) / (centre - left), (right - bin_mels) / (right - centre)))
    return np.vstack([np.zeros((1, mel_bins)), weights])


def _reference_log_mel(path, sample_rate, samples, frame_length, frame_step, fft_length, mel_bins) -> np.ndarray:
    rate, pcm = scipy.io.wavfile.read(path)
    assert rate == sample_rate
    waveform = pcm.astype(np.float64) / 32768
    waveform /= max(np.abs(waveform).max(), preprocessing.PEAK_FLOOR)
    if len(waveform) >= samples:
        start = (len(waveform) - samples) // 2
        waveform = waveform[start : start + samples]
    else:
        missing = samples - len(waveform)
        waveform = np.pad(waveform, (missing // 2, missing - missing // 2))
    frames = np.lib.stride_tricks.sliding_window_view(waveform, frame_length)[::frame_step]
    window = scipy.signal.get_window("hann", frame_length)  # periodic, as tf.signal.hann_window
    magnitudes = np.abs(np.fft.rfft(frames * window, n=fft_length))
    mel = magnitudes @ _mel_matrix(mel_bins, fft_length, rate, preprocessing.LOWER_EDGE_HERTZ, rate / 2)
    return np.log(mel + preprocessing.LOG_OFFSET)


@pytest.mark.parametrize("name", ["3_nicolas_12.wav", "7_theo_36.wav"], ids=["padded", "cut"])
def test_the_log_mel_spectrogram_matches_a_numpy_scipy_reference(name):
    params = dataclasses.asdict(config_for("spoken_digits").transform_config())
    for not_sizes in ("recording_normalisation", "lower_hertz", "cepstral_coefficients"):
        params.pop(not_sizes)
    got = preprocessing.log_mel_spectrogram(tf.constant([(RECORDINGS / name).read_bytes()]), **params).numpy()[0]
    expected = _reference_log_mel(RECORDINGS / name, **params)
    assert got.shape == expected.shape == (49, 32)
    np.testing.assert_allclose(got, expected, atol=2e-3)


def test_mean_normalisation_centres_each_band_over_the_speech_frames():
    rng = np.random.default_rng(0)
    silence = np.log(preprocessing.LOG_OFFSET)
    log_mel = np.full((1, 6, 3), silence)
    log_mel[0, 1:5] = rng.normal(0, 1, (4, 3))
    got = preprocessing.mean_normalise(tf.constant(log_mel, tf.float32)).numpy()[0]
    mean = log_mel[0, 1:5].mean(axis=0)
    np.testing.assert_allclose(got[1:5], log_mel[0, 1:5] - mean, atol=1e-5)
    np.testing.assert_allclose(got[[0, 5]], silence - mean.mean(), atol=1e-5)


def test_mean_variance_normalisation_ignores_each_bands_gain_and_offset():
    """A louder or quieter band (an offset in log-mel: a microphone's or a voice's colouring) and a band
    that swings more or less (a scale) give the same features, over the speech frames."""
    rng = np.random.default_rng(0)
    log_mel = np.full((1, 8, 4), np.log(preprocessing.LOG_OFFSET))
    log_mel[0, 1:7] = rng.normal(2, 1, (6, 4))
    coloured = log_mel.copy()
    coloured[0, 1:7] = coloured[0, 1:7] * np.array([0.5, 1.0, 2.0, 3.0]) + np.array([1.0, -0.5, 0.0, 4.0])
    normalise = preprocessing.mean_variance_normalise
    got, expected = (normalise(tf.constant(x, tf.float32)).numpy()[0] for x in (coloured, log_mel))
    np.testing.assert_allclose(got[1:7], expected[1:7], atol=1e-4)
    np.testing.assert_allclose(expected[1:7].mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(expected[1:7].std(axis=0), 1, atol=1e-3)
    assert np.ptp(got[[0, 7]]) < 1e-5 and got[0, 0] < got[1:7].min()  # silence flat, below the speech


def test_the_spectral_envelope_keeps_the_formants_and_drops_the_harmonics_ripple():
    """A smooth spectrum (two formant-like bumps) with a pitch harmonics' ripple across the bands comes back
    as the smooth spectrum; 0 coefficients changes nothing."""
    bands = np.arange(32)
    formants = 2 * np.exp(-(((bands - 6) / 3) ** 2)) + np.exp(-(((bands - 18) / 4) ** 2))
    rippled = np.tile(formants + 0.5 * np.cos(np.pi * bands), (1, 3, 1)).astype(np.float32)
    smooth = preprocessing.spectral_envelope(12)(tf.constant(rippled)).numpy()
    # The ripple is 0.5 everywhere; what is left of it is least at the middle bands, most at the edges.
    assert np.abs(smooth - formants).mean() < 0.1 and np.abs(smooth - formants).max() < 0.25
    np.testing.assert_array_equal(preprocessing.spectral_envelope(0)(tf.constant(rippled)).numpy(), rippled)


def test_the_recording_normalisation_is_the_configs():
    wav = (RECORDINGS / "3_nicolas_12.wav").read_bytes()
    config = config_for("spoken_digits")
    spectrograms = {
        name: preprocessing.recording_spectrograms(
            tf.constant([wav]), apply_overrides(config, [f"recording_normalisation={name}"]).transform_config()
        ).numpy()[0]
        for name in ("mean", "mean_variance")
    }
    params = dataclasses.asdict(config.transform_config())
    params.pop("recording_normalisation")
    params.pop("cepstral_coefficients")
    log_mel = preprocessing.log_mel_spectrogram(tf.constant([wav]), **params)
    np.testing.assert_allclose(spectrograms["mean"], preprocessing.mean_normalise(log_mel).numpy()[0])
    np.testing.assert_allclose(spectrograms["mean_variance"], preprocessing.mean_variance_normalise(log_mel).numpy()[0])


# --- Normalisation statistics from the train split only, through TFT's analyzers. ---

SMALL = {"sample_rate": 8000, "samples": 1600, "frame_length": 256, "frame_step": 128, "fft_length": 256, "mel_bins": 8}


def _tone(hertz: float, seconds: float, amplitude: float = 0.5) -> bytes:
    time = np.arange(int(seconds * 8000)) / 8000
    return _wav(np.round(amplitude * 32767 * np.sin(2 * np.pi * hertz * time)).astype(np.int16))


def _spectrograms(wav_files: list[bytes]) -> np.ndarray:
    return preprocessing.mean_normalise(preprocessing.log_mel_spectrogram(tf.constant(wav_files), **SMALL)).numpy()


def test_normalisation_statistics_come_from_the_train_split_only(tmp_path):
    train = [_tone(300, 0.1), _tone(900, 0.15), _tone(2000, 0.12)]
    evaluation = [_tone(3500, 0.3, amplitude=0.05)]  # nothing like the train recordings, and longer
    spec = {
        features.AUDIO_KEY: tf.io.FixedLenFeature([], tf.string),
        features.LABEL_KEY: tf.io.FixedLenFeature([], tf.int64),
    }
    metadata = dataset_metadata.DatasetMetadata(schema_utils.schema_from_feature_spec(spec))
    rows = lambda files: [{features.AUDIO_KEY: f, features.LABEL_KEY: 1} for f in files]  # noqa: E731
    with tft_beam.Context(temp_dir=str(tmp_path), force_tf_compat_v1=False):
        transform_fn = (rows(train), metadata) | tft_beam.AnalyzeDataset(
            lambda inputs: preprocessing.preprocessing_fn(
                inputs, {**SMALL, "lower_hertz": 20.0, "cepstral_coefficients": 0, "recording_normalisation": "mean"}
            )
        )
        (transformed, _) = ((rows(evaluation), metadata), transform_fn) | tft_beam.TransformDataset()

    (row,) = transformed
    bands = _spectrograms(train).reshape(-1, SMALL["mel_bins"])
    expected = (_spectrograms(evaluation)[0] - bands.mean(axis=0)) / np.sqrt(
        bands.var(axis=0) + preprocessing.VARIANCE_FLOOR
    )
    got = np.asarray(row[features.SPECTROGRAM_KEY]).reshape(expected.shape)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-3)
    # Statistics over train and eval together would give another answer.
    everything = _spectrograms(train + evaluation).reshape(-1, SMALL["mel_bins"])
    assert not np.allclose(got, (_spectrograms(evaluation)[0] - everything.mean(axis=0)), atol=1e-2)


# --- Models and augmentation. ---


@pytest.mark.parametrize("name", ["audionet", "lenet5", "baseline", "lstm_rows"])
def test_audionet_and_the_image_zoo_classify_spectrograms(name):
    config = config_for("spoken_digits")
    shape = config.spectrogram_shape
    model = build_classifier(AudioModelConfig(name=name), AudioAugmentationConfig(), shape, 10, train_steps=10)
    spectrograms = np.random.default_rng(0).normal(size=(2, *shape)).astype(np.float32)
    probabilities = model(spectrograms, training=False).numpy()
    assert probabilities.shape == (2, 10)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)


def test_audionet_is_small():
    assert audionet.build_audionet((49, 32, 1), 10).count_params() == 99162


def test_an_unknown_model_is_one_sentence():
    with pytest.raises(ValueError, match="model.name 'wavenet': expected audionet or one of the image zoo's mlp"):
        build_classifier(AudioModelConfig(name="wavenet"), AudioAugmentationConfig(), (49, 32, 1), 10, train_steps=10)


def test_augmentation_changes_spectrograms_in_training_only():
    layer = audionet.augmentation_layer(
        AudioAugmentationConfig(
            time_shift_fraction=0.2,
            frequency_shift_bins=2,
            noise_stddev=0.1,
            time_masks=2,
            time_mask_frames=8,
            frequency_masks=2,
            frequency_mask_bins=4,
            speed_range=0.15,
            warp_range=0.15,
        ),
        seed=0,
    )
    spectrograms = tf.constant(np.random.default_rng(1).normal(size=(8, 49, 32, 1)), tf.float32)
    np.testing.assert_array_equal(layer(spectrograms, training=False).numpy(), spectrograms.numpy())
    np.testing.assert_array_equal(layer(spectrograms).numpy(), spectrograms.numpy())  # serving: no training flag
    changed = layer(spectrograms, training=True).numpy()
    assert changed.shape == spectrograms.shape
    assert not np.allclose(changed, spectrograms.numpy(), atol=0.05)
    nothing = audionet.augmentation_layer(AudioAugmentationConfig(0, 0, 0, 0, 0, 0, 0, warp_range=0), seed=0)
    np.testing.assert_array_equal(nothing(spectrograms, training=True).numpy(), spectrograms.numpy())


def test_speed_and_vocal_tract_changes_move_time_and_pitch():
    """One bright frame moves away from or towards the middle; one bright mel band moves up or down, by no
    more than the largest factor allows; factors of exactly 1 change nothing."""
    bright_frame, bright_band = np.zeros((64, 49, 32, 1), np.float32), np.zeros((64, 49, 32, 1), np.float32)
    bright_frame[:, 34], bright_band[:, :, 16] = 1, 1
    speed = audionet.SpectrogramAugmentation(0, 0, 0, 0, 0, 0, 0, seed=1, speed_range=0.2)
    frames = np.argmax(speed(bright_frame, training=True).numpy()[:, :, 0, 0], axis=1)
    # Frame 34 is 10 from the middle (24): with the factor s it is read at 24 + 10 * s' for s' from 0.8 to 1.2.
    assert {frames.min(), frames.max()} <= set(range(32, 38)) and len(set(frames)) > 2
    warp = audionet.SpectrogramAugmentation(0, 0, 0, 0, 0, 0, 0, seed=1, warp_range=0.2)
    bands = np.argmax(warp(bright_band, training=True).numpy()[:, 0, :, 0], axis=1)
    assert bands.min() < 16 < bands.max() and bands.min() >= 12 and bands.max() <= 20
    still = audionet.SpectrogramAugmentation(0, 0, 0, 0, 0, 0, 0, seed=1, speed_range=1e-9, warp_range=1e-9)
    spectrograms = np.random.default_rng(2).normal(size=(4, 49, 32, 1)).astype(np.float32)
    np.testing.assert_allclose(still(spectrograms, training=True).numpy(), spectrograms, atol=1e-4)


def test_mixup_blends_pairs_and_weights_both_labels():
    spectrograms = np.arange(8, dtype=np.float32)[:, None, None, None] * np.ones((8, 3, 2, 1), np.float32)
    batches = tf.data.Dataset.from_tensor_slices((spectrograms, np.arange(8))).batch(8)
    assert spoken_model.training_batches(batches, AudioAugmentationConfig(), seed=0) is batches
    mixed, labels, weights = next(
        iter(spoken_model.training_batches(batches, AudioAugmentationConfig(mixup_alpha=0.4), 0))
    )
    mixed, labels, weights = mixed.numpy()[:, 0, 0, 0], labels.numpy(), weights.numpy()
    np.testing.assert_array_equal(labels, [0, 1, 2, 3, 7, 6, 5, 4])  # the first half, then its partners
    np.testing.assert_allclose(weights[:4] + weights[4:], 1, atol=1e-6)
    np.testing.assert_allclose(mixed[:4], mixed[4:])
    np.testing.assert_allclose(mixed[:4], weights[:4] * labels[:4] + weights[4:] * labels[4:], atol=1e-5)
    # The Trainer's batches: the transformed features by name, the labels as a column.
    named = tf.data.Dataset.from_tensor_slices(({"spectrogram": spectrograms}, np.arange(8)[:, None])).batch(8)
    inputs, labels, weights = next(
        iter(spoken_model.training_batches(named, AudioAugmentationConfig(mixup_alpha=0.4), 0))
    )
    assert inputs["spectrogram"].shape == (8, 3, 2, 1) and labels.shape == (8, 1) and weights.shape == (8,)


def test_serving_gives_each_recording_one_answer_whatever_it_is_sent_with():
    """Every augmentation on: outside training the model is deterministic, and a spectrogram's answer
    does not depend on the others in its request."""
    augmentation = AudioAugmentationConfig(noise_stddev=0.3, speed_range=0.2, warp_range=0.2, mixup_alpha=0.4)
    model = build_classifier(AudioModelConfig(), augmentation, (49, 32, 1), 10, train_steps=10)
    spectrograms = np.random.default_rng(3).normal(size=(5, 49, 32, 1)).astype(np.float32)
    alone = model(spectrograms[:1]).numpy()
    np.testing.assert_allclose(model(spectrograms).numpy()[:1], alone, atol=1e-5)
    np.testing.assert_allclose(model(spectrograms[:1]).numpy(), alone)


def test_masks_blank_whole_bands():
    layer = audionet.SpectrogramAugmentation(0, 0, 0, 1, 10, 0, 0, seed=3)
    masked = layer(tf.ones((16, 49, 32, 1)), training=True).numpy()[..., 0]
    for example in masked:
        blank = np.flatnonzero((example == 0).all(axis=1))
        assert len(blank) == (example == 0).any(axis=1).sum() <= 10  # whole frames, one band
        assert len(blank) == 0 or np.all(np.diff(blank) == 1)


# --- Config. ---


def test_the_spectrogram_sizes_follow_the_config():
    config = config_for("spoken_digits")
    assert (config.samples, config.frame_length, config.frame_step, config.fft_length) == (6400, 256, 128, 256)
    assert config.spectrogram_shape == (49, 32, 1)
    wider = apply_overrides(config, ["duration_seconds=1", "frame_ms=25", "step_ms=10", "mel_bins=40"])
    assert wider.spectrogram_shape == (98, 40, 1) and wider.fft_length == 256


@pytest.mark.parametrize(
    "assignment, expected",
    [
        ("split=random", "--set split=random: expected one of speaker, fsdd, given"),
        ("recording_normalisation=max", "--set recording_normalisation=max: expected one of mean, mean_variance"),
        ("eval_speakers=", "split=speaker needs at least one speaker"),
        ("mel_bins=200", "--set mel_bins=200: expected 1 to 128"),
        ("duration_seconds=0.01", "expected at least one frame"),
    ],
)
def test_bad_settings_are_named(assignment, expected):
    with pytest.raises(ConfigError, match=expected):
        apply_overrides(config_for("spoken_digits"), [assignment]).check()
