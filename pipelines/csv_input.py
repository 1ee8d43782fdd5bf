"""What a folder of CSV files must look like before a pipeline reads it (CsvExampleGen and
TimeSeriesExampleGen read every file in the folder as CSV): CSV files only, each with a header
whose column names hold no invisible characters and none empty, commas between columns and
decimal points (not the semicolons and decimal commas of a European spreadsheet's export, which
CsvExampleGen cannot read), and at least one row. Column names in quotes (R's `write.csv`) are
fine: the ExampleGens read them without the quotes. Each problem is one
sentence naming the file (and the column). Only the first lines of each file are read, so the
check costs nothing on large data; what the rows hold is the schema's and the gate's to check.

No TensorFlow here: the CLI runs this before anything else.
"""

from __future__ import annotations

import codecs
import csv
import os
import re
import unicodedata
from pathlib import Path

CSV_SUFFIX = ".csv"
# Unicode categories of characters that print as nothing: format characters (the byte-order mark
# U+FEFF, zero-width spaces and joiners), control characters (tab, carriage return), line and
# paragraph separators, private-use and unassigned code points.
_INVISIBLE_CATEGORIES = {"Cf", "Cc", "Zl", "Zp", "Co", "Cn"}
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
# Column separators other tools write instead of commas, in words.
_OTHER_DELIMITERS = {";": "semicolons (';')", "\t": "tabs", "|": "vertical bars ('|')"}
# A number written with a decimal comma: 5,1 or -0,25.
_DECIMAL_COMMA = re.compile(r"^\s*-?\d+,\d+\s*$")


def folder_problems(data_dir: Path) -> list[str]:
    """One sentence per problem with the folder's files; empty when every file can be read as CSV."""
    entries = sorted(data_dir.iterdir())
    csv_files = [path for path in entries if path.is_file() and path.suffix.lower() == CSV_SUFFIX]
    others = [path for path in entries if path not in csv_files]
    if not csv_files:
        found = ", ".join(_shown(path) for path in others) or "nothing"
        return [f"data folder {data_dir} holds no CSV file (found {found}); expected CSV files (*{CSV_SUFFIX})."]
    problems = []
    if others:
        problems.append(
            f"data folder {data_dir} holds {', '.join(_shown(path) for path in others)} beside its CSV files; "
            "every file in it is read as CSV, so move the others out."
        )
    for path in csv_files:
        problems.extend(file_problems(path))
    return problems


def file_problems(path: Path) -> list[str]:
    """Problems with one CSV file's header and rows, one sentence each."""
    with open(path, "rb") as f:
        header = f.readline()
        first_row = next((line for line in f if line.strip()), b"")
    if not header.strip():
        return [f"{path} is empty; expected a header line naming the columns, then one row per example."]
    if header.startswith(_UTF16_BOMS):
        return [f"{path} is UTF-16 text; save it as UTF-8 (without a byte-order mark)."]
    try:
        text = header.decode("utf-8")
    except UnicodeDecodeError:
        return [f"{path} is not UTF-8 text; save it as UTF-8."]
    problems = []
    names = next(csv.reader([text.rstrip("\r\n")]))
    dialect = _dialect_problem(path, text, first_row)
    if dialect:
        return [dialect]
    if names and names[0].startswith("\ufeff"):
        problems.append(
            f"{path} starts with a byte-order mark (an invisible U+FEFF character before the column name "
            f"{names[0][1:]!r}); save it as UTF-8 without a byte-order mark."
        )
        names[0] = names[0][1:]
    for number, name in enumerate(names, start=1):
        invisible = sorted({char for char in name if unicodedata.category(char) in _INVISIBLE_CATEGORIES})
        if invisible:
            described = ", ".join(
                f"U+{ord(char):04X} {unicodedata.name(char, 'a control character')}" for char in invisible
            )
            problems.append(
                f"{path}: header column {number} ({_escaped(name)}) holds invisible characters ({described}); "
                "delete them so the column name matches the schema."
            )
        if not name.strip():
            problems.append(
                f"{path}: header column {number} has no name (R's write.csv writes row names there; write "
                "with row.names = FALSE); name the column as the schema does, or drop it."
            )
    if not first_row:
        problems.append(f"{path} has a header but no rows; expected one row per example after it.")
    return problems


def _dialect_problem(path: Path, header: str, first_row: bytes) -> str | None:
    """The sentence for a header whose columns are separated by something other than commas (and,
    when the first row writes decimals with a comma, that too); None for a comma-separated file."""
    if len(next(csv.reader([header.rstrip("\r\n")]))) > 1:
        return None
    delimiter = next((mark for mark in _OTHER_DELIMITERS if mark in header), None)
    if delimiter is None:
        return None  # one column: nothing to say about separators
    fields = next(csv.reader([first_row.decode("utf-8", "replace").rstrip("\r\n")], delimiter=delimiter), [])
    decimal_comma = any(_DECIMAL_COMMA.match(field) for field in fields)
    found = _OTHER_DELIMITERS[delimiter] + (" and writes decimal commas ('5,1')" if decimal_comma else "")
    # Spreadsheets in locales whose decimal mark is a comma separate CSV columns with semicolons.
    locale = ", as a spreadsheet set to a European locale exports CSV" if delimiter == ";" else ""
    return (
        f"{path} separates its columns with {found}{locale}; "
        "CsvExampleGen reads commas between columns and decimal points: export it again as comma-separated "
        "with '.' for decimals (pandas: pd.read_csv(path, sep="
        f"{delimiter!r}{', decimal=' + repr(',') if decimal_comma else ''}).to_csv(path, index=False))."
    )


def _shown(path: Path) -> str:
    if path.is_symlink() and not path.exists():  # leads nowhere or round in a circle
        return f"{path.name} (a link to {os.readlink(path)}, which cannot be followed)"
    return f"{path.name}/" if path.is_dir() else path.name


def _escaped(name: str) -> str:
    """The name with its invisible characters written as escapes: '\\u200bsepal_length'."""
    return (
        "'"
        + "".join(
            f"\\u{ord(char):04x}" if unicodedata.category(char) in _INVISIBLE_CATEGORIES else char for char in name
        )
        + "'"
    )
