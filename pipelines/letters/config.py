"""The letters pipeline: the letters of a word so far -> the next letter (or the end of the word)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import ClassVar, Literal

from components.models.letters import features
from pipelines.config import AT_LEAST_1, ConfigError, PipelineConfig, TransformConfig
from pipelines.tuning import SearchSpace, varies

# components/models/letters/model.py MODEL_BUILDERS, by name (checked before anything runs).
MODEL_NAMES = ("one_hot_rnn", "embedding_rnn", "lstm", "gru", "bidirectional_lstm")


@dataclasses.dataclass
class LettersModelConfig:
    """The notes' letter predictors: the letters as one-hot vectors or an Embedding, recurrent layers,
    a softmax over the characters; padding is masked, so it never changes a prediction."""

    name: str = "gru"
    """one_hot_rnn (the notes' one-hot input into SimpleRNN), embedding_rnn (Embedding + SimpleRNN),
    lstm, gru or bidirectional_lstm (Embedding + that recurrent layer)."""
    units: tuple[int, ...] = (64,)
    """Units of each recurrent layer, first to last."""
    embedding_dim: int = dataclasses.field(default=16, metadata={"range": AT_LEAST_1})
    """Size of a character's embedding vector (every model but one_hot_rnn)."""
    learning_rate: float = 0.01
    """Adam's step size."""
    batch_size: int = 512
    """Examples (prefixes) per training step."""
    seed: int = 0
    """Seeds weight initialization and shuffling."""


@dataclasses.dataclass(frozen=True)
class LettersTransformConfig(TransformConfig):
    """What letters' preprocessing_fn reads (components/models/letters/preprocessing.py)."""

    max_context: int
    """Letters of context each example keeps, the latest ones."""


@dataclasses.dataclass
class LettersSearchSpace(SearchSpace):
    """What `--set tuning.trials=N` searches: candidates of each key, comma-separated with --set."""

    model: tuple[str, ...] = varies("model.name", ("one_hot_rnn", "embedding_rnn", "lstm", "gru"))
    """The notes' letter models: one-hot or Embedding input, SimpleRNN, LSTM or GRU."""
    units: tuple[str, ...] = varies("model.units", ("64", "128"))
    """Units of the recurrent layers, each candidate's sizes separated by spaces."""


@dataclasses.dataclass
class LettersConfig(PipelineConfig):
    name: ClassVar[str] = "letters"
    description: ClassVar[str] = (
        "The next letter of a word from the letters so far (one-hot/Embedding RNN, LSTM, GRU, BiLSTM)."
    )
    preprocessing_module: ClassVar[str] = "components.models.letters.preprocessing"
    model_module: ClassVar[str] = "components.models.letters.model"
    request_module: ClassVar[str] = "components.models.letters.prediction_inputs"
    prediction_kind: ClassVar[Literal["label", "forecast", "sequence"]] = "sequence"
    # TextExampleGen's line reader (components/example_gen/text_example_gen.py).
    example_reader: ClassVar[str] = "components.models.letters.ingest"
    # The label is the next character's class in the vocabulary Transform analyzed: TFMA gets it
    # from the model's `transform_features` signature (evaluation_preprocessing).
    label_key: ClassVar[str] = features.LABEL_KEY
    json_signature: ClassVar[str] = "prefixes"
    prediction_key: ClassVar[str] = "probabilities"
    evaluation_signature: ClassVar[str] = "evaluation"
    evaluation_preprocessing: ClassVar[tuple[str, ...]] = ("transform_features",)
    baseline_outputs: ClassVar[tuple[str, ...]] = ("bigram",)
    win_measure: ClassVar[str] = "correct"
    win_measure_higher_is_better: ClassVar[bool] = True
    metrics: ClassVar[tuple[str, ...]] = (
        "SparseCategoricalAccuracy",
        "SparseTopKCategoricalAccuracy",
        "SparseCategoricalCrossentropy",
    )
    slice_features: ClassVar[tuple[str, ...]] = (features.CONTEXT_LENGTH_KEY,)
    blessing_metric: ClassVar[str] = "SparseCategoricalAccuracy"
    tuning_objective: ClassVar[str] = "val_sparse_categorical_accuracy"
    tuning_higher_is_better: ClassVar[bool] = True

    data_dir: str = "data/letters"
    """Folder of word lists, one word per line (the files matching file_pattern); defaults are relative
    to the repository, a folder given with --set to the current directory."""
    file_pattern: str = "*.txt"
    """Which files of data_dir (of each span folder a run reads, where it holds spans) are word lists (one word per
    line)."""
    max_line_bytes: int = dataclasses.field(default=1000, metadata={"range": AT_LEAST_1})
    """The longest line read from a word list, in bytes (UTF-8); a longer one is left out and listed.
    A word gives one example per letter, each holding the word: a line of millions of bytes would
    take gigabytes."""
    min_context: int = dataclasses.field(default=1, metadata={"range": AT_LEAST_1})
    """The fewest letters an example's prefix holds: a word gives an example at each position
    with at least this many letters before it (4 with max_context=4: the notes' `4pre1`)."""
    max_context: int = dataclasses.field(default=10, metadata={"range": AT_LEAST_1})
    """The most letters of a prefix the model sees: the last ones (1 with min_context=1: the notes'
    `1pre1`). Serving reads only the last max_context letters of a longer input."""
    must_beat_bigram: bool = True
    """Bless only a model whose accuracy is no lower than the bigram baseline's (the most frequent
    next letter after the last letter, counted on the train split)."""
    train_steps: int = 800
    epochs: int = 4
    eval_steps: int = 10
    blessing_threshold: float = 0.3
    """The lowest eval accuracy (top 1) a model may have and still be pushed."""
    max_regression: float = 0.01
    """How far the accuracy may fall below the latest blessed model's."""
    model: LettersModelConfig = dataclasses.field(default_factory=LettersModelConfig)
    search_space: LettersSearchSpace = dataclasses.field(default_factory=LettersSearchSpace)

    def example_gen(self):
        """TextExampleGen with the letters reader: one example per prefix, split 4:1 by word."""
        from components.example_gen.text_example_gen import TextExampleGen

        return TextExampleGen(
            data_dir=str(self.resolved_data_dir()),
            file_pattern=self.file_pattern,
            window=self.window_read(),
            reader=self.example_reader,
            reader_options={"min_context": self.min_context, "max_context": self.max_context},
            partition_feature=features.WORD_KEY,
            split_buckets={"train": 4, "eval": 1},
            component_id="WordExampleGen",
            max_line_bytes=self.max_line_bytes,
        )

    def transform_config(self) -> LettersTransformConfig:
        return LettersTransformConfig(max_context=self.max_context)

    def required_wins(self) -> tuple[str, ...]:
        return ("bigram",) if self.must_beat_bigram else ()

    def check_values(self) -> None:
        super().check_values()
        if self.min_context > self.max_context:
            raise ConfigError(
                f"min_context={self.min_context}, max_context={self.max_context}: expected "
                "min_context <= max_context (1 and 1 for one letter of context, 4 and 4 for four)."
            )
        if self.model.name not in MODEL_NAMES:
            raise ConfigError(f"model.name={self.model.name}: expected one of {', '.join(MODEL_NAMES)}.")

    def check_data(self, data_dir: Path) -> None:
        if not any(path.is_file() for path in data_dir.glob(self.file_pattern)):
            raise ConfigError(
                f"data folder {data_dir} has no file matching {self.file_pattern}; expected word lists, "
                "one word per line (or set file_pattern)."
            )
