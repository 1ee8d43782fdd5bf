"""The pronunciation pipeline: the letters of an English word -> its phonemes (ARPAbet), sequence to sequence."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import ClassVar

from components.models.pronunciation import features
from pipelines.config import AT_LEAST_1, ConfigError, PipelineConfig, Range, TransformConfig
from pipelines.tuning import SearchSpace, varies

# components/models/pronunciation/encoder_decoder.py's choices, by name (checked before anything runs).
RECURRENT_LAYERS = ("lstm", "gru")
ATTENTION_KINDS = ("dot_product", "additive")
DECODINGS = ("greedy", "beam")


@dataclasses.dataclass
class PronunciationModelConfig:
    """The notes' sequence to sequence structure: an encoder reads the letters, a decoder writes the
    phonemes one at a time, trained with teacher forcing, attending to the encoder's outputs at each
    step; padding is masked on both sides."""

    encoder: str = "gru"
    """The encoder's recurrent layer: lstm or gru."""
    bidirectional: bool = True
    """Read the letters both ways (the encoder's outputs are the two directions' side by side)."""
    encoder_units: int = 192
    """Units of the encoder's recurrent layer (of each direction)."""
    decoder_units: int = 256
    """Units of the decoder's GRU."""
    embedding_dim: int = dataclasses.field(default=64, metadata={"range": AT_LEAST_1})
    """Size of a letter's and of a phoneme's embedding vector."""
    attention: str = "dot_product"
    """How the decoder scores the encoder's outputs at each step: dot_product (Luong's, the decoder's
    state against the projected outputs) or additive (Bahdanau's, a small tanh layer over both)."""
    learning_rate: float = 0.003
    """Adam's first step size; it falls to nothing over the training steps (a cosine)."""
    batch_size: int = 256
    """Words per training step."""
    seed: int = 0
    """Seeds weight initialization and shuffling."""


@dataclasses.dataclass(frozen=True)
class PronunciationTransformConfig(TransformConfig):
    """What pronunciation's preprocessing_fn reads (components/models/pronunciation/preprocessing.py)."""

    max_letters: int
    """Letters of a word the model reads: the encoder's input is padded to this length."""
    max_phonemes: int
    """Phonemes the decoder writes at most, before the end."""
    stress: bool
    """Keep ARPAbet's stress digits (AH0, AH1) as separate phonemes; false folds them into 39 phonemes."""


@dataclasses.dataclass
class PronunciationSearchSpace(SearchSpace):
    """What `--set tuning.trials=N` searches: candidates of each key, comma-separated with --set."""

    attention: tuple[str, ...] = varies("model.attention", ATTENTION_KINDS)
    """The notes' two attention scores: dot-product and additive."""
    encoder: tuple[str, ...] = varies("model.encoder", RECURRENT_LAYERS)
    """The encoder's recurrent layer: LSTM or GRU."""


