"""Letters feature names: what each example of a word's prefix holds, and what Transform makes of it.

One tf.Example per position in a word (components/models/letters/ingest.py):
  word            the whole word, which decides its split: every prefix of a word is in one split
  prefix          the letters so far, at most `max_context` of them (the last ones)
  next            the letter that follows, or END_OF_WORD after the last letter
  context_length  how many letters `prefix` holds; the evaluation is sliced by it

Names only, no TensorFlow: the letters config imports them.
"""

WORD_KEY = "word"
PREFIX_KEY = "prefix"
NEXT_KEY = "next"
CONTEXT_LENGTH_KEY = "context_length"

# The `next` of a word's last letter. Longer than one character, so that no character of a
# prefix can ever be read as it.
END_OF_WORD = "</w>"

# Transform's outputs: the prefix's characters as ids, padded with PADDING_ID at the end to
# `max_context`, and the next character's class id.
CHAR_IDS_KEY = "char_ids"
LABEL_KEY = "label"
PADDING_ID = 0
# Transform's vocabularies (files in the transform graph, analyzed on the train split only):
# every character and END_OF_WORD by frequency; and each (last letter, next letter) pair with
# its count, for the bigram baseline.
CHARACTERS_VOCABULARY = "characters"
BIGRAMS_VOCABULARY = "bigrams"
# Characters the train split never had share this many extra ids (and classes).
NUM_OOV_BUCKETS = 1
