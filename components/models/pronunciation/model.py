"""Trainer module for pronunciation: the attention encoder-decoder (encoder_decoder.py) trained with
teacher forcing, as a TFX run_fn, and a SavedModel that decodes inside its graph.

The SavedModel holds the Transform graph (the letter and phoneme vocabularies), the decoding loop
(greedy, or beam search with decoding=beam; at most max_phonemes steps) and the naive baselines'
tables, so its signatures take raw words and give ARPAbet:
  serving_default   serialized tf.Examples with `word` -> phonemes (ARPAbet separated by spaces; ""
                    for a refused word) and refused (one sentence saying why a word is refused, ""
                    for an answered one: a word with anything but letters a-z and apostrophes, in
                    either case, an empty word, a word of more than max_letters letters)
  words             the same from a string tensor `word` (JSON clients: {"word": "kubeflow"})
  evaluation        tf.Examples with `word` and `pronunciations` -> phoneme_errors (the model's
                    edit distance to the nearest dictionary pronunciation), nearest_spelling and
                    letter_to_phoneme (the naive baselines', naive_baselines.py) and
                    excess_phoneme_errors_vs_<baseline> (the model's minus the baseline's), for TFMA

The nearest-spelling baseline is a table of the eval split's words, computed here from the train
split (a search over every training word per word is too slow for a graph); words outside it get
no phonemes from it. A few eval words' attention maps (letters against phonemes) are drawn as PNGs
in the Trainer's ModelRun, which MLflow records.
"""

import os

import numpy as np
import tensorflow as tf
from tensorflow_transform import TFTransformOutput
from tfx.components.trainer.fn_args_utils import FnArgs
from tfx_bsl.public import tfxio

from components import training_record
from components.models import training, tuning
from components.models.pronunciation import encoder_decoder, error_rates, features, naive_baselines, preprocessing
from pipelines.pronunciation.config import PronunciationConfig

NEAREST_SPELLING = "nearest_spelling"
LETTER_TO_PHONEME = "letter_to_phoneme"
# The names of the ids that are no vocabulary entry: padding, start, end; and the unseen entry.
_SPECIAL = ("", "<start>", "<end>")
_UNKNOWN = "<unknown>"
EMPTY_WORD = "An empty word has no letters to pronounce; give a word such as kubeflow."


def refusals(words: tf.Tensor, max_letters: int) -> tf.Tensor:
    """[batch] words -> [batch] one sentence per word the model cannot pronounce, "" for the others."""
    characters = tf.strings.unicode_split(tf.strings.lower(words, encoding="utf-8"), "UTF-8", errors="replace")
    letters = characters.row_lengths()
    allowed = tf.ragged.map_flat_values(tf.strings.regex_full_match, characters, features.WORD_PATTERN)
    other = tf.ragged.boolean_mask(characters, ~allowed)
    first_other = tf.strings.reduce_join(other[:, :1], axis=1)
    quoted = tf.strings.join(["'", words, "'"])
    not_letters = tf.strings.join(
        [
            quoted,
            " holds '",
            first_other,
            "', which is not a letter a-z or an apostrophe; ",
            "give a word in English letters.",
        ]
    )
    too_long = tf.strings.join(
        [
            quoted,
            " has ",
            tf.strings.as_string(letters),
            f" letters, more than the {max_letters} the model reads; give a shorter word.",
        ]
    )
    return tf.where(
        tf.equal(letters, 0),
        EMPTY_WORD,
        tf.where(tf.not_equal(first_other, ""), not_letters, tf.where(letters > max_letters, too_long, "")),
    )


def _trimmed(inputs: dict, target_ids):
    """A batch cut to its longest word and pronunciation: the fixed padding of Transform's output
    would cost the recurrent layers a step per padded position."""
    letters = tf.reduce_max(tf.reduce_sum(tf.cast(inputs[features.LETTER_IDS_KEY] > 0, tf.int32), axis=1))
    steps = tf.reduce_max(tf.reduce_sum(tf.cast(target_ids > 0, tf.int32), axis=1))
    return {
        features.LETTER_IDS_KEY: inputs[features.LETTER_IDS_KEY][:, :letters],
        features.DECODER_INPUT_IDS_KEY: inputs[features.DECODER_INPUT_IDS_KEY][:, :steps],
    }, target_ids[:, :steps]


