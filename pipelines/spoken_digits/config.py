"""The spoken_digits pipeline: recordings of people saying 0-9 (the Free Spoken Digit Dataset) -> the digit,
from a log-mel spectrogram, evaluated on a voice the model never trained on.

No TensorFlow here: the CLI reads configs for `--help` and `tfpipe list`.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import ClassVar

from components.example_gen import layouts
from components.models.spoken_digits import features
from pipelines import files
from pipelines.config import ABOVE_0, ConfigError, PipelineConfig, Setting, TransformConfig
from pipelines.images import IMAGE_MODELS
from pipelines.tuning import SearchSpace, varies

SPLITS = ("speaker", "fsdd", "given")
# How each recording's log-mel spectrogram is normalised by its own statistics
# (components/models/spoken_digits/preprocessing.py, RECORDING_NORMALISATIONS).
RECORDING_NORMALISATIONS = ("mean", "mean_variance")
# FSDD's own test set: each speaker's recordings 0-4 of every digit.
FSDD_EVAL_TAKES = ("0", "1", "2", "3", "4")


@dataclasses.dataclass
class AudioModelConfig:
    """Which model, and how it is trained."""

    name: str = "audionet"
    """audionet (components/models/spoken_digits/audionet.py), or a CNN of the image zoo run on the
    spectrogram as a one-channel image: baseline, lenet5, alexnet8, vgg16, inception10, resnet18, ...
    (components/models/images/zoo.py)."""
    learning_rate: float = 0.003
    """Adam's step size (at the start, with cosine_decay)."""
    cosine_decay: bool = True
    """Decay the step size to 0 along a cosine over train_steps: the model settles instead of
    swinging from epoch to epoch on the unseen voice."""
    batch_size: int = 32
    """Recordings per training step."""
    seed: int = 0
    """Seeds weight initialization, shuffling and augmentation, so an unchanged run trains the same model."""


@dataclasses.dataclass
class AudioAugmentationConfig:
    """Random changes to each training spectrogram, made by layers in front of the model that act in
    training only (fit()), never in evaluation or serving. All zero: no augmentation."""

    time_shift_fraction: float = 0.1
    """Largest shift earlier or later in time, as a fraction of the spectrogram's frames (wrapping round)."""
    frequency_shift_bins: int = 0
    """Largest shift of the whole spectrum up or down, in whole mel bins: a higher or lower voice, roughly
    (warp_range does it properly; the two together scored lower, benchmarks/RESULTS.md#spoken_digits_loso)."""
    noise_stddev: float = 0.1
    """Standard deviation of Gaussian noise added to the normalised spectrogram."""
    time_masks: int = 1
    """How many bands of consecutive frames are blanked (SpecAugment's time masking)."""
    time_mask_frames: int = 10
    """Widest time mask, in frames."""
    frequency_masks: int = 1
    """How many bands of consecutive mel bins are blanked (SpecAugment's frequency masking)."""
    frequency_mask_bins: int = 5
    """Widest frequency mask, in mel bins."""
    speed_range: float = 0.0
    """Largest change of speaking rate, as a fraction: each training spectrogram's time axis is stretched
    or squeezed about its middle by a factor from 1 - speed_range to 1 + speed_range (speed perturbation)."""
    warp_range: float = 0.1
    """Largest change of vocal tract length, as a fraction: every frequency of each training spectrogram
    is multiplied by a factor from 1 - warp_range to 1 + warp_range (vocal tract length perturbation)."""
    mixup_alpha: float = 0.0
    """Mixup: pairs of training spectrograms blended, their labels in the same shares, the shares drawn
    from Beta(mixup_alpha, mixup_alpha); 0: none."""


@dataclasses.dataclass(frozen=True)
class SpectrogramConfig(TransformConfig):
    """What the spoken digits preprocessing_fn reads (components/models/spoken_digits/preprocessing.py):
    the log-mel spectrogram's settings, in samples, as SpokenDigitsConfig works them out."""

    sample_rate: int
    samples: int
    frame_length: int
    frame_step: int
    fft_length: int
    mel_bins: int
    lower_hertz: float
    cepstral_coefficients: int
    recording_normalisation: str


