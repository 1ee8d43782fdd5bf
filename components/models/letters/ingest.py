"""TextExampleGen's line reader for letters: one word per line -> one example per letter position.

components/example_gen/text_example_gen.py calls `read(line, options)` for every line of the
data folder's text files. A word gives one example at each position from `min_context` letters
on: the letters so far (the last `max_context` of them), and the letter that follows, or
END_OF_WORD after the last one. So with contexts 1 to 10, "hello" gives h->e, he->l, hel->l,
hell->o, hello->END; with contexts of exactly 4 letters, hell->o, ello->END; a word shorter than
`min_context` gives none. A line that is not one word of letters (str.isalpha: any alphabet,
either case) is refused with the reason, and listed by the ExampleGen.

No TensorFlow: this runs in the ExampleGen's Beam workers.
"""

from __future__ import annotations

from components.models.letters import features


def read(line: str, options: dict) -> list[dict[str, bytes | int]]:
    """The examples of the word on `line` (`options`: min_context, max_context), or ValueError(reason)."""
    word = line.strip()
    if not word.isalpha():
        other = next(character for character in word if not character.isalpha())
        raise ValueError(f"{word!r} holds {other!r}, which is not a letter; expected one word of letters per line")
    # The options come through a protobuf Struct, whose numbers are floats.
    return prefix_examples(word, int(options["min_context"]), int(options["max_context"]))


def prefix_examples(word: str, min_context: int, max_context: int) -> list[dict[str, bytes | int]]:
    """One example per position of `word` that has at least `min_context` letters before it."""
    examples: list[dict[str, bytes | int]] = []
    for position in range(max(min_context, 1), len(word) + 1):
        prefix = word[max(0, position - max_context) : position]
        following = word[position] if position < len(word) else features.END_OF_WORD
        examples.append(
            {
                features.WORD_KEY: word.encode(),
                features.PREFIX_KEY: prefix.encode(),
                features.NEXT_KEY: following.encode(),
                features.CONTEXT_LENGTH_KEY: len(prefix),
            }
        )
    return examples
