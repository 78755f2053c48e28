"""What a labels file says about each image, person by person.

The flat sources (a folder per label, a CSV of file and label, COCO, our JSON) give each
file a list of label names, which the import records as ``labels_as`` says. The sources
that know who labelled what (a Label Studio export, CVAT's XML, Labelbox NDJSON, a CSV
with a column per annotator, FiftyOne) give each file an ``ImageRecords``: every
annotation with its person, dates and lead time, and the decision a lead made (ground
truth, a review), so nothing collapses into one label per image.

A ``RecordsFile`` is what such a source read: the records by file key, the people it
names, what it counted (tasks, annotations, labels) and the lines it could not use, each
with its reason. Plain Python, no Django: the command-line client reads files the same way.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

from labeler.imports.reading.metadata_in import MetadataIn

# How a carried decision is recorded: the final label methods an import may write.
GOLD, ADJUDICATED, IMPORTED = "gold", "adjudicated", "imported"
DECISION_METHODS = (GOLD, ADJUDICATED, IMPORTED)


@dataclass(frozen=True)
class Person:
    """Someone a labels file names. ``key`` is how the file names them, unique in it
    (``ls:3``, ``alice@example.org``, ``cvat:alice``); ``email`` and ``username`` are what
    it says of them, to match a member of the project by."""

    key: str
    email: str = ""
    username: str = ""

    def shown(self) -> str:
        """How a report names them."""
        return self.email or self.username or self.key


@dataclass
class AnnotationIn:
    """One person's labels on one image, as the file gives them."""

    person: Person
    labels: list[str]
    where: str = ""  # the record in the file ("Task 3: annotation 2"), for the report
    created_at: datetime | None = None
    updated_at: datetime | None = None
    lead_time_ms: int | None = None


@dataclass
class DecisionIn:
    """A decision on an image's final label the file carries: ground truth (gold), a
    reviewer's (adjudicated), or a final label of unknown making (imported)."""

    labels: list[str]
    method: str  # one of DECISION_METHODS
    where: str = ""
    by: Person | None = None
    decided_at: datetime | None = None


@dataclass
class ImageRecords:
    """Everything a file says about one image."""

    annotations: list[AnnotationIn] = field(default_factory=list)
    decision: DecisionIn | None = None
    where: str = ""  # the first record naming it ("Task 3"), for the report
    sha256: str = ""  # the image's content hash where the file gives it (our own export)
    # What the record says of the image beside its labels (capture time, fields...).
    metadata: MetadataIn | None = None

    def people(self) -> Iterator[Person]:
        for annotation in self.annotations:
            yield annotation.person
        if self.decision is not None and self.decision.by is not None:
            yield self.decision.by

    def label_count(self) -> int:
        decided = len(self.decision.labels) if self.decision else 0
        return sum(len(a.labels) for a in self.annotations) + decided


def email_key(email: str) -> str:
    """The key of a person a file names by e-mail: the address in Unicode's composed form
    (NFC), lower case, so that one address written in two cases or compositions is one
    person."""
    return unicodedata.normalize("NFC", email.strip()).lower()


@dataclass(frozen=True)
class Skipped:
    """A record of the file the import does not apply, and why (``Task 4: annotation 2``,
    ``was cancelled in Label Studio``)."""

    record: str
    reason: str


@dataclass
class RecordsFile:
    """What a per-person labels file holds: records by file key, and what was left."""

    images: dict[str, ImageRecords] = field(default_factory=dict)
    skipped: list[Skipped] = field(default_factory=list)
    tasks: int = 0  # the records the file holds (tasks, rows, images), used or not

    def people(self) -> list[Person]:
        """Everyone the file names, once each, in their first order; the e-mail and
        username a record gives them, where the first to name them gave none (Label Studio
        names one person by their id here and by the expanded object there)."""
        seen: dict[str, Person] = {}
        for records in self.images.values():
            for person in records.people():
                known = seen.setdefault(person.key, person)
                if known is not person and (
                    (person.email and not known.email) or (person.username and not known.username)
                ):
                    seen[person.key] = Person(
                        known.key, known.email or person.email, known.username or person.username
                    )
        return list(seen.values())

    def people_joined(self) -> None:
        """Make one person of the keys that give the same e-mail: a file may name someone
        by an id here (with their e-mail) and by the e-mail alone there (Label Studio's
        expanded ``completed_by`` beside our own export's ``final_decided_by``). Their
        records go to the first key the file names them by."""
        first: dict[str, Person] = {}
        joined: dict[str, Person] = {}
        for person in self.people():
            if person.email:
                kept = first.setdefault(email_key(person.email), person)
                if kept is not person:
                    joined[person.key] = kept
        if not joined:
            return
        for records in self.images.values():
            for annotation in records.annotations:
                annotation.person = joined.get(annotation.person.key, annotation.person)
            decision = records.decision
            if decision is not None and decision.by is not None:
                decision.by = joined.get(decision.by.key, decision.by)

    def annotation_count(self) -> int:
        return sum(len(records.annotations) for records in self.images.values())

    def decision_count(self) -> int:
        return sum(records.decision is not None for records in self.images.values())

    def label_count(self) -> int:
        return sum(records.label_count() for records in self.images.values())

    def add(self, key: str, records: ImageRecords) -> None:
        """Add an image's records; a key named again adds its annotations (a decision
        named twice keeps the first and lists the second as skipped). Keys are kept in
        Unicode's composed form (NFC), as files are matched: ``Été.jpg`` written composed
        in one record and decomposed in another is one image, not two entries that would
        make its match ambiguous."""
        key = unicodedata.normalize("NFC", key)
        current = self.images.get(key)
        if current is None:
            self.images[key] = records
            return
        current.annotations.extend(records.annotations)
        current.sha256 = current.sha256 or records.sha256
        if current.metadata is None:
            current.metadata = records.metadata
        elif records.metadata is not None:
            current.metadata.merge(records.metadata)
        if records.decision is not None:
            if current.decision is None:
                current.decision = records.decision
            else:
                self.skipped.append(
                    Skipped(
                        records.decision.where or records.where,
                        f"a second decision for {key!r}; the first "
                        f"({current.decision.where or current.where}) is kept",
                    )
                )
