"""What comes in: each file with its entry of the labels file (``ImportItem``), the
counts of what the labels file held (``LabelsIn``), and how the import's records and
people come out of it (``NotApplied``, ``PersonOut``).

How the labels go in (``labels_as``): ``final``, imported final labels (the images are
done); ``gold``, gold labels, as a lead decides them; ``annotation``, annotations of one
more annotator, an account that cannot log in (``imported`` unless named).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from labeler.images.pixels.files import RejectedFile
from labeler.imports.reading.metadata_in import MetadataIn
from labeler.imports.reading.records import ImageRecords, Person, RecordsFile, Skipped

FINAL, GOLD, ANNOTATION = "final", "gold", "annotation"
LABELS_AS = (FINAL, GOLD, ANNOTATION)
DEFAULT_ANNOTATOR = "imported"


class ImportItem(NamedTuple):
    """One file to import: its name (a relative path), its bytes (or why it was refused
    before reading) and its labels: label names recorded as the import's ``labels_as``
    says, or the records of a per-person file (each annotation its person's, a carried
    decision), or None when none are known. ``refusal`` says why labels that exist for
    it could not be attributed (an ambiguous file name); ``no_labels`` why none were
    found for it (no entry of the labels file names it); ``metadata`` what its entry says
    of the image (capture time, position, fields...), set on the image stored."""

    name: str
    data: bytes | RejectedFile
    labels: Sequence[str] | ImageRecords | None
    refusal: str = ""
    no_labels: str = ""
    metadata: MetadataIn | None = None  # what its entry says of the image beside labels


@dataclass(frozen=True)
class NotApplied:
    """A record of the labels file, or a file, whose labels the import did not write,
    and why: every loss is listed."""

    record: str
    reason: str


@dataclass
class LabelsIn:
    """What the labels file held, for the counts in: its records (tasks, rows, entries),
    annotations, decisions and label values, the people it names, and the records its
    reader could not use. ``unmatched``, called once every file went by, gives the
    entries no file took."""

    records: int = 0
    annotations: int = 0
    decisions: int = 0
    labels: int = 0
    people: list[Person] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    unmatched: Callable[[], Iterable[str]] | None = None
    per_person: bool = False  # the file says who made each label
    # What the file's records say of their images beside the labels, by key: every
    # value is checked against the project before the first file is stored.
    metadata: Mapping[str, MetadataIn] = field(default_factory=dict)
    # A per-person file's records by key, for the dry run to tell which records would not
    # replace a member's annotation.
    entries: Mapping[str, ImageRecords] = field(default_factory=dict, repr=False)

    @classmethod
    def of(
        cls,
        labels: Mapping[str, Sequence[str]] | RecordsFile,
        *,
        labels_as: str,
        unmatched: Callable[[], Iterable[str]] | None = None,
        metadata: Mapping[str, MetadataIn] | None = None,
    ) -> LabelsIn:
        """The counts of a flat labels mapping (as ``labels_as`` records it) or of a
        per-person file, with the file's metadata."""
        if isinstance(labels, RecordsFile):
            return cls(
                records=labels.tasks or len(labels.images),
                annotations=labels.annotation_count(),
                decisions=labels.decision_count(),
                labels=labels.label_count(),
                people=labels.people(),
                skipped=list(labels.skipped),
                unmatched=unmatched,
                per_person=True,
                metadata=metadata or {},
                entries=labels.images,
            )
        found = cls.of_entries(list(labels.values()), labels_as=labels_as, unmatched=unmatched)
        found.metadata = metadata or {}
        return found

    def counts(self, files: int) -> dict[str, int]:
        """The counts in, as every import and dry run reports them, with ``files`` offered."""
        return {
            "files": files,
            "records": self.records,
            "annotations": self.annotations,
            "decisions": self.decisions,
            "labels": self.labels,
        }

    @classmethod
    def of_entries(
        cls,
        entries: Sequence[Sequence[str]],
        *,
        labels_as: str,
        unmatched: Callable[[], Iterable[str]] | None = None,
    ) -> LabelsIn:
        """The counts of flat entries (each a file's label names), recorded as
        ``labels_as`` says: an annotation each, or a decision each."""
        labelled = sum(1 for names in entries if names)
        annotated = labels_as == ANNOTATION
        return cls(
            records=len(entries),
            annotations=labelled if annotated else 0,
            decisions=0 if annotated else labelled,
            labels=sum(len(names) for names in entries),
            unmatched=unmatched,
        )


@dataclass
class PersonOut:
    """Whose account a person of the labels file's annotations went to, and how."""

    key: str
    shown: str
    account: str
    how: str
