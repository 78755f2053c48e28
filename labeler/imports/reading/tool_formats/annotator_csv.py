"""A CSV with a column per annotator: ``file,<person>,<person>,...``."""

from __future__ import annotations

import csv
import io

from labeler.imports.reading.csv_cells import (
    FILE_COLUMNS,
    LABEL_COLUMNS,
    LABEL_SEPARATORS,
    cell_unquoted,
    header_names,
)
from labeler.imports.reading.loader import LabelSourceError, text_field
from labeler.imports.reading.matching import normalised
from labeler.imports.reading.records import AnnotationIn, ImageRecords, Person, RecordsFile, Skipped
from labeler.imports.reading.tool_formats.names import name_add


def annotator_columns_records(text: str) -> RecordsFile:
    """The records of a CSV with a column per annotator: ``file,<person>,<person>,...``.

    The file column is found as the CSV source finds it (``file``, ``file_name``,
    ``filename``, ``image`` or ``path``, any case); every other column is a person, named
    by its header (an e-mail or a username). A cell holds that person's labels (several
    separated by ``;`` or ``|``); an empty cell means they did not label the file. A file
    on several rows gets each person's labels of all of them; a row where no one labelled
    the file is listed as skipped.
    """
    reader = csv.reader(io.StringIO(text), strict=True)
    result = RecordsFile()
    try:
        header = next(reader, None)
        if header is None:
            raise LabelSourceError("The CSV file is empty; it needs a header row.", line=1)
        file_at, people = _annotator_columns(header)
        images: dict[str, dict[str, AnnotationIn]] = {}
        for row in reader:
            if any(cell.strip() for cell in row):
                result.tasks += 1
                _annotator_row(result, images, row, file_at, people, reader.line_num)
    except csv.Error as exc:
        raise LabelSourceError(f"Not a readable CSV file: {exc}", line=reader.line_num) from exc
    for key, by_person in images.items():
        first = next(iter(by_person.values()))
        result.add(key, ImageRecords(list(by_person.values()), where=first.where))
    return result


def _annotator_columns(header: list[str]) -> tuple[int, dict[int, Person]]:
    """The file column's index, and the person each other column names, by index."""
    names = header_names(header)
    found = ", ".join(repr(cell) for cell in header[:20]) or "nothing"
    file_at = next((names.index(c) for c in FILE_COLUMNS if c in names), None)
    if file_at is None:
        raise LabelSourceError(
            f"The header has no file column (one of {', '.join(FILE_COLUMNS)}); found {found}.",
            line=1,
        )
    people: dict[int, Person] = {}
    seen: dict[str, int] = {}
    for at, cell in enumerate(header):
        name = cell.strip().lstrip("\ufeff")
        if at == file_at:
            continue
        if not name:
            raise LabelSourceError(f"Column {at + 1} has no header: name its annotator.", line=1)
        if names[at] in LABEL_COLUMNS or names[at] in FILE_COLUMNS:
            raise LabelSourceError(
                f"Column {at + 1} is {name!r}: here every column but the file's names an "
                "annotator (a CSV of file and label is read with labels_format=csv).",
                line=1,
            )
        if names[at] in seen:
            raise LabelSourceError(
                f"{name!r} heads columns {seen[names[at]] + 1} and {at + 1}.", line=1
            )
        seen[names[at]] = at
        name = text_field(name, f"Column {at + 1}'s header")
        email = name if "@" in name else ""
        people[at] = Person(key=name, email=email, username="" if email else name)
    if not people:
        raise LabelSourceError(f"The header names no annotator; found {found}.", line=1)
    return file_at, people


def _annotator_row(
    result: RecordsFile,
    images: dict[str, dict[str, AnnotationIn]],
    row: list[str],
    file_at: int,
    people: dict[int, Person],
    line: int,
) -> None:
    if len(row) > len(people) + 1:
        raise LabelSourceError(
            f"{len(row)} cells, but the header names {len(people) + 1} columns.", line=line
        )
    name = normalised(cell_unquoted(row[file_at]) if file_at < len(row) else "")
    if not name:
        raise LabelSourceError("The file name is empty.", line=line)
    labelled = False
    for at, person in people.items():
        cell = cell_unquoted(row[at]) if at < len(row) else ""
        labels = [label.strip() for label in LABEL_SEPARATORS.split(cell) if label.strip()]
        if not labels:
            continue
        labelled = True
        annotations = images.setdefault(name, {})
        if person.key in annotations:
            for label in labels:
                name_add(annotations[person.key].labels, label)
        else:
            annotations[person.key] = AnnotationIn(person, labels, where=f"line {line}")
    if not labelled:
        result.skipped.append(
            Skipped(f"line {line}", f"no one labelled {name!r}: every annotator's cell is empty")
        )
