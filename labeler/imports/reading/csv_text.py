"""A CSV or TSV labels file, row by row, its refusals naming the line and what to do.

Python's csv module answers a file it cannot split with terse messages (``',' expected
after '"'``) that do not say why: most often a TSV file read as CSV (its quoted cells
are followed by a tab, not a comma), the other way round, or a quote left unclosed.
These say which, and the format that would read the file.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator

from labeler.imports.reading.loader import LabelSourceError

_FIELD_LIMIT = re.compile(r"field larger than field limit \((\d+)\)")


def csv_rows(text: str, *, delimiter: str, other_format: str) -> Iterator[tuple[int, list[str]]]:
    """Each row of ``text`` with the number of the line it ends on.

    ``other_format`` is the labels format that reads the file split the other way (TSV
    for a CSV reader, CSV for a TSV one), named in the message when the cells do not
    split at ``delimiter``. Raises LabelSourceError naming the line.
    """
    reader = csv.reader(io.StringIO(text), delimiter=delimiter, strict=True)
    try:
        for row in reader:
            yield reader.line_num, row
    except csv.Error as exc:
        message = _message(str(exc), delimiter, other_format)
        raise LabelSourceError(message, line=reader.line_num) from exc


def _message(error: str, delimiter: str, other_format: str) -> str:
    separator, other = ("a tab", "a CSV") if delimiter == "\t" else ("a comma", "a TSV")
    if "expected after" in error:
        return (
            f"a quoted cell goes on after its closing quote instead of ending at {separator}: "
            f"is this {other} file? Use labels_format={other_format}. (Or a quote inside a "
            'quoted cell is not doubled: write "" for it.)'
        )
    if "unexpected end of data" in error:
        return "a quoted cell is never closed: its closing quote is missing."
    limit = _FIELD_LIMIT.search(error)
    if limit is not None:
        return f"a cell is longer than {int(limit.group(1)):,} characters."
    kind = "TSV" if delimiter == "\t" else "CSV"
    return f"Not a readable {kind} file: {error}."