@dataclasses.dataclass
class PronunciationConfig(PipelineConfig):
    name: ClassVar[str] = "pronunciation"
    description: ClassVar[str] = (
        "An English word's phonemes from its letters (CMU Pronouncing Dictionary; encoder-decoder with attention)."
    )
    preprocessing_module: ClassVar[str] = "components.models.pronunciation.preprocessing"
    model_module: ClassVar[str] = "components.models.pronunciation.model"
    request_module: ClassVar[str] = "components.models.pronunciation.prediction_inputs"
    # TextExampleGen's line reader (components/example_gen/text_example_gen.py).
    example_reader: ClassVar[str] = "components.models.pronunciation.ingest"
    # TFMA's label is the raw phoneme count; each scored output is a word's phoneme errors (edit
    # distance to the nearest of its pronunciations), the model's and each naive baseline's.
    label_key: ClassVar[str] = features.PHONEME_COUNT_KEY
    json_signature: ClassVar[str] = "words"
    prediction_key: ClassVar[str] = "phoneme_errors"
    evaluation_signature: ClassVar[str] = "evaluation"
    baseline_outputs: ClassVar[tuple[str, ...]] = ("nearest_spelling", "letter_to_phoneme")
    win_measure: ClassVar[str] = "phoneme_errors"
    metrics_module: ClassVar[str] = "components.models.pronunciation.error_rates"
    metrics: ClassVar[tuple[str, ...]] = ("WordErrorRate", "PhonemeErrorRate")
    slice_features: ClassVar[tuple[str, ...]] = (features.LETTER_COUNT_KEY,)
    blessing_metric: ClassVar[str] = "WordErrorRate"
    blessing_higher_is_better: ClassVar[bool] = False

    data_dir: str = "data/pronunciation"
    """Folder of pronunciation dictionaries (the files matching file_pattern), one word a line:
    word<TAB>phonemes[<TAB>alternate phonemes...]; defaults are relative to the repository, a folder
    given with --set to the current directory."""
    file_pattern: str = "*.tsv"
    """Which files of data_dir (of each span folder a run reads, where it holds spans) are dictionaries."""
    max_line_bytes: int = dataclasses.field(default=1000, metadata={"range": AT_LEAST_1})
    """The longest line read from a dictionary, in bytes (UTF-8); a longer one is left out and listed."""
    max_letters: int = dataclasses.field(default=20, metadata={"range": AT_LEAST_1})
    """The longest word the model reads, in letters: a longer dictionary word is left out and listed,
    a longer word to pronounce is refused."""
    max_phonemes: int = dataclasses.field(default=24, metadata={"range": AT_LEAST_1})
    """The most phonemes the decoder writes for a word (its maximum output length); a dictionary word
    with a longer pronunciation is left out and listed."""
    stress: bool = False
    """Keep ARPAbet's stress digits (AH0 vs AH1): false scores and answers the 39 phonemes without
    them, the usual setting of published grapheme-to-phoneme results on this dictionary."""
    decoding: str = "greedy"
    """How the SavedModel decodes: greedy (the most probable phoneme at each step) or beam (the most
    probable of beam_width candidate pronunciations kept at each step)."""
    beam_width: int = dataclasses.field(default=4, metadata={"range": AT_LEAST_1})
    """Candidates beam search keeps at each step (decoding=beam)."""
    attention_maps: int = dataclasses.field(default=6, metadata={"range": Range(low=0)})
    """Eval words whose attention maps (letters against phonemes) are drawn as PNGs for MLflow."""
    must_beat_baselines: bool = True
    """Bless only a model with no more phoneme errors on the eval split than either naive baseline:
    the pronunciation of the training word spelled most like each word, and each letter's most
    frequent phoneme."""
    train_steps: int = 5000
    epochs: int = 10
    eval_steps: int = 20
    blessing_threshold: float = 0.3
    """The highest word error rate on the eval split (words not pronounced exactly as any of their
    dictionary pronunciations) a model may have and still be pushed."""
    max_regression: float = 0.01
    """How far the word error rate may rise above the latest blessed model's."""
    model: PronunciationModelConfig = dataclasses.field(default_factory=PronunciationModelConfig)
    search_space: PronunciationSearchSpace = dataclasses.field(default_factory=PronunciationSearchSpace)

    def example_gen(self):
        """TextExampleGen with the pronunciation reader: one example per word, split 9:1 by word."""
        from components.example_gen.text_example_gen import TextExampleGen

        return TextExampleGen(
            data_dir=str(self.resolved_data_dir()),
            file_pattern=self.file_pattern,
            window=self.window_read(),
            reader=self.example_reader,
            reader_options={"max_letters": self.max_letters, "max_phonemes": self.max_phonemes},
            partition_feature=features.WORD_KEY,
            split_buckets={"train": 9, "eval": 1},
            component_id="DictionaryExampleGen",
            max_line_bytes=self.max_line_bytes,
        )

    def transform_config(self) -> PronunciationTransformConfig:
        return PronunciationTransformConfig(
            max_letters=self.max_letters, max_phonemes=self.max_phonemes, stress=self.stress
        )

    def required_wins(self) -> tuple[str, ...]:
        return self.baseline_outputs if self.must_beat_baselines else ()

    def check_values(self) -> None:
        super().check_values()
        for key, value, known in (
            ("model.encoder", self.model.encoder, RECURRENT_LAYERS),
            ("model.attention", self.model.attention, ATTENTION_KINDS),
            ("decoding", self.decoding, DECODINGS),
        ):
            if value not in known:
                raise ConfigError(f"--set {key}={value}: expected one of {', '.join(known)}.")
        if not 0 <= self.blessing_threshold <= 1:
            raise ConfigError(
                f"--set blessing_threshold={self.blessing_threshold}: the word error rate is a share between 0 "
                "and 1; expected a threshold in that range."
            )

    def check_data(self, data_dir: Path) -> None:
        if not any(path.is_file() for path in data_dir.glob(self.file_pattern)):
            raise ConfigError(
                f"data folder {data_dir} has no file matching {self.file_pattern}; expected pronunciation "
                "dictionaries, one word a line: word<TAB>phonemes (or set file_pattern)."
            )
