"""How a labels CSV names its columns and writes its cells, shared by the CSV sources (a
file and its labels; a column per annotator) and our CSV export."""

from __future__ import annotations

import re

FILE_COLUMNS = ("file", "file_name", "filename", "image", "path")
LABEL_COLUMNS = ("label", "labels")
LABEL_SEPARATORS = re.compile(r"[;|]")
# A spreadsheet runs a cell starting with one of these as a formula: our CSV export
# quotes such cells (CSV injection), and the CSV sources take the quote off again.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def cell_unquoted(cell: str) -> str:
    """A cell without the quote a CSV export puts before text starting like a formula."""
    return cell[1:] if cell.startswith("'") and cell[1:2] in FORMULA_STARTS else cell


def header_names(header: list[str]) -> list[str]:
    """A header's cells as column names are matched: stripped, lower case, no byte order
    mark."""
    return [cell.strip().lstrip("\ufeff").lower() for cell in header]
