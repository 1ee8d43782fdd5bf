"""The two naive baselines the model must beat, computed from the train split (no TensorFlow):

- nearest spelling: a word is pronounced as the training word spelled most like it, by edit distance
  over letters. Candidates are the training words with the same first letter and a length within one
  letter (all training words of that length range where none starts so): a full search of 110,000
  words per eval word would take the Trainer longer than training. Ties: the first in sorted order.
- letter to phoneme: each letter is pronounced as its most frequent phoneme, counted over the
  training words with as many phonemes as letters (which align one to one, letter i with phoneme i);
  a letter never counted so is not pronounced.
"""

from __future__ import annotations

from collections import Counter, defaultdict

import numpy as np


def edit_distances(word: str, candidates: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Levenshtein distances from `word` to each candidate: `candidates` [n, width] code points
    (padded with 0), `lengths` [n] their lengths. One dynamic-programming row per letter of `word`,
    over all candidates at once."""
    count, width = candidates.shape
    previous = np.tile(np.arange(width + 1), (count, 1))
    for i, letter in enumerate(word, start=1):
        current = np.empty_like(previous)
        current[:, 0] = i
        substitution = previous[:, :-1] + (candidates != ord(letter))
        deletion = previous[:, 1:] + 1
        best = np.minimum(substitution, deletion)
        for j in range(1, width + 1):
            current[:, j] = np.minimum(best[:, j - 1], current[:, j - 1] + 1)
        previous = current
    return previous[np.arange(count), lengths]


class NearestSpelling:
    """Pronounces a word as the training word spelled most like it (see the module's docstring)."""

    def __init__(self, words: list[str], pronunciations: list[str]):
        order = sorted(range(len(words)), key=lambda index: words[index])
        self.words = [words[index] for index in order]
        self.pronunciations = [pronunciations[index] for index in order]
        width = max(map(len, self.words))
        self.codes = np.zeros((len(self.words), width), np.int32)
        for row, word in enumerate(self.words):
            self.codes[row, : len(word)] = [ord(letter) for letter in word]
        self.lengths = np.array([len(word) for word in self.words])
        self.first = np.array([word[:1] for word in self.words])

    def nearest(self, word: str) -> str:
        """The training word spelled most like `word`."""
        return self.words[self._nearest_index(word)]

    def pronounce(self, word: str) -> str:
        """The pronunciation of the training word spelled most like `word`."""
        return self.pronunciations[self._nearest_index(word)]

    def _nearest_index(self, word: str) -> int:
        near_length = np.abs(self.lengths - len(word)) <= 1
        candidates = np.flatnonzero(near_length & (self.first == word[:1]))
        if not candidates.size:
            candidates = np.flatnonzero(near_length) if near_length.any() else np.arange(len(self.words))
        # Candidates are at most one letter longer than the word: the columns past that are padding.
        distances = edit_distances(word, self.codes[candidates, : len(word) + 1], self.lengths[candidates])
        return int(candidates[int(np.argmin(distances))])


def letter_phonemes(words: list[str], pronunciations: list[str]) -> dict[str, str]:
    """Each letter's most frequent phoneme over the words as long in phonemes as in letters (ties:
    the phoneme first counted)."""
    counts: dict[str, Counter] = defaultdict(Counter)
    for word, pronunciation in zip(words, pronunciations):
        phonemes = pronunciation.split()
        if len(phonemes) == len(word):
            for letter, phoneme in zip(word, phonemes):
                counts[letter][phoneme] += 1
    return {letter: counted.most_common(1)[0][0] for letter, counted in sorted(counts.items())}


def spell_out(word: str, phonemes: dict[str, str]) -> str:
    """`word` pronounced letter by letter with `phonemes` (letter_phonemes'); unknown letters silent."""
    return " ".join(phonemes[letter] for letter in word if letter in phonemes)
