"""What an import did: each file's result (``ImportResult``), the counts over the
import (``ImportSummary``), and what every file of one import shares as it is applied
(``ImportRun``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from django.contrib.auth.models import User
from django.utils import timezone

from labeler.annotations.imported import AnnotationsBefore, ImportCredits
from labeler.images.catalogue.descriptions import Description
from labeler.imports.applying.labels import DecisionsBatch, ProjectLabels
from labeler.imports.planning.labels_in import NotApplied, PersonOut
from labeler.imports.reading.metadata_in import MetadataIn
from labeler.imports.reading.records import AnnotationIn, DecisionIn
from labeler.projects.models import Project

APPLIED, REFUSED, NONE = "applied", "refused", "none"


@dataclass
class ImportResult:
    """What became of one file and of its labels."""

    name: str
    status: str  # "created", "duplicate" or "rejected"
    image_id: int | None = None
    reason: str = ""
    labels: str = NONE  # "applied", "refused" or "none"
    labels_reason: str = ""
    label_names: list[str] = field(default_factory=list)
    annotations: int = 0  # a per-person file's annotations recorded on it (new or kept)
    decision: str = ""  # the method of the decision recorded on it, if any
    metadata: bool = False  # whether its entry's metadata was set on it


@dataclass
class ImportSummary:
    """Counts over an import, each file's result (unless reported one by one) and the
    labels it created."""

    created: int = 0
    duplicates: int = 0
    rejected: int = 0
    labels_applied: int = 0
    labels_refused: int = 0
    labels_none: int = 0
    labels_created: list[str] = field(default_factory=list)
    results: list[ImportResult] = field(default_factory=list)
    changed: int = 0  # files whose labels were written (not already recorded as given)
    # In: what was offered (files) and what the labels file held.
    files_in: int = 0
    records_in: int = 0
    annotations_in: int = 0
    decisions_in: int = 0
    labels_in: int = 0
    # Out: what was written (or found already recorded as the file says).
    annotations_written: int = 0
    annotations_unchanged: int = 0
    decisions_written: int = 0
    decisions_unchanged: int = 0
    labels_out: int = 0
    metadata_out: int = 0  # images whose metadata the labels file set
    people: list[PersonOut] = field(default_factory=list)
    not_applied: list[NotApplied] = field(default_factory=list)

    def add(self, result: ImportResult) -> None:
        """Count one file's result."""
        status = {"created": "created", "duplicate": "duplicates", "rejected": "rejected"}
        setattr(self, status[result.status], getattr(self, status[result.status]) + 1)
        name = f"labels_{result.labels}"
        setattr(self, name, getattr(self, name) + 1)
        self.files_in += 1

    def counts(self) -> dict[str, dict[str, int]]:
        """The counts in and out, as every import path reports them."""
        return {
            "in": {
                "files": self.files_in,
                "records": self.records_in,
                "annotations": self.annotations_in,
                "decisions": self.decisions_in,
                "labels": self.labels_in,
            },
            "out": {
                "images": self.created + self.duplicates,
                "images_created": self.created,
                "annotations": self.annotations_written + self.annotations_unchanged,
                "annotations_written": self.annotations_written,
                "decisions": self.decisions_written + self.decisions_unchanged,
                "decisions_written": self.decisions_written,
                "labels": self.labels_out,
                "metadata": self.metadata_out,
                "not_applied": len(self.not_applied),
            },
        }

    def lost(self, record: str, reason: str) -> None:
        """List a record whose labels were not written."""
        self.not_applied.append(NotApplied(record, reason))


@dataclass
class ImportRun:
    """What every file of one import shares."""

    project: Project
    labels_as: str
    labels: ProjectLabels
    user: User | None
    annotator: User | None
    new_files: list[str]  # stored by this import: removed again if it is undone
    summary: ImportSummary
    # The history's credit of the per-person annotations written: made after each batch of
    # files, and so before the import commits.
    credits: ImportCredits
    # The annotations of the batch of files being recorded, read together before any is
    # written, and its new ones waiting to be written together (an import that records
    # annotations).
    before: AnnotationsBefore | None = None
    people: dict[str, User] = field(default_factory=dict)  # person key -> account
    # The people whose match contradicts the file that the lead confirmed (keys, e-mails).
    people_confirmed: Sequence[str] = ()
    started: datetime = field(default_factory=timezone.now)
    # What this import recorded on each image, for a file with the content of an earlier
    # one (a duplicate): (image, person key) -> the annotation, whether it changed
    # anything and its label count; image -> the decision.
    recorded: dict[tuple[int, str], tuple[AnnotationIn, bool, int]] = field(default_factory=dict)
    decided: dict[int, DecisionIn] = field(default_factory=dict)
    # What an entry's metadata sets of its image, checked against the project's fields.
    describe: Callable[[MetadataIn], Description] | None = None
    # Final or gold labels (labels_as final or gold): written a batch of files at a time,
    # each waiting file's result and name kept until then, in the files' order.
    decisions: DecisionsBatch | None = None
    waiting: list[tuple[ImportResult, str]] = field(default_factory=list)
