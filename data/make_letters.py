"""Writes data/letters/: a sample of real English words from Debian's wamerican word list.

    apt-get install wamerican          # /usr/share/dict/american-english (SCOWL, size 50)
    .venv/bin/python data/make_letters.py [WORD LIST] [COPYRIGHT FILE]

Keeps the words made of the lowercase letters a-z only (no capitals, so no proper names; no
apostrophes, no accents), then samples WORDS of them with a fixed seed and writes them sorted, one
per line, to data/letters/words.txt. The same word list gives the same bytes every time (checked
with wamerican 2020.12.07-2, whose list has 104,334 lines and 63,875 such words). The list's
copyright and license notice, which must accompany copies, is copied beside it as COPYRIGHT.
"""

from __future__ import annotations

import random
import re
import shutil
import sys
from pathlib import Path

WORD_LIST = "/usr/share/dict/american-english"
COPYRIGHT = "/usr/share/doc/wamerican/copyright"
WORDS = 20_000
SEED = 0
OUT = Path(__file__).resolve().parent / "letters"


def sample(lines: list[str], count: int, seed: int) -> list[str]:
    """`count` distinct words of a-z only, drawn with `seed`, sorted."""
    words = sorted({line.strip() for line in lines if re.fullmatch(r"[a-z]+", line.strip())})
    if len(words) < count:
        raise SystemExit(f"the word list has {len(words)} words of a-z only; {count} are needed.")
    return sorted(random.Random(seed).sample(words, count))


def main(word_list: str = WORD_LIST, copyright_file: str = COPYRIGHT) -> None:
    lines = Path(word_list).read_text(encoding="utf-8").splitlines()
    words = sample(lines, WORDS, SEED)
    OUT.mkdir(exist_ok=True)
    (OUT / "words.txt").write_text("".join(f"{word}\n" for word in words), encoding="utf-8")
    shutil.copyfile(copyright_file, OUT / "COPYRIGHT")
    letters = sum(map(len, words))
    print(f"Wrote {len(words)} words ({letters} letters, {letters / len(words):.2f} a word) to {OUT / 'words.txt'}")


if __name__ == "__main__":
    main(*sys.argv[1:3])
