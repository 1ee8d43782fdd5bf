"""Pronunciation feature names: what each example of a dictionary word holds, and what Transform makes of it.

One tf.Example per word (components/models/pronunciation/ingest.py):
  word             the word, lowercase letters a-z and apostrophes; its hash decides its split, so
                   no pronunciation of an eval word is ever trained on
  pronunciations   every pronunciation the dictionary lists, first to last, each ARPAbet phonemes
                   separated by spaces (`K AE1 T`); the first is what the model learns
  letter_count     how many letters the word has; the evaluation is sliced by it
  phoneme_count    how many phonemes its first pronunciation has: TFMA's label, the denominator of
                   the phoneme error rate

Names only, no TensorFlow: the pronunciation config imports them.
"""

WORD_KEY = "word"
PRONUNCIATIONS_KEY = "pronunciations"
LETTER_COUNT_KEY = "letter_count"
PHONEME_COUNT_KEY = "phoneme_count"

# Transform's outputs: the word's letters as ids (padded with PADDING_ID at the end to max_letters),
# the decoder's input (START_ID, then the first pronunciation's phoneme ids) and its target (the
# phoneme ids, then END_ID), both padded to max_phonemes + 1: teacher forcing.
LETTER_IDS_KEY = "letter_ids"
DECODER_INPUT_IDS_KEY = "decoder_input_ids"
TARGET_IDS_KEY = "target_ids"
PADDING_ID = 0
START_ID = 1
END_ID = 2
# Vocabulary entry i has id i + FIRST_ID (letters and phonemes alike; a letter has no START or END).
FIRST_ID = 3
# Transform's vocabularies (files in the transform graph, analyzed on the train split only).
LETTERS_VOCABULARY = "letters"
PHONEMES_VOCABULARY = "phonemes"
# Letters or phonemes the train split never had share this many extra ids.
NUM_OOV_BUCKETS = 1

# The characters a word may hold (lowercased): what the dictionary spells its words with.
WORD_PATTERN = "[a-z']+"
