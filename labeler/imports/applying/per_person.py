"""Applying a per-person file's records to one stored image: each person's annotation
(their latest, when the file holds several on the image), then the carried decision,
each through the labels writers (``labeler.imports.applying.labels``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.contrib.auth.models import User
from django.db import transaction

from labeler.annotations.submit import MAX_TIME_SPENT_MS
from labeler.images.models import Image
from labeler.imports.applying.accounts import people_resolve
from labeler.imports.applying.labels import (
    LabelsRefused,
    annotation_imported,
    decision_check,
    decision_record,
)
from labeler.imports.applying.summary import (
    APPLIED,
    REFUSED,
    ImportResult,
    ImportRun,
    ImportSummary,
)
from labeler.imports.planning.labels_in import PersonOut
from labeler.imports.planning.people import (
    contradictions_confirmed_check,
    people_contradictions,
    people_match,
)
from labeler.imports.reading.records import AnnotationIn, DecisionIn, ImageRecords, Person


@dataclass
class _Tally:
    """What one file's records came to: written, already recorded, refused, and the
    label names recorded on the image."""

    written: int = 0
    unchanged: int = 0
    refused: int = 0
    names: list[str] = field(default_factory=list)

    def count(self, changed: bool) -> None:
        self.written += changed
        self.unchanged += not changed


def records_apply(
    shared: ImportRun, image: Image, records: ImageRecords, result: ImportResult
) -> None:
    """Record a per-person file's records on the image: each person's annotation (their
    latest, when the file holds several on the image), then the carried decision. Each
    is written or refused on its own; every refusal is listed."""
    tally = _Tally()
    for annotation in _latest_each(shared, records, result.name):
        _annotation_apply(shared, image, annotation, result, tally)
    summary = shared.summary
    summary.annotations_written += tally.written
    summary.annotations_unchanged += tally.unchanged
    result.annotations = tally.written + tally.unchanged
    decision = records.decision
    first = shared.decided.get(image.pk)
    if decision is not None and first is not None:
        if decision is not first:  # the same entry twice decides nothing more
            summary.lost(
                decision.where or result.name,
                f"A second decision for this image ({result.name} has the content of an "
                f"earlier file); the first ({first.where}) is kept.",
            )
            tally.refused += 1
        decision = None
    if decision is not None:
        _decision_apply(shared, image, decision, result, tally)
    result.label_names = tally.names
    if tally.written or tally.unchanged:
        result.labels = APPLIED
        result.labels_reason = "" if tally.written else "Already recorded."
    elif tally.refused:
        result.labels = REFUSED
        result.labels_reason = "Every record of this file was refused; the report lists why."


def _annotation_apply(
    shared: ImportRun, image: Image, annotation: AnnotationIn, result: ImportResult, tally: _Tally
) -> None:
    """Record one person's annotation on the image, or list why not."""
    summary = shared.summary
    where = annotation.where or result.name
    kept = shared.recorded.get((image.pk, annotation.person.key))
    if kept is not None and kept[0] is annotation:  # one entry taken twice: recorded
        return
    if kept is not None and not _replaces(shared, image, annotation, where):
        tally.refused += 1
        return
    try:
        checked = shared.labels.check(annotation.labels)
        if not checked:
            raise LabelsRefused("The annotation gives no label.")
        # An account or a label made here outlives a refusal of the annotation (the labels
        # are kept by name for the annotations after this one). The annotation's writer
        # refuses before it writes anything: no savepoint of its own to undo it with.
        annotator = _account(shared, annotation.person)
        written = annotation_imported(
            project=shared.project,
            image=image,
            labels=shared.labels.resolve(checked),
            annotator=annotator,
            by=shared.user,
            created_at=annotation.created_at,
            updated_at=annotation.updated_at,
            time_spent_ms=_time_spent(annotation, summary),
            credits=shared.credits,
            before=shared.before,
        )
    except LabelsRefused as exc:
        summary.lost(where, f"{annotation.person.shown()}: {exc}")
        tally.refused += 1
        return
    changed = written.changed
    if written.note:
        summary.lost(where, f"{annotation.person.shown()}: {written.note}")
    shared.recorded[image.pk, annotation.person.key] = (annotation, changed, len(checked))
    tally.count(changed)
    summary.labels_out += len(checked)
    tally.names.extend(n for n in checked if n not in tally.names)


