"""Label Studio's CSV and TSV exports, person by person: the rows its converter writes,
one per annotation.

A row is one person's labels on one image, read as the JSON export's annotations are
(``labeler.imports.reading.label_studio``): the person from the ``annotator`` column, the labels
from the column the converter names after the labelling config's ``<Choices name>``,
the dates and lead time from theirs. The CSV holds less than the JSON: the cancelled
annotations are not in it, nor which annotation is ground truth. Plain Python, no Django.
"""

from __future__ import annotations

from collections.abc import Callable

from labeler.imports.reading.csv_text import csv_rows
from labeler.imports.reading.label_studio import (
    NOT_LABELLED,
    UNKNOWN,
    Field,
    json_list,
    label_studio_file_key,
    lead_time_ms_of,
    moment_of,
    names_kept,
    own_decision,
    person_named,
    sha256_of,
    unknown_authors_apart,
)
from labeler.imports.reading.loader import LabelSourceError, names_field, text_field
from labeler.imports.reading.matching import normalised
from labeler.imports.reading.records import AnnotationIn, ImageRecords, RecordsFile, Skipped

# The columns of the converter's CSV that are not the choices: the annotation's, and the
# task data's (``image``; our own export's ``file_name`` and final label).
CSV_COLUMNS = frozenset(
    {
        "annotator",
        "annotation_id",
        "created_at",
        "updated_at",
        "lead_time",
        "id",
        "agreement",
        "history",
        "image",
        "file_name",
        "sha256",
        "split",
        "final_labels",
        "final_method",
        "decided_by",
        "final_decided_by",
        "decided_at",
        "final_confidence",
        "image_id",
    }
)
CHOICE_COLUMNS = ("choice", "choices", "label", "labels", "class", "category")


def label_studio_csv_records_of(text: str, delimiter: str = ",") -> RecordsFile:
    """Every person's labels in Label Studio's CSV export (``delimiter`` a tab: TSV).

    The converter writes a row per annotation that was not cancelled (a task without
    annotations gets one row without), its columns sorted: ``annotation_id``,
    ``annotator`` (an id, or an e-mail when the export expanded ``completed_by``),
    ``created_at``, ``updated_at``, ``lead_time``, the task's ``id`` and data (``image``),
    and a column named after each ``<Choices name>`` of the labelling config: one choice
    as its text, several as JSON (``{"choices": ["cat", "dog"]}``). Ground truth is not
    in it, nor the cancelled annotations.
    """
    other = "label-studio-csv" if delimiter == "\t" else "label-studio-tsv"
    rows = csv_rows(text, delimiter=delimiter, other_format=other)
    first = next(rows, None)
    if first is None:
        raise LabelSourceError("The file is empty; Label Studio's export has a header.", line=1)
    reader = _CsvReader(_csv_columns(first[1]))
    for line, row in rows:
        if any(cell.strip() for cell in row):
            reader.row_read(row, f"line {line}")
    unknown_authors_apart(reader.records)
    return reader.records


def _csv_columns(header: list[str]) -> dict[str, int]:
    """The header's columns by name (the first of a name), the choices' as ``""``."""
    names = [cell.strip().lower() for cell in header]
    found = ", ".join(repr(cell) for cell in header[:20]) or "nothing"
    if "annotator" not in names:
        raise LabelSourceError(
            "The header has no annotator column, which Label Studio's CSV export always has; "
            f"found {found}. For a CSV of file and label columns use labels_format=csv.",
            line=1,
        )
    if "file_name" not in names and "image" not in names:
        raise LabelSourceError(f"The header has no image column; found {found}.", line=1)
    columns = {name: at for at, name in reversed(list(enumerate(names)))}
    candidates = [
        name
        for name in names
        if name not in CSV_COLUMNS
        and not name.startswith("_data_")
        and not name.endswith("_transcript")
    ]
    preferred = [name for name in CHOICE_COLUMNS if name in candidates]
    if len(candidates) > 1 and len(preferred) != 1:
        shown = ", ".join(repr(name) for name in candidates[:20])
        raise LabelSourceError(
            f"Which column holds the choices: {shown}? The export names it after the "
            "labelling config's <Choices name>; keep that column only.",
            line=1,
        )
    if candidates:
        columns[""] = columns[preferred[0] if preferred else candidates[0]]
    return columns


# The cells our own export writes a task's final label in, repeated on each of its rows.
FINAL_CELLS = ("final_method", "final_labels", "decided_by", "final_decided_by", "decided_at")


class _CsvReader:
    """The records of the converter's rows, read one at a time."""

    def __init__(self, columns: dict[str, int]) -> None:
        self.columns = columns
        self.records = RecordsFile()
        # The tasks whose final label was read, with its cells and the row that gave it.
        self.decided: dict[str, tuple[tuple[str, ...], str]] = {}

    def row_read(self, row: list[str], where: str) -> None:
        def cell(name: str) -> str:
            at = self.columns.get(name)
            return row[at] if at is not None and at < len(row) else ""

        task = cell("id").strip() or where
        if cell("file_name").strip():
            key = normalised(text_field(cell("file_name"), f"{where}: file_name"))
        else:
            image = text_field(cell("image"), f"{where}: image")
            key = label_studio_file_key(image, f"{where}: image")
        records = ImageRecords(where=where, sha256=sha256_of(cell("sha256"), f"{where}: sha256"))
        if cell("annotator").strip() or cell("annotation_id").strip() or cell("").strip():
            self._annotation_read(records, cell, where)
        else:  # a task without annotations: its one row
            self.records.skipped.append(Skipped(where, NOT_LABELLED))
        final = tuple(cell(name) for name in FINAL_CELLS)
        first = self.decided.get(task)
        if first is None:  # each of a task's rows repeats its data
            self.decided[task] = (final, where)
            self.records.tasks += 1
            field: Field = lambda name: (cell(name), f"{where}: {name}")  # noqa: E731
            records.decision = own_decision(field, [], where, self.records)
        elif final != first[0]:
            self.records.skipped.append(
                Skipped(
                    where,
                    f"its final label differs from the one of this task's first row "
                    f"({first[1]}), which is kept",
                )
            )
        if records.annotations or records.decision is not None:
            self.records.add(key, records)

    def _annotation_read(
        self, records: ImageRecords, cell: Callable[[str], str], where: str
    ) -> None:
        labels = _csv_choices(cell(""), f"{where}: choices")
        annotator = text_field(cell("annotator"), f"{where}: annotator", blank=True)
        person = person_named(annotator, f"{where}: annotator")
        created = moment_of(cell("created_at"), f"{where}: created_at")
        updated = moment_of(cell("updated_at"), f"{where}: updated_at")
        left_out: list[Skipped] = []
        lead_time_ms = lead_time_ms_of(cell("lead_time"), f"{where}: lead_time", left_out)
        if not labels:
            self.records.skipped.append(Skipped(where, "no choices in this row: nothing to import"))
            return
        found = AnnotationIn(person or UNKNOWN, labels, where, created, updated, lead_time_ms)
        records.annotations.append(found)
        self.records.skipped += left_out


def _csv_choices(text: str, where: str) -> list[str]:
    """The label names of a choices cell: one choice as its text, several as the JSON the
    converter writes (``{"choices": [...]}``, or a list of such and of texts)."""
    text = text_field(text, where, blank=True)
    items = json_list(text)
    if items is None:
        return names_kept([text])
    names: list[str] = []
    for item in items:
        names += names_field(item.get("choices") if isinstance(item, dict) else item, where)
    return names_kept(names)
