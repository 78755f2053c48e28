"""May an imported record replace a person's annotation, and who is the change's author.

The one rule every import's annotations go through, whatever the format (a Label Studio
export, CVAT, Labelbox, a CSV of annotators, labels recorded as an imported annotator's):
``annotation_import_write`` decides, then writes through the submit's writer
(``submit.annotation_record``). The decision itself is pure (``dates_checked``,
``record_verdict``): the imports' dry run asks it too, so it shows what the import does.

- **A date from outside is checked first** (``dates_checked``): one later than now plus
  ``CLOCK_SKEW`` is no date at all: it is never stored, and the report says so.
- **A member's own annotation** (an account that can log in, or could) gives way only to
  a record whose date is known, not in the future and later than the member's; otherwise
  the member's labels are kept and the report lists the record with both dates.
- **An imported account's annotation** (one an import made, which cannot log in) gives
  way unless the record is known to be older than it.
- **Creation dates are kept**: an annotation replaced keeps its own; a new one takes the
  record's, once checked.
- **The author of the change is the import**: the label history of what an import wrote
  names the lead who ran it (``changed_by``) and the method ``imported``, never the
  annotation's owner (``history.import_changes_credit``).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.contrib.auth.models import User
from django.db import connection
from django.utils import timezone

from labeler.annotations.history import (
    history_last_id,
    import_changes_credit,
    import_changes_credit_many,
)
from labeler.annotations.models import Annotation
from labeler.annotations.submit import (
    NewRecord,
    annotation_new_checked,
    annotation_record,
    annotations_batched,
    annotations_record_new,
)
from labeler.images.models import Image
from labeler.projects.models import Label, Project
from labeler.raw_rows import raw_all

# How far ahead of this server's clock a file's date may be and still count as a date:
# the clocks of the tool that wrote it and of this server may differ a little.
CLOCK_SKEW = timedelta(minutes=5)
_SHOWN = "%Y-%m-%d %H:%M"


class RecordKept(Exception):
    """The person's annotation here is kept over the record; the message says why, with
    both dates, for the import report."""


@dataclass(frozen=True)
class RecordDates:
    """A record's dates as checked: ``created_at`` and ``updated_at`` None where absent or
    in the future; ``future`` the first date dropped for being in the future."""

    created_at: datetime | None
    updated_at: datetime | None
    future: datetime | None = None

    @property
    def made_at(self) -> datetime | None:
        """When the record says its labels were last made: its update, else its creation."""
        return self.updated_at or self.created_at


@dataclass(frozen=True)
class Verdict:
    """Whether the record is written (``applies``), why not (``reason``), and the dates
    to store: ``created_at`` None keeps the annotation's own (or takes now)."""

    applies: bool
    reason: str = ""
    created_at: datetime | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True)
class Written:
    """What ``annotation_import_write`` did: ``changed`` the labels, and ``note`` what the
    report should say of the record's dates (a future date not kept), if anything."""

    changed: bool
    note: str = ""


def dates_checked(
    *, created_at: datetime | None, updated_at: datetime | None, now: datetime
) -> RecordDates:
    """The record's dates in UTC (a date without a zone read as UTC), those later than
    ``now`` plus ``CLOCK_SKEW`` dropped."""
    latest = now + CLOCK_SKEW
    kept: list[datetime | None] = []
    future = None
    for when in (created_at, updated_at):
        when = _aware(when)
        if when is not None and when > latest:
            future = future or when
            when = None
        kept.append(when)
    return RecordDates(kept[0], kept[1], future)


def record_verdict(
    *,
    theirs: datetime | None,
    member: bool,
    dates: RecordDates,
    who: str = "their",
) -> Verdict:
    """May a record with these ``dates`` replace the annotation made at ``theirs`` (None:
    there is none)? ``member``: the annotation is a member's own, not an imported
    account's. Pure: the same answer for the dry run and the import."""
    made = dates.made_at
    if theirs is None:
        return Verdict(True, created_at=dates.created_at, updated_at=made)
    theirs = _aware(theirs)
    assert theirs is not None
    if member and made is None:
        said = f"in the future ({dates.future:{_SHOWN}} UTC)" if dates.future else "not given"
        return Verdict(
            False,
            f"{who} annotation here ({theirs:{_SHOWN}} UTC) is kept: the file's date is "
            f"{said}, so it cannot be shown to be newer.",
        )
    if made is not None and (theirs >= made if member else theirs > made):
        return Verdict(
            False,
            f"{who} annotation here ({theirs:{_SHOWN}} UTC) is newer than the file's "
            f"({made:{_SHOWN}} UTC) and is kept.",
        )
    return Verdict(True, updated_at=made)