def _dictionary(
    file_pattern, fn_args: FnArgs, transform_output: TFTransformOutput, letters: list[str], phonemes: list[str]
):
    """A transformed split's words and their first pronunciations (phonemes as Transform kept them), in order."""
    dataset = fn_args.data_accessor.tf_dataset_factory(
        file_pattern,
        tfxio.TensorFlowDatasetOptions(batch_size=4096, num_epochs=1, shuffle=False),
        transform_output.transformed_metadata.schema,
    )
    letter_names = np.array([*_SPECIAL, *letters, "?"])
    phoneme_names = np.array([*_SPECIAL, *phonemes, _UNKNOWN])
    words, pronunciations = [], []
    for batch in dataset.as_numpy_iterator():
        for letter_ids, target_ids in zip(batch[features.LETTER_IDS_KEY], batch[features.TARGET_IDS_KEY]):
            words.append("".join(letter_names[letter_ids[letter_ids >= features.FIRST_ID]]))
            pronunciations.append(" ".join(phoneme_names[target_ids[target_ids >= features.FIRST_ID]]))
    return words, pronunciations


def _table(keys: list[str], values: list[str]) -> tf.lookup.StaticHashTable:
    return tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(tf.constant(keys, tf.string), tf.constant(values, tf.string)), ""
    )


class _PronunciationModel(tf.Module):
    """The trained encoder-decoder between the Transform graph and the phonemes' names: raw words in, ARPAbet out."""

    def __init__(
        self,
        layers: encoder_decoder.EncoderDecoder,
        model,
        transform_output: TFTransformOutput,
        phonemes: list[str],
        config: PronunciationConfig,
        nearest_spelling: dict[str, str],
        letter_to_phoneme: dict[str, str],
    ):
        super().__init__()
        self.layers = layers
        self.model = model
        self.tft_layer = transform_output.transform_features_layer()
        self.phoneme_names = tf.constant([*_SPECIAL, *phonemes, _UNKNOWN])
        self.config = config
        self.nearest_spelling = _table(list(nearest_spelling), list(nearest_spelling.values()))
        self.letter_to_phoneme = _table(list(letter_to_phoneme), list(letter_to_phoneme.values()))

    def letter_ids(self, words: tf.Tensor) -> tf.Tensor:
        return self.tft_layer({features.WORD_KEY: tf.reshape(words, [-1, 1])})[features.LETTER_IDS_KEY]

    def pronounce(self, words: tf.Tensor) -> tf.RaggedTensor:
        """[batch] words -> [batch, (phonemes)] as decoded (greedy or beam, at most max_phonemes)."""
        letter_ids = self.letter_ids(words)
        if self.config.decoding == "beam":
            ids = encoder_decoder.beam_decode(self.layers, letter_ids, self.config.max_phonemes, self.config.beam_width)
        else:
            ids, _ = encoder_decoder.greedy_decode(self.layers, letter_ids, self.config.max_phonemes)
        return tf.ragged.boolean_mask(tf.gather(self.phoneme_names, ids), encoder_decoder.until_end(ids))

    def predict(self, words: tf.Tensor) -> dict:
        refused = refusals(words, self.config.max_letters)
        phonemes = tf.strings.reduce_join(self.pronounce(words), axis=1, separator=" ")
        return {"phonemes": tf.where(tf.equal(refused, ""), phonemes, ""), "refused": refused}

    def evaluate(self, words: tf.Tensor, pronunciations: tf.RaggedTensor) -> dict:
        """The model's and the baselines' phoneme errors on dictionary words with their pronunciations."""
        references = tf.RaggedTensor.from_row_splits(
            preprocessing.phonemes(pronunciations.values, self.config.stress), pronunciations.row_splits
        )
        model = error_rates.phoneme_errors(self.pronounce(words), references)
        spelled = tf.strings.unicode_split(words, "UTF-8")
        spoken = tf.ragged.map_flat_values(self.letter_to_phoneme.lookup, spelled)
        baselines = {
            NEAREST_SPELLING: tf.strings.split(self.nearest_spelling.lookup(words)),
            LETTER_TO_PHONEME: tf.ragged.boolean_mask(spoken, tf.not_equal(spoken, "")),
        }
        outputs = {PronunciationConfig.prediction_key: model}
        for name, pronounced in baselines.items():
            errors = error_rates.phoneme_errors(pronounced, references)
            outputs[name] = errors
            outputs[self.config.win_output(name)] = model - errors
        return outputs

    def signatures(self) -> dict:
        examples = tf.TensorSpec([None], tf.string, name="examples")
        word_spec = {features.WORD_KEY: tf.io.FixedLenFeature([], tf.string)}
        pronunciations = tf.io.RaggedFeature(tf.string, row_splits_dtype=tf.int64)
        labelled_spec = {**word_spec, features.PRONUNCIATIONS_KEY: pronunciations}

        @tf.function(input_signature=[examples])
        def serve_examples(serialized):
            return self.predict(tf.io.parse_example(serialized, word_spec)[features.WORD_KEY])

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name=features.WORD_KEY)])
        def serve_words(word):
            return self.predict(word)

        @tf.function(input_signature=[examples])
        def evaluate(serialized):
            parsed = tf.io.parse_example(serialized, labelled_spec)
            return self.evaluate(parsed[features.WORD_KEY], parsed[features.PRONUNCIATIONS_KEY])

        return {
            "serving_default": serve_examples.get_concrete_function(),
            PronunciationConfig.json_signature: serve_words.get_concrete_function(),
            PronunciationConfig.evaluation_signature: evaluate.get_concrete_function(),
        }


