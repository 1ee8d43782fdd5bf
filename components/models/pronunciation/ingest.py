"""TextExampleGen's line reader for pronunciation: one dictionary line -> one example of its word.

components/example_gen/text_example_gen.py calls `read(line, options)` for every line of the data
folder's files. A line is `word<TAB>pronunciation[<TAB>alternate...]` (data/make_pronunciation.py
writes the CMU Pronouncing Dictionary so). A line is refused, with the reason, and listed by the
ExampleGen when its word holds anything but the letters a-z and apostrophes, has more than
`max_letters` letters, or has no pronunciation or one of more than `max_phonemes` phonemes: the
model reads no longer word and decodes no longer pronunciation.

No TensorFlow: this runs in the ExampleGen's Beam workers.
"""

from __future__ import annotations

import re

from components.models.pronunciation import features


def read(line: str, options: dict) -> list[dict[str, bytes | int | list[bytes]]]:
    """The example of the word on `line` (`options`: max_letters, max_phonemes), or ValueError(reason)."""
    word, *spoken = line.rstrip("\r\n").split("\t")
    # The options come through a protobuf Struct, whose numbers are floats.
    max_letters, max_phonemes = int(options["max_letters"]), int(options["max_phonemes"])
    if not re.fullmatch(features.WORD_PATTERN, word):
        raise ValueError(f"{word!r} is not a word of the letters a-z and apostrophes")
    if len(word) > max_letters:
        raise ValueError(f"{word!r} has {len(word)} letters, more than max_letters={max_letters}")
    pronunciations = [" ".join(phonemes.split()) for phonemes in spoken if phonemes.strip()]
    if not pronunciations:
        raise ValueError(f"{word!r} has no pronunciation; expected word<TAB>phonemes")
    longest = max(len(phonemes.split()) for phonemes in pronunciations)
    if longest > max_phonemes:
        raise ValueError(f"{word!r} has a pronunciation of {longest} phonemes, more than max_phonemes={max_phonemes}")
    return [
        {
            features.WORD_KEY: word.encode(),
            features.PRONUNCIATIONS_KEY: [phonemes.encode() for phonemes in pronunciations],
            features.LETTER_COUNT_KEY: len(word),
            features.PHONEME_COUNT_KEY: len(pronunciations[0].split()),
        }
    ]