def is_members_own(user: User) -> bool:
    """Whether an account is a person's (who can log in, or could once reactivated) rather
    than one an import made for someone it could not name (inactive, no usable password)."""
    return user.is_active or user.has_usable_password()


class ImportCredits:
    """An import's credits of its writes to itself (``history.import_changes_credit``),
    made together: ``annotation_import_write`` given one keeps each write's credit here,
    and ``made`` makes those kept, one statement a thousand writes, where each write made
    its own. The import makes them after each batch of files and before it commits; until
    then the rows it wrote name their annotator as the author, inside the import's own
    transaction, which no one else sees."""

    def __init__(self, *, by: User | None) -> None:
        self.by_id = by.pk if by is not None else None
        self._writes: list[tuple[int, int, int]] = []

    def keep(self, *, image_id: int, annotation_id: int, after_id: int, by: User | None) -> None:
        assert (by.pk if by is not None else None) == self.by_id, "one author an import"
        self._writes.append((image_id, annotation_id, after_id))

    def made(self) -> int:
        """Credit the writes kept so far; returns the history rows changed."""
        writes, self._writes = self._writes, []
        if not writes:
            return 0
        return import_changes_credit_many(writes=writes, changed_by_id=self.by_id)


class AnnotationsBefore:
    """The annotations of a batch of an import's images as they were before the import
    recorded any on them: the images' rows locked, in id order as a submit locks its
    image, and their annotations read with their labels, in two statements for the batch
    where each record read its annotator's annotation in one.

    The lock keeps every other writer of these images' annotations out until the import
    commits (each submit locks its image first), so what was read stays true until the
    import itself writes. Each (image, annotator) is therefore answered from here once,
    by its first record, which goes before any write of it (``annotation_import_write``);
    a later record of the same person on the same image (a second file of the same
    content) reads the database again, so nothing written, or undone by a savepoint's
    rollback, since the batch began is ever answered from here. Given the project, it also
    holds the batch's new annotations until ``written`` writes them together."""

    def __init__(self, image_ids: Collection[int], *, project: Project | None = None) -> None:
        ids = sorted(set(image_ids))
        list(Image.objects.select_for_update().filter(pk__in=ids).order_by("pk").values_list("pk"))
        self._images = frozenset(ids)
        self._taken: set[tuple[int, int]] = set()
        self._of = _annotations_of(ids) if ids else {}
        # With ``project`` (one whose new labels may be written together), the new
        # annotations of people who had none wait here until ``written`` writes them
        # together: the import calls it before it reads annotations or ends the batch.
        self._project = project if project is not None and annotations_batched(project) else None
        self._new: list[tuple[NewRecord, User | None, ImportCredits | None]] = []

    def take(self, image: Image, annotator: User) -> _Current | None:
        """The annotator's annotation of the image as the batch found it, the first time
        this is asked; from the database after that (those waiting written first), or for
        an image of another batch."""
        key = (image.pk, annotator.pk)
        if image.pk not in self._images or key in self._taken:
            self.written()
            return _annotation_of(image, annotator)
        self._taken.add(key)
        return self._of.get(key)

    def waits(self, project: Project) -> bool:
        """Whether the project's new annotations wait here to be written together."""
        return self._project is not None and self._project.pk == project.pk

    def wait(self, record: NewRecord, *, by: User | None, credits: ImportCredits | None) -> None:
        self._new.append((record, by, credits))

    def written(self) -> int:
        """Write the new annotations waiting (``submit.annotations_record_new``) and credit
        them to the import; returns how many."""
        waiting, self._new = self._new, []
        if not waiting:
            return 0
        assert self._project is not None
        ids = annotations_record_new(project=self._project, records=[w[0] for w in waiting])
        for record, by, credits in waiting:
            annotation_id = ids.get((record.image_id, record.annotator_id))
            if annotation_id is None:  # the image's row is locked: no one else wrote it
                raise RuntimeError(f"image {record.image_id}: its new annotation was not written")
            _credited(credits, record.image_id, annotation_id, after_id=0, by=by)
        return len(waiting)