def draw_attention_maps(module: _PronunciationModel, words: list[str], folder: str) -> list[str]:
    """One PNG per word, `attention_<word>.png` in `folder`: the greedy decoder's attention weights,
    a row per phoneme written against a column per letter read. Returns the paths."""
    letter_ids = module.letter_ids(tf.constant(words))
    ids, weights = encoder_decoder.greedy_decode(module.layers, letter_ids, module.config.max_phonemes)
    names = tf.gather(module.phoneme_names, ids).numpy()
    spoken = encoder_decoder.until_end(ids).numpy()
    plt = training_record.pyplot()
    paths = []
    for word, row_names, row_spoken, row_weights in zip(words, names, spoken, weights.numpy()):
        phonemes = [name.decode() for name in row_names[row_spoken]]
        figure, axes = plt.subplots(figsize=(1 + 0.4 * len(word), 1 + 0.35 * max(len(phonemes), 1)))
        axes.imshow(row_weights[: len(phonemes), : len(word)], cmap="viridis", vmin=0.0, vmax=1.0, aspect="auto")
        axes.set_xticks(range(len(word)), list(word))
        axes.set_yticks(range(len(phonemes)), phonemes)
        axes.set_xlabel("letters read")
        axes.set_ylabel("phonemes written")
        axes.set_title(word)
        figure.tight_layout()
        path = os.path.join(folder, f"attention_{word.replace(chr(39), '_')}.png")
        figure.savefig(path, dpi=80)
        plt.close(figure)
        paths.append(path)
    return paths


def run_fn(fn_args: FnArgs) -> None:
    """Trains on the transformed train split and exports the pronunciation SavedModel."""
    config, transform_output, train, validation = training.prepare_training(
        fn_args, PronunciationConfig, features.TARGET_IDS_KEY
    )
    letters = [token.decode() for token in transform_output.vocabulary_by_name(features.LETTERS_VOCABULARY)]
    phonemes = [token.decode() for token in transform_output.vocabulary_by_name(features.PHONEMES_VOCABULARY)]
    extra = features.FIRST_ID + features.NUM_OOV_BUCKETS
    layers, model = encoder_decoder.build_model(
        config.model, len(letters) + extra, len(phonemes) + extra, fn_args.train_steps
    )
    if fn_args.base_model:
        training.warm_start(model, fn_args.base_model, saved_as="model")
    training.fit_and_record(
        model,
        train.map(_trimmed),
        validation.map(_trimmed),
        fn_args,
        config.epochs,
        early_stopping=config.early_stopping,
    )
    training.export_formats(model, fn_args)
    train_words, train_pronunciations = _dictionary(fn_args.train_files, fn_args, transform_output, letters, phonemes)
    eval_words, _ = _dictionary(fn_args.eval_files, fn_args, transform_output, letters, phonemes)
    nearest = naive_baselines.NearestSpelling(train_words, train_pronunciations)
    module = _PronunciationModel(
        layers,
        model,
        transform_output,
        phonemes,
        config,
        {word: nearest.pronounce(word) for word in eval_words},
        naive_baselines.letter_phonemes(train_words, train_pronunciations),
    )
    shown = sorted(eval_words)[:: max(1, len(eval_words) // max(config.attention_maps, 1))][: config.attention_maps]
    draw_attention_maps(module, shown, fn_args.model_run_dir)
    tf.saved_model.save(module, fn_args.serving_model_dir, signatures=module.signatures())


# The Tuner trains this same run_fn once per trial of a model search (components/models/tuning.py).
tuner_fn = tuning.tuner_fn_for(run_fn, PronunciationConfig)
