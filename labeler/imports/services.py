"""Importing images that come with their labels: each file stored as an upload is, then
its labels recorded with their origin (see ``labeler.imports.labels``). A new image's
``source`` is "import" and its ``source_key`` the file's path in the imported folder (the
file's name as the client sent it, through the API).

Callers go through ``labeler.flows.images_import``, which prepares and pre-labels the new
images and refreshes the final labels once the import is done.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import NamedTuple

from django.contrib.auth.models import User
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from labeler.agreement.final_writes import final_labels_lock
from labeler.annotations.submit import MAX_TIME_SPENT_MS
from labeler.errors import ValidationFailed
from labeler.images.archives import is_archive
from labeler.images.catalogue.descriptions import Description, description_of_record
from labeler.images.catalogue.selectors import project_fields
from labeler.images.catalogue.services import image_describe
from labeler.images.models import Image
from labeler.images.pixels.files import RejectedFile, image_check
from labeler.images.services import image_store
from labeler.imports.labels import (
    ANNOTATION,
    DEFAULT_ANNOTATOR,
    FINAL,
    GOLD,
    LABELS_AS,
    LabelsRefused,
    ProjectLabels,
    annotation_imported,
    decision_check,
    decision_record,
    final_check,
    importer_account,
    labels_record,
    labels_recorded_since,
)
from labeler.imports.metadata_in import MetadataIn
from labeler.imports.people import people_match, people_resolve
from labeler.imports.records import (
    AnnotationIn,
    DecisionIn,
    ImageRecords,
    Person,
    RecordsFile,
    Skipped,
)
from labeler.projects.models import Project
from labeler.projects.services import project_import_mark

APPLIED, REFUSED, NONE = "applied", "refused", "none"


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
class _Import:
    """What every file of one import shares."""

    project: Project
    labels_as: str
    labels: ProjectLabels
    user: User | None
    annotator: User | None
    new_files: list[str]  # stored by this import: removed again if it is undone
    summary: ImportSummary
    people: dict[str, User] = field(default_factory=dict)  # person key -> account
    started: datetime = field(default_factory=timezone.now)
    # What this import recorded on each image, for a file with the content of an earlier
    # one (a duplicate): (image, person key) -> the annotation, whether it changed
    # anything and its label count; image -> the decision.
    recorded: dict[tuple[int, str], tuple[AnnotationIn, bool, int]] = field(default_factory=dict)
    decided: dict[int, DecisionIn] = field(default_factory=dict)
    # What an entry's metadata sets of its image, checked against the project's fields.
    describe: Callable[[MetadataIn], Description] | None = None


def images_import(
    *,
    project: Project,
    items: Iterable[ImportItem],
    labels_as: str,
    annotator_name: str | None = None,
    create_labels: bool = False,
    user: User | None,
    report: Callable[[ImportResult], object] | None = None,
    labels_in: LabelsIn | None = None,
    annotators: Mapping[str, str] | None = None,
) -> ImportSummary:
    """Store each file as an upload is stored and record its labels as ``labels_as`` says.

    Items whose labels are a per-person file's records (``ImageRecords``) keep each
    annotation as its person's: the people of ``labels_in`` are matched to the project's
    members (``labeler.imports.people``; ``annotators`` is the lead's choice, person key
    to member username or "new"), the others get inactive accounts, all before the first
    file. ``labels_in`` also gives the counts in and the records the reader could not
    use; the summary counts what went out and lists every record not applied.

    ``final``: an imported final label (the image is done); ``gold``: a gold label, as
    a lead decides it; ``annotation``: an annotation by the account ``annotator_name``
    (default ``imported``), which cannot log in. Duplicates get their labels too, so a
    second run updates and never adds. A bad file or label is reported and never stops
    the others; anything else that goes wrong (a lost connection, a deadlock) undoes the
    whole import, its stored files included: it is one transaction, all or nothing.
    Items are read one at a time; with ``report`` each result goes there as it comes and
    the summary keeps counts only. Raises ValidationFailed, before any file, for a bad
    ``labels_as``, annotator or user.
    """
    project_import_mark(project_id=project.pk)
    new_files: list[str] = []
    try:
        with transaction.atomic():
            summary = _import_all(
                project=project,
                items=items,
                labels_as=labels_as,
                annotator_name=annotator_name,
                create_labels=create_labels,
                user=user,
                report=report,
                new_files=new_files,
                labels_in=labels_in or LabelsIn(),
                annotators=annotators,
            )
    except BaseException:
        for name in new_files:
            default_storage.delete(name)
        raise
    # Retraining waits until the import settles, counted from its commit.
    project_import_mark(project_id=project.pk)
    return summary


def _import_all(
    *,
    project: Project,
    items: Iterable[ImportItem],
    labels_as: str,
    annotator_name: str | None,
    create_labels: bool,
    user: User | None,
    report: Callable[[ImportResult], object] | None,
    new_files: list[str],
    labels_in: LabelsIn,
    annotators: Mapping[str, str] | None,
) -> ImportSummary:
    """The import's transaction: the project's final-label lock first, as every writer of
    final labels takes it (docs/architecture.md, Locks), then the people of a per-person
    file, then the files one by one, then the records no file took."""
    per_person_check(labels_in, labels_as=labels_as, annotator=annotator_name)
    if labels_as != ANNOTATION or labels_in.people:
        final_labels_lock(project.pk)
    summary = ImportSummary(
        records_in=labels_in.records,
        annotations_in=labels_in.annotations,
        decisions_in=labels_in.decisions,
        labels_in=labels_in.labels,
    )
    shared = _Import(
        project=project,
        labels_as=labels_as,
        labels=ProjectLabels(project, create=create_labels),
        user=user,
        annotator=_annotator(project, labels_as, annotator_name, user),
        new_files=new_files,
        summary=summary,
        describe=metadata_checked(project, labels_in.metadata),
    )
    if labels_in.people or annotators:
        matches = people_match(project=project, people=labels_in.people, chosen=annotators)
        shared.people = people_resolve(project=project, matches=matches)
        summary.people = [
            PersonOut(m.person.key, m.person.shown(), m.account, m.how) for m in matches
        ]
    for skipped in labels_in.skipped:
        summary.lost(skipped.record, skipped.reason)
    for item in items:
        result = _import_one(shared, ImportItem(*item))
        summary.add(result)
        summary.changed += result.labels == APPLIED and result.labels_reason == ""
        if report is None:
            summary.results.append(result)
        else:
            report(result)
    for key in labels_in.unmatched() if labels_in.unmatched is not None else ():
        summary.lost(key, "No imported file matched this entry of the labels file.")
    summary.labels_created = shared.labels.created
    return summary


def metadata_checked(
    project: Project, metadata: Mapping[str, MetadataIn]
) -> Callable[[MetadataIn], Description]:
    """What each entry's metadata sets of its image (``labeler.images.catalogue.descriptions``),
    every entry checked now, before any file is stored: a value that does not fit (a
    date that is none, a field the project lacks, a choice it does not offer) is a
    ValidationFailed naming the record, its file and the field, and nothing is imported.
    A project that keeps no position of what comes in (``strip_metadata_on_ingest``)
    takes none from a labels file either."""
    fields = project_fields(project)
    positions = not project.strip_metadata_on_ingest

    def describe(found: MetadataIn, key: str = "") -> Description:
        where = f"{found.where} ({key})" if key and found.where else found.where or key
        try:
            return description_of_record(
                found.values,
                found.named,
                found.extra,
                fields=fields,
                where=where,
                positions=positions,
            )
        except ValidationFailed as exc:
            raise ValidationFailed(
                f"The labels file's metadata: {exc.message}", field="labels_file"
            ) from exc

    for key, found in metadata.items():
        describe(found, key)
    return describe


def per_person_check(labels_in: LabelsIn | None, *, labels_as: str, annotator: str | None) -> None:
    """Refuse ``labels_as`` other than final, or an ``annotator``, for a file that names
    each annotation's person: each label goes to its person. The import and every dry
    run ask here."""
    if labels_in is not None and labels_in.per_person and (labels_as != FINAL or annotator):
        raise ValidationFailed(
            "labels_as and annotator apply to files that give labels without saying who "
            "made them; this file names each annotation's person, and each goes to them "
            "(choose their accounts with annotators).",
            field="labels_as",
        )


def _annotator(
    project: Project, labels_as: str, annotator_name: str | None, user: User | None
) -> User | None:
    if labels_as not in LABELS_AS:
        raise ValidationFailed(
            f"labels_as must be one of {', '.join(LABELS_AS)}, not {labels_as!r}.",
            field="labels_as",
        )
    if labels_as == GOLD and user is None:
        raise ValidationFailed("Gold labels are a lead's decision: name the user.", field="user")
    if labels_as != ANNOTATION:
        if annotator_name:
            raise ValidationFailed(
                "An annotator is named only with labels_as=annotation.", field="annotator"
            )
        return None
    return importer_account(project=project, name=annotator_name or DEFAULT_ANNOTATOR)


def _import_one(shared: _Import, item: ImportItem) -> ImportResult:
    try:
        if isinstance(item.data, RejectedFile):
            raise item.data
        if is_archive(item.name):
            raise RejectedFile("Archives are not unpacked by an import; unpack it first.")
        checked = image_check(item.data)
    except RejectedFile as exc:
        return _rejected(shared, item, str(exc))
    new_file = None
    try:
        with transaction.atomic():
            image, created = image_store(
                project=shared.project,
                name=item.name,
                checked=checked,
                source="import",
                source_key=item.name,
            )
            new_file = image.file.name if created else None
            if new_file:
                shared.new_files.append(new_file)
            result = ImportResult(item.name, "created" if created else "duplicate", image.pk)
            if item.metadata and shared.describe is not None:
                image_describe(image=image, description=shared.describe(item.metadata))
                result.metadata = True
                shared.summary.metadata_out += 1
            _labels_apply(shared, image, item, result)
    except RejectedFile as exc:  # stored by someone else and removed at the same moment
        return _rejected(shared, item, str(exc))
    except BaseException:
        if new_file:
            shared.new_files.remove(new_file)
            default_storage.delete(new_file)
        raise
    return result


def _rejected(shared: _Import, item: ImportItem, reason: str) -> ImportResult:
    result = ImportResult(item.name, "rejected", reason=reason)
    if item.labels or item.refusal:
        result.labels, result.labels_reason = REFUSED, "The file was not stored."
        shared.summary.lost(item.name, f"The file was not stored: {reason}")
    return result


def _labels_apply(shared: _Import, image: Image, item: ImportItem, result: ImportResult) -> None:
    """Record the item's labels on the stored image, or say in the result why not."""
    if item.refusal:
        result.labels, result.labels_reason = REFUSED, item.refusal
        shared.summary.lost(item.name, item.refusal)
        return
    if item.labels is None:
        result.labels_reason = item.no_labels
        return
    if isinstance(item.labels, ImageRecords):
        _records_apply(shared, image, item.labels, result)
        return
    try:
        names = shared.labels.check(item.labels or [])
        if not names:
            return
        if shared.project.multi_label and result.status == "duplicate":
            earlier = labels_recorded_since(
                image=image,
                labels_as=shared.labels_as,
                annotator=shared.annotator,
                since=shared.started,
            )
            names = shared.labels.check([*earlier, *names])
        result.label_names = names
        # A savepoint: refused labels leave the image stored, with nothing of theirs.
        with transaction.atomic():
            final_check(image=image, labels_as=shared.labels_as)
            changed = labels_record(
                project=shared.project,
                image=image,
                labels=shared.labels.resolve(names),
                labels_as=shared.labels_as,
                user=shared.user,
                annotator=shared.annotator,
            )
    except LabelsRefused as exc:
        result.labels, result.labels_reason = REFUSED, str(exc)
        shared.summary.lost(item.name, str(exc))
        return
    result.labels = APPLIED
    result.labels_reason = "" if changed else "Already recorded."
    summary = shared.summary
    summary.labels_out += len(names)
    if shared.labels_as == ANNOTATION:
        summary.annotations_written += changed
        summary.annotations_unchanged += not changed
    else:
        summary.decisions_written += changed
        summary.decisions_unchanged += not changed