def annotation_import_write(
    *,
    project: Project,
    image: Image,
    labels: list[Label],
    annotator: User,
    by: User | None,
    created_at: datetime | None = None,
    updated_at: datetime | None = None,
    time_spent_ms: int | None = None,
    credits: ImportCredits | None = None,
    before: AnnotationsBefore | None = None,
) -> Written:
    """Record an imported annotation of ``annotator`` on the image, as ``by`` (the lead
    running the import) imports it; returns whether its labels changed.

    Raises ``RecordKept`` where the annotator's annotation here is kept (see the module's
    rule), before it writes anything: an import records thousands of annotations and needs
    no savepoint for each to undo a refusal. The history of what is written names ``by``
    and the import as its author: at once, or with ``credits`` when they are made. With
    ``before``, the annotation here is read from the batch's read of them.
    """
    current = (
        before.take(image, annotator) if before is not None else _annotation_of(image, annotator)
    )
    wanted = sorted(label.pk for label in labels)
    if current is not None and current.label_ids == wanted:
        return Written(False)
    dates = dates_checked(created_at=created_at, updated_at=updated_at, now=timezone.now())
    verdict = record_verdict(
        theirs=current.updated_at if current is not None else None,
        member=is_members_own(annotator),
        dates=dates,
    )
    if not verdict.applies:
        raise RecordKept(verdict.reason)
    if current is None and before is not None and before.waits(project):
        label_ids = annotation_new_checked(
            project=project, image_id=image.pk, labels=labels, time_spent_ms=time_spent_ms
        )
        record = NewRecord(
            image.pk, annotator.pk, label_ids, time_spent_ms, verdict.created_at, verdict.updated_at
        )
        before.wait(record, by=by, credits=credits)
        return Written(True, _future_note(dates))
    last_change = (
        history_last_id(image_id=image.pk, annotation_id=current.pk) if current is not None else 0
    )
    written = annotation_record(
        project=project,
        annotator=annotator,
        image_id=image.pk,
        labels=labels,
        time_spent_ms=time_spent_ms,
        created_at=verdict.created_at,
        updated_at=verdict.updated_at,
    )
    _credited(credits, image.pk, written.annotation.pk, after_id=last_change, by=by)
    return Written(True, _future_note(dates))


def _credited(
    credits: ImportCredits | None,
    image_id: int,
    annotation_id: int,
    *,
    after_id: int,
    by: User | None,
) -> None:
    """The history's changes of the annotation after ``after_id`` credited to the import:
    at once, or with ``credits`` when they are made."""
    if credits is not None:
        credits.keep(image_id=image_id, annotation_id=annotation_id, after_id=after_id, by=by)
    else:
        import_changes_credit(
            image_id=image_id,
            annotation_id=annotation_id,
            after_id=after_id,
            changed_by_id=by.pk if by is not None else None,
        )


def _future_note(dates: RecordDates) -> str:
    if dates.future is None:
        return ""
    return (
        f"Its date ({dates.future:{_SHOWN}} UTC) is in the future and is not kept; the "
        "labels are recorded with the import's date."
    )


@dataclass(frozen=True)
class _Current:
    pk: int
    updated_at: datetime
    label_ids: list[int]  # sorted


_CURRENT = """
    SELECT a.*, al.label_id AS label_row FROM {annotation} a
    LEFT JOIN {labels} al ON al.annotation_id = a.id
    WHERE a.image_id = %s AND a.annotator_id = %s
"""


_OF_IMAGES = """
    SELECT a.*, al.label_id AS label_row FROM {annotation} a
    LEFT JOIN {labels} al ON al.annotation_id = a.id
    WHERE a.image_id IN ({images})
"""


def _annotation_of(image: Image, annotator: User) -> _Current | None:
    """The annotator's annotation of the image with its labels, in one fixed statement (a
    row per label, one without a label for an annotation that has none; ``raw_rows``
    converts each field as the ORM does): the ORM's building of the query cost more than
    the database's read, once for each imported record."""
    rows = raw_all(Annotation, _with_tables(_CURRENT), [image.pk, annotator.pk])
    return _currents(rows).get((image.pk, annotator.pk))


def _annotations_of(image_ids: Sequence[int]) -> dict[tuple[int, int], _Current]:
    """Every annotation of these images with its labels, by (image, annotator)."""
    sql = _with_tables(_OF_IMAGES, images=", ".join(["%s"] * len(image_ids)))
    return _currents(raw_all(Annotation, sql, list(image_ids)))


def _with_tables(sql: str, **more: str) -> str:
    quote = connection.ops.quote_name
    return sql.format(
        annotation=quote(Annotation._meta.db_table),
        labels=quote(Annotation.labels.through._meta.db_table),
        **more,
    )


def _currents(rows: list[Annotation]) -> dict[tuple[int, int], _Current]:
    """Rows of an annotation and one of its labels each, as each annotation's ``_Current``."""
    labels: dict[int, list[int]] = {}
    first: dict[int, Annotation] = {}
    for row in rows:
        first.setdefault(row.pk, row)
        found = labels.setdefault(row.pk, [])
        if row.label_row is not None:  # type: ignore[attr-defined]
            found.append(row.label_row)  # type: ignore[attr-defined]
    return {
        (row.image_id, row.annotator_id): _Current(row.pk, row.updated_at, sorted(labels[pk]))
        for pk, row in first.items()
    }


def _aware(when: datetime | None) -> datetime | None:
    if when is None:
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)