@dataclasses.dataclass
class AudioSearchSpace(SearchSpace):
    """What `--set tuning.trials=N` searches: candidates of each key, comma-separated with --set."""

    model: tuple[str, ...] = varies("model.name", ("audionet", "baseline", "lenet5"))
    """AudioNet or a CNN of the image zoo on the spectrogram."""
    learning_rate: tuple[float, ...] = varies("model.learning_rate", (0.001, 0.003))
    """Adam's step sizes."""


@dataclasses.dataclass
class SpokenDigitsConfig(PipelineConfig):
    """WAV recordings -> one of `class_names`, from a normalised log-mel spectrogram."""

    name: ClassVar[str] = "spoken_digits"
    description: ClassVar[str] = (
        "Spoken digits 0-9 from WAV recordings (FSDD): log-mel spectrogram, AudioNet CNN, eval on an unseen speaker."
    )
    preprocessing_module: ClassVar[str] = "components.models.spoken_digits.preprocessing"
    model_module: ClassVar[str] = "components.models.spoken_digits.model"
    request_module: ClassVar[str] = "components.models.spoken_digits.prediction_inputs"
    # FileExampleGen's reader for WAV files (components/example_gen/file_example_gen.py).
    example_reader: ClassVar[str] = "components.models.spoken_digits.ingest"
    label_key: ClassVar[str] = features.LABEL_KEY
    json_signature: ClassVar[str] = "wav_files"
    prediction_key: ClassVar[str] = "probabilities"
    metrics: ClassVar[tuple[str, ...]] = ("SparseCategoricalAccuracy", "MultiClassConfusionMatrixPlot")
    slice_features: ClassVar[tuple[str, ...]] = (features.LABEL_KEY, features.SPEAKER_KEY)
    blessing_metric: ClassVar[str] = "SparseCategoricalAccuracy"
    tuning_objective: ClassVar[str] = "val_sparse_categorical_accuracy"
    tuning_higher_is_better: ClassVar[bool] = True

    data_dir: str = "data/spoken_digits"
    """Folder of WAV recordings in one of the layouts of components/example_gen/layouts.py: files named
    `<digit>_<speaker>_<index>.wav` directly in it (FSDD's layout), one sub-folder per class, or a
    labels file; defaults are relative to the repository, a folder given with --set to the current directory."""
    class_names: tuple[str, ...] = tuple("0123456789")
    """The classes in label order: file name prefixes, class folder names and labels must be one of
    these; the model's class i is class_names[i]."""
    sample_rate: int = 8000
    """Samples per second every recording must have; recordings at another rate are rejected."""
    max_recording_seconds: float = dataclasses.field(default=600.0, metadata={"range": ABOVE_0})
    """The longest recording read, in seconds (from its header, before its samples are decoded); a
    longer one is left out and listed. Every recording is cut to duration_seconds anyway."""
    duration_seconds: float = 0.8
    """Every recording is cut or padded (with silence on both sides) to this length, keeping its middle."""
    frame_ms: float = 32.0
    """Length of each STFT frame (Hann window), in milliseconds."""
    step_ms: float = 16.0
    """Time between the starts of consecutive frames, in milliseconds."""
    mel_bins: int = 32
    """Mel bands of the spectrogram, from 20 Hz to half the sample rate."""
    lower_hertz: float = 20.0
    """The lowest frequency of the mel bands, in Hz: below it a recording holds hum and the voice's pitch
    (its fundamental), which say who speaks, not what."""
    cepstral_coefficients: int = 0
    """Each frame's log-mel spectrum is smoothed to its envelope by keeping this many cepstral coefficients
    (a DCT over the mel bands, as MFCCs are made, and back), dropping the ripple of the voice's pitch
    harmonics; 0 (or mel_bins or more): not smoothed."""
    recording_normalisation: str = "mean"
    """What each recording's log-mel spectrogram is normalised by, its own statistics over its speech frames,
    before each band is standardised with the train split's: `mean` (each band's mean subtracted) or
    `mean_variance` (each band's mean subtracted and divided by its standard deviation)."""
    split: str = "speaker"
    """How the recordings are split into train and eval: `speaker` (the eval split is every recording
    of `eval_speakers`, voices the model never trains on), `fsdd` (FSDD's convention: recordings 0-4
    of each speaker and digit are the eval split) or `given` (the data folder's own train and test parts)."""
    eval_speakers: tuple[str, ...] = ("theo",)
    """With split=speaker: the speakers whose recordings are the eval split (the rest are trained on). The
    default, theo, is the median voice: held out in turn, the five scored from 0.73 to 0.96 and theo
    third (benchmarks/RESULTS.md#spoken_digits_loso), so the eval split is neither the easiest nor
    the hardest voice."""
    train_steps: int = 1800
    epochs: int = 6
    eval_steps: int = 16
    blessing_threshold: float = 0.9
    model: AudioModelConfig = dataclasses.field(default_factory=AudioModelConfig)
    augmentation: AudioAugmentationConfig = dataclasses.field(default_factory=AudioAugmentationConfig)
    search_space: AudioSearchSpace = dataclasses.field(default_factory=AudioSearchSpace)

    # --- Derived sizes, in samples and frames (Transform and the model agree on them through these). ---

    @property
    def samples(self) -> int:
        return round(self.duration_seconds * self.sample_rate)

    @property
    def frame_length(self) -> int:
        return round(self.frame_ms * self.sample_rate / 1000)

    @property
    def frame_step(self) -> int:
        return round(self.step_ms * self.sample_rate / 1000)

    @property
    def fft_length(self) -> int:
        """The smallest power of two that holds a frame."""
        return 1 << (self.frame_length - 1).bit_length()

    @property
    def frames(self) -> int:
        return 1 + (self.samples - self.frame_length) // self.frame_step

    @property
    def spectrogram_shape(self) -> tuple[int, int, int]:
        """What the model takes: frames, mel bins, one channel."""
        return (self.frames, self.mel_bins, 1)

    def check_values(self) -> None:
        if self.model.name not in ("audionet", *IMAGE_MODELS):
            raise ConfigError(
                f"--set model.name={self.model.name}: expected audionet or one of {', '.join(IMAGE_MODELS)}."
            )
        if self.split not in SPLITS:
            raise ConfigError(f"--set split={self.split}: expected one of {', '.join(SPLITS)}.")
        if self.split == "speaker" and not self.eval_speakers:
            raise ConfigError("--set eval_speakers: split=speaker needs at least one speaker to evaluate on.")
        self._check_spectrogram()
        if len(self.class_names) < 2 or len(set(self.class_names)) != len(self.class_names):
            raise ConfigError(f"--set class_names={','.join(self.class_names)}: expected two or more different names.")
        super().check_values()

    def _check_spectrogram(self) -> None:
        if self.sample_rate < 1 or self.frame_length < 2 or self.frame_step < 1:
            raise ConfigError(
                f"--set sample_rate/frame_ms/step_ms: a frame of {self.frame_ms} ms every {self.step_ms} ms "
                f"at {self.sample_rate} Hz is {self.frame_length} samples every {self.frame_step}; "
                "expected at least 2 and 1."
            )
        if self.samples < self.frame_length:
            raise ConfigError(
                f"--set duration_seconds={self.duration_seconds}: expected at least one frame ({self.frame_ms} ms)."
            )
        if not 0 <= self.lower_hertz < self.sample_rate / 2:
            raise ConfigError(
                f"--set lower_hertz={self.lower_hertz}: expected 0 or more and below {self.sample_rate / 2:g} "
                "(half the sample rate)."
            )
        if self.cepstral_coefficients < 0:
            raise ConfigError(f"--set cepstral_coefficients={self.cepstral_coefficients}: expected 0 or more.")
        if not 1 <= self.mel_bins <= self.fft_length // 2:
            raise ConfigError(
                f"--set mel_bins={self.mel_bins}: expected 1 to {self.fft_length // 2} "
                f"(half the {self.fft_length}-point FFT of a {self.frame_ms} ms frame)."
            )
        if self.recording_normalisation not in RECORDING_NORMALISATIONS:
            raise ConfigError(
                f"--set recording_normalisation={self.recording_normalisation}: "
                f"expected one of {', '.join(RECORDING_NORMALISATIONS)}."
            )

    def read_from_data(self, given: set[str]) -> list[tuple[str, Setting]]:
        return files.class_names_from_data(self, given)

    def check(self) -> None:
        super().check()
        files.window_layout(self.resolved_data_dir(), self.input_dirs())

    def check_data(self, data_dir: Path) -> None:
        layout = files.detect_layout(data_dir)
        files.check_class_names(data_dir, layout, self.class_names)
        given = layouts.SINGLE_SPLIT not in layout.split_patterns
        if given and self.split != "given":
            raise ConfigError(
                f"data folder {data_dir} comes split into train and test parts ({layout.kind}); "
                f"--set split={self.split} splits recordings kept in one place: use --set split=given."
            )
        if not given and self.split == "given":
            raise ConfigError(
                f"--set split=given: data folder {data_dir} is not split into train and test parts; "
                "use split=speaker or split=fsdd."
            )
        speakers = layouts.name_field_values(data_dir, layout, 1 + features.NAME_FIELDS.index(features.SPEAKER_KEY))
        if self.split == "speaker" and layout.kind in (layouts.NAMED_FILES, layouts.CLASS_FOLDERS) and not speakers:
            raise ConfigError(
                f"--set split=speaker: no file name in data folder {data_dir} gives a speaker; split=speaker reads "
                "it from names <class>_<speaker>_<take>.wav (FSDD's 7_george_12.wav; in a class folder, the "
                "folder's name first: seven_george_12.wav): rename the files so, or give the data train and test "
                "parts and --set split=given."
            )
        absent = [speaker for speaker in self.eval_speakers if speaker not in speakers]
        if self.split == "speaker" and speakers and absent:
            raise ConfigError(
                f"--set eval_speakers={','.join(self.eval_speakers)}: data folder {data_dir} has no recordings of "
                f"{', '.join(absent)}; its file names give the speakers {', '.join(speakers)}: "
                f"--set eval_speakers=<one or more of them>."
            )

    def reader_options(self) -> dict:
        """What the WAV reader checks each recording against (components/models/spoken_digits/ingest.py):
        the ExampleGen's and `tfpipe predict`'s alike."""
        return {"sample_rate": self.sample_rate, "max_seconds": self.max_recording_seconds}

    def split_rule(self) -> dict | None:
        """FileExampleGen's rule for the eval split (an example whose `feature` is one of `eval_values`)."""
        if self.split == "speaker":
            return {"feature": features.SPEAKER_KEY, "eval_values": list(self.eval_speakers)}
        if self.split == "fsdd":
            return {"feature": features.TAKE_KEY, "eval_values": list(FSDD_EVAL_TAKES)}
        return None

    def example_gen(self):
        """FileExampleGen with the WAV reader over the data folder's layout, split by `split`."""
        return files.file_example_gen(
            self,
            class_names=self.class_names,
            reader=self.example_reader,
            reader_options=self.reader_options(),
            name_fields=features.NAME_FIELDS,
            split_rule=self.split_rule(),
            component_id="AudioExampleGen",
        )

    def label_class_names(self) -> tuple[str, ...]:
        return self.class_names

    def transform_config(self) -> SpectrogramConfig:
        return SpectrogramConfig(
            sample_rate=self.sample_rate,
            samples=self.samples,
            frame_length=self.frame_length,
            frame_step=self.frame_step,
            fft_length=self.fft_length,
            mel_bins=self.mel_bins,
            lower_hertz=self.lower_hertz,
            cepstral_coefficients=self.cepstral_coefficients,
            recording_normalisation=self.recording_normalisation,
        )
