"""The one writer of the label history (``LabelChange`` rows).

Two writers, one table, each the writer of record for its own kinds of row:

- annotators' labels given or changed (``annotation_created``, ``annotation_changed``):
  the database trigger ``annotations_revision_history`` on ``AnnotationRevision``
  (migration 0005), so a submit stays one statement (``submit_sql``);
- everything else, here: annotations taken back (an undo, a bulk relabel:
  ``annotations_withdrawn_record``), final labels set or cleared
  (``final_changes_record``, called by the one writer of final labels,
  ``labeler.agreement.final_writes``), an imported account's rows credited to the
  member it stood for (``annotator_history_move``), and an import's writes of
  annotations credited to the import and the lead who ran it, never to the annotation's
  owner (``import_changes_credit``).

No other module writes the table; ``tests/labeler/test_one_writer.py`` walks the code for
any that does.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db import connection
from django.utils import timezone

from labeler.annotations.models import Annotation, FinalLabelMethod, LabelChange, LabelChangeKind

BATCH = 2000  # rows a statement writes


@dataclass(frozen=True)
class Final:
    """A final label as stored: how it was decided and its label ids, sorted."""

    method: str
    label_ids: tuple[int, ...]


@dataclass(frozen=True)
class Withdrawn:
    """An annotation taken back: whose, of which image, and the labels it had."""

    annotation_id: int
    image_id: int
    annotator_id: int
    label_ids: Sequence[int]


def final_changes_record(
    *,
    project_id: int,
    before: Mapping[int, Final],
    after: Mapping[int, Final],
    changed_by_id: int | None,
    model_versions: Mapping[int, int] | None = None,
) -> int:
    """Keep one row per image whose final label differs between ``before`` and ``after``
    (image id -> final label; absent: none), in image order; returns how many.

    ``model_versions`` names the model whose labels an image's new final label took.
    """
    now = timezone.now()
    changes = []
    for image_id in sorted(before.keys() | after.keys()):
        old, new = before.get(image_id), after.get(image_id)
        if old == new:
            continue
        changes.append(
            LabelChange(
                project_id=project_id,
                image_id=image_id,
                kind=LabelChangeKind.FINAL_SET if new else LabelChangeKind.FINAL_CLEARED,
                method=(new or old).method,  # type: ignore[union-attr]
                changed_by_id=changed_by_id,
                model_version_id=(model_versions or {}).get(image_id) if new else None,
                from_label_ids=list(old.label_ids) if old else [],
                to_label_ids=list(new.label_ids) if new else [],
                created_at=now,
            )
        )
    LabelChange.objects.bulk_create(changes, batch_size=BATCH)
    return len(changes)


def annotations_withdrawn_record(
    *, project_id: int, withdrawn: Iterable[Withdrawn], changed_by_id: int | None
) -> None:
    """Keep annotations taken back (by their annotator, or a lead's relabel): the labels
    each had, now none, in the order given."""
    now = timezone.now()
    LabelChange.objects.bulk_create(
        [
            LabelChange(
                project_id=project_id,
                image_id=gone.image_id,
                kind=LabelChangeKind.ANNOTATION_WITHDRAWN,
                annotator_id=gone.annotator_id,
                changed_by_id=changed_by_id,
                annotation_id=gone.annotation_id,
                from_label_ids=sorted(gone.label_ids),
                to_label_ids=[],
                created_at=now,
            )
            for gone in withdrawn
        ],
        batch_size=BATCH,
    )


def annotation_history_backdate(*, annotation_id: int, at: datetime) -> None:
    """Date the history of an annotation at ``at`` (the demo's simulated labels)."""
    LabelChange.objects.filter(annotation_id=annotation_id).update(created_at=at)


def annotator_history_move(*, project_id: int, source_id: int, target_id: int) -> int:
    """Credit the project's history of one account to another, after its annotations
    moved (an imported account linked to the member it stood for); returns the rows changed.

    Rows naming ``source`` as the annotator or as who made the change name ``target``,
    but those of annotations ``source`` still has (images both labelled): they stay its own.
    """
    rows = LabelChange.objects.filter(project_id=project_id).exclude(
        annotation_id__in=Annotation.objects.filter(
            project_id=project_id, annotator_id=source_id
        ).values("pk")
    )
    return rows.filter(annotator_id=source_id).update(annotator_id=target_id) + rows.filter(
        changed_by_id=source_id
    ).update(changed_by_id=target_id)


# Writes a statement of ``import_changes_credit_many`` (three parameters each).
CREDIT_BATCH = 1000


def import_changes_credit_many(
    *, writes: Sequence[tuple[int, int, int]], changed_by_id: int | None
) -> int:
    """``import_changes_credit`` for many writes at once, each (image id, annotation id,
    the history's last id before it): one statement a thousand writes, each found among
    its image's rows as there. Returns the rows changed."""
    table = connection.ops.quote_name(LabelChange._meta.db_table)
    changed = 0
    for start in range(0, len(writes), CREDIT_BATCH):
        batch = writes[start : start + CREDIT_BATCH]
        values = ", ".join(["(%s, %s, %s)"] * len(batch))
        with connection.cursor() as cursor:
            cursor.execute(
                f"WITH w(image_id, annotation_id, after_id) AS (VALUES {values}) "
                f"UPDATE {table} SET changed_by_id = %s, method = %s FROM w "
                f"WHERE {table}.image_id = w.image_id "
                f"AND {table}.annotation_id = w.annotation_id AND {table}.id > w.after_id",
                [*(value for write in batch for value in write), changed_by_id,
                 FinalLabelMethod.IMPORTED.value],
            )  # fmt: skip
            changed += cursor.rowcount
    return changed


def history_last_id(*, image_id: int, annotation_id: int) -> int:
    """The id of the newest history row of an annotation (0: none), to tell the rows a
    write adds after it. Looked up among its image's rows (the ``(image, id)`` index):
    the table has no index on the annotation, and a new annotation's look-up walked
    every row of the table."""
    rows = LabelChange.objects.filter(image_id=image_id, annotation_id=annotation_id)
    return rows.order_by("-id").values_list("id", flat=True).first() or 0


def import_changes_credit(
    *, image_id: int, annotation_id: int, after_id: int, changed_by_id: int | None
) -> int:
    """Credit the history rows an import's write of an annotation added (those after
    ``after_id``, which the revision's trigger names its annotator as having made) to the
    import: made by ``changed_by_id`` (the lead who ran it; None: the system), method
    ``imported``. Returns the rows changed. Found among the image's rows, as
    ``history_last_id`` finds them: an import into a large project went from 2.9 ms an
    annotation to 5.8 over 3,000 images when the update looked past every row after it.
    One fixed statement: the ORM's building of it cost more than the database's update."""
    table = connection.ops.quote_name(LabelChange._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET changed_by_id = %s, method = %s "
            "WHERE image_id = %s AND annotation_id = %s AND id > %s",
            [changed_by_id, FinalLabelMethod.IMPORTED.value, image_id, annotation_id, after_id],
        )
        return cursor.rowcount