def _decision_apply(
    shared: ImportRun, image: Image, decision: DecisionIn, result: ImportResult, tally: _Tally
) -> None:
    """Record the file's decision on the image, or list why not."""
    summary = shared.summary
    try:
        checked = shared.labels.check(decision.labels)
        if not checked:
            raise LabelsRefused("The decision gives no label.")
        by = _account(shared, decision.by) if decision.by else None
        resolved = shared.labels.resolve(checked)  # made outside the savepoint: it outlives it
        with transaction.atomic():
            decision_check(image=image, method=decision.method)
            changed = decision_record(
                project=shared.project,
                image=image,
                labels=resolved,
                method=decision.method,
                decided_by=by or shared.user,
            )
    except LabelsRefused as exc:
        summary.lost(decision.where or result.name, f"The {decision.method} decision: {exc}")
        tally.refused += 1
        return
    tally.count(changed)
    summary.decisions_written += changed
    summary.decisions_unchanged += not changed
    summary.labels_out += len(checked)
    shared.decided[image.pk] = decision
    result.decision = decision.method
    tally.names = checked


def _replaces(shared: ImportRun, image: Image, annotation: AnnotationIn, where: str) -> bool:
    """Whether the annotation replaces the one by the same person that this import
    recorded on the image from an earlier file with the same content: the later of the two
    is kept (the first on a tie), the other listed, and its counts undone if replaced."""
    key = (image.pk, annotation.person.key)
    kept, changed, labels = shared.recorded[key]
    summary = shared.summary
    if _when(annotation) <= _when(kept):
        summary.lost(
            where,
            f"{annotation.person.shown()} labelled this image again ({kept.where}, a file "
            "with the same content); their later annotation is kept.",
        )
        return False
    summary.lost(
        kept.where,
        f"{annotation.person.shown()} labelled this image again ({where}, a file with the "
        "same content); their later annotation is kept.",
    )
    summary.annotations_written -= changed
    summary.annotations_unchanged -= not changed
    summary.labels_out -= labels
    del shared.recorded[key]
    return True


def _time_spent(annotation: AnnotationIn, summary: ImportSummary) -> int | None:
    """The annotation's lead time, unless it is past what a label can take (a day): the
    labels go in, the time is left out and the report says so."""
    spent = annotation.lead_time_ms
    if spent is not None and not 0 <= spent <= MAX_TIME_SPENT_MS:
        summary.lost(
            annotation.where,
            f"The lead time ({spent / 1000:,.0f} s) is past a day; the labels are kept without it.",
        )
        return None
    return spent


def _account(shared: ImportRun, person: Person) -> User:
    """The account a person's labels go to: as resolved before the first file, or, for
    a person the import was not told of up front, matched and resolved now."""
    user = shared.people.get(person.key)
    if user is None:
        matches = people_match(project=shared.project, people=[person])
        contradictions_confirmed_check(
            people_contradictions(project=shared.project, matches=matches),
            shared.people_confirmed,
        )
        user = people_resolve(project=shared.project, matches=matches)[person.key]
        shared.people[person.key] = user
        shared.summary.people += [
            PersonOut(m.person.key, m.person.shown(), m.account, m.how) for m in matches
        ]
    return user


def _latest_each(shared: ImportRun, records: ImageRecords, name: str) -> list[AnnotationIn]:
    """Each person's latest annotation of the image; the earlier ones are listed."""
    latest: dict[str, AnnotationIn] = {}
    for annotation in records.annotations:
        kept = latest.get(annotation.person.key)
        if kept is None:
            latest[annotation.person.key] = annotation
            continue
        older, newer = sorted((kept, annotation), key=_when)
        latest[annotation.person.key] = newer
        shared.summary.lost(
            older.where or name,
            f"{annotation.person.shown()} labelled this image again "
            f"({newer.where or 'later'}); their later annotation is kept.",
        )
    return list(latest.values())


def _when(annotation: AnnotationIn) -> datetime:
    when = annotation.updated_at or annotation.created_at
    if when is None:
        return datetime.min.replace(tzinfo=UTC)
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)