def _records_apply(
    shared: _Import, image: Image, records: ImageRecords, result: ImportResult
) -> None:
    """Record a per-person file's records on the image: each person's annotation (their
    latest, when the file holds several on the image), then the carried decision. Each
    is written or refused on its own; every refusal is listed."""
    summary = shared.summary
    written = unchanged = refused = 0
    names: list[str] = []
    for annotation in _latest_each(shared, records, result.name):
        where = annotation.where or result.name
        kept = shared.recorded.get((image.pk, annotation.person.key))
        if kept is not None and kept[0] is annotation:  # one entry taken twice: recorded
            continue
        if kept is not None and not _replaces(shared, image, annotation, where):
            refused += 1
            continue
        try:
            checked = shared.labels.check(annotation.labels)
            if not checked:
                raise LabelsRefused("The annotation gives no label.")
            # Outside the savepoint: an account made here outlives a refusal in it.
            annotator = _account(shared, annotation.person)
            with transaction.atomic():
                changed = annotation_imported(
                    project=shared.project,
                    image=image,
                    labels=shared.labels.resolve(checked),
                    annotator=annotator,
                    created_at=annotation.created_at,
                    updated_at=annotation.updated_at,
                    time_spent_ms=_time_spent(annotation, summary),
                )
        except LabelsRefused as exc:
            summary.lost(where, f"{annotation.person.shown()}: {exc}")
            refused += 1
            continue
        shared.recorded[image.pk, annotation.person.key] = (annotation, changed, len(checked))
        written += changed
        unchanged += not changed
        summary.labels_out += len(checked)
        names.extend(n for n in checked if n not in names)
    summary.annotations_written += written
    summary.annotations_unchanged += unchanged
    result.annotations = written + unchanged
    decision = records.decision
    first = shared.decided.get(image.pk)
    if decision is not None and first is not None:
        if decision is not first:  # the same entry twice decides nothing more
            summary.lost(
                decision.where or result.name,
                f"A second decision for this image ({result.name} has the content of an "
                f"earlier file); the first ({first.where}) is kept.",
            )
            refused += 1
        decision = None
    if decision is not None:
        try:
            checked = shared.labels.check(decision.labels)
            if not checked:
                raise LabelsRefused("The decision gives no label.")
            by = _account(shared, decision.by) if decision.by else None
            with transaction.atomic():
                decision_check(image=image, method=decision.method)
                changed = decision_record(
                    project=shared.project,
                    image=image,
                    labels=shared.labels.resolve(checked),
                    method=decision.method,
                    decided_by=by or shared.user,
                )
        except LabelsRefused as exc:
            summary.lost(decision.where or result.name, f"The {decision.method} decision: {exc}")
            refused += 1
        else:
            written += changed
            unchanged += not changed
            summary.decisions_written += changed
            summary.decisions_unchanged += not changed
            summary.labels_out += len(checked)
            shared.decided[image.pk] = decision
            result.decision = decision.method
            names = checked
    result.label_names = names
    if written or unchanged:
        result.labels = APPLIED
        result.labels_reason = "" if written else "Already recorded."
    elif refused:
        result.labels = REFUSED
        result.labels_reason = "Every record of this file was refused; the report lists why."


def _replaces(shared: _Import, image: Image, annotation: AnnotationIn, where: str) -> bool:
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


def _account(shared: _Import, person: Person) -> User:
    """The account a person's labels go to: as resolved before the first file, or, for
    a person the import was not told of up front, matched and resolved now."""
    user = shared.people.get(person.key)
    if user is None:
        matches = people_match(project=shared.project, people=[person])
        user = people_resolve(project=shared.project, matches=matches)[person.key]
        shared.people[person.key] = user
        shared.summary.people += [
            PersonOut(m.person.key, m.person.shown(), m.account, m.how) for m in matches
        ]
    return user


def _latest_each(shared: _Import, records: ImageRecords, name: str) -> list[AnnotationIn]:
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
