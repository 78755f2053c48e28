"""Consensus final labels: written by the refresh, and current whenever they are read.

The refresh that turns annotations into consensus final labels runs in the background
at most every ``AGREEMENT_REFRESH_SECONDS`` after labels change (see ``refresh``), so
on its own it leaves a window in which an export, a training run or the review queue
would miss the newest labels. Every reader of final labels therefore reads them through
``final_labels_fresh``, which refreshes at once (``final_labels_current``) when labels
changed since the last refresh.

Whether they did is read, not written on the submit: every change of an image's labels
leaves a ``LabelChange`` row in its own transaction (a trigger does it for annotations),
and each refresh keeps, in ``ConsensusWatermark``, how many such rows of the project it
had seen and the newest id. The submit writes nothing more; a reader pays one statement,
a count over the project's label changes (an index-only scan) beside the watermark's row.

Why a count and not only the newest id: PostgreSQL hands out ids as rows are written,
not as they commit, so a submit may commit after another one with a higher id. Had a
refresh read in between, the newest id would pass over the late submit; the count does
not, as the refresh counts the committed rows before it reads the ratings.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from django.db import connection, transaction
from django.db.models import Count, Max, QuerySet
from django.utils import timezone

from labeler.agreement.final_writes import Labels, consensus_write, final_labels_lock
from labeler.agreement.models import ConsensusWatermark
from labeler.agreement.rows import SETTLED, consensus_rows
from labeler.annotations.models import FinalLabel, LabelChange, LabelChangeKind
from labeler.projects.models import OverlapMode, Project

FINAL_KINDS = (LabelChangeKind.FINAL_SET, LabelChangeKind.FINAL_CLEARED)


@dataclass(frozen=True)
class Changes:
    """How many label changes a project has had, and the newest one's id (0: none)."""

    count: int
    last_id: int


def label_changes(project: Project) -> Changes:
    """The project's label changes committed so far (one index-only aggregate)."""
    seen = LabelChange.objects.filter(project=project).aggregate(n=Count("id"), last=Max("id"))
    return Changes(seen["n"], seen["last"] or 0)


def consensus_rules(project: Project) -> str:
    """The project's settings its consensus final labels depend on."""
    rules = (
        f"{project.consensus_method}:{project.overlap}:{project.review_threshold!r}:"
        f"{project.multi_label}"
    )
    # Adaptive overlap decides which images are eligible; fixed keeps the rules as they were.
    if project.overlap_mode != OverlapMode.FIXED:
        rules += f":{project.overlap_mode}:{project.overlap_max}"
    return rules


def final_labels_stale(project: Project) -> bool:
    """Whether labels changed (or the consensus settings) since the last consensus refresh.

    One statement: the project's label changes counted, with the watermark beside them.
    """
    with connection.cursor() as cursor:
        cursor.execute(_stale_sql(), {"project": project.pk})
        count, last_id, mark_count, mark_last_id, rules = cursor.fetchone()
    if mark_count is None:  # never refreshed: stale once it has labels
        return count > 0
    changes, seen = Changes(count, last_id or 0), Changes(mark_count, mark_last_id)
    return changes != seen or rules != consensus_rules(project)


@functools.cache
def _stale_sql() -> str:
    quote = connection.ops.quote_name
    return f"""
        SELECT a.n, a.last, w.change_count, w.last_change_id, w.rules
        FROM (
            SELECT COUNT(id) AS n, MAX(id) AS last FROM {quote(LabelChange._meta.db_table)}
            WHERE project_id = %(project)s
        ) a
        LEFT JOIN {quote(ConsensusWatermark._meta.db_table)} w ON w.project_id = %(project)s
    """


def final_labels_current(*, project: Project) -> bool:
    """Bring the project's consensus final labels up to every label committed so far.

    Call before reading final labels. Costs a check while nothing changed; otherwise
    refreshes now, under the project's final-label lock, unless another reader or the
    background refresh did it meanwhile. Returns whether this call refreshed.
    """
    if not final_labels_stale(project):
        return False
    with transaction.atomic():
        final_labels_lock(project.pk)
        if not final_labels_stale(project):
            return False
        final_labels_refresh(project=project)
    return True


def final_labels_fresh(*, project: Project) -> QuerySet[FinalLabel]:
    """The project's final labels, every label committed so far counted: the one read of
    final labels that keeps them fresh.

    Refreshes the consensus first when labels changed since the last refresh
    (``final_labels_current``: one statement when nothing did). The rows are a lazy
    queryset, so a reader that reads final labels through its own query in the same
    request (an export's rows, a training set, the review queue, the slice report, an
    image's page) calls this first and reads them current; no other module calls the
    refresh itself (``tests/labeler/agreement/test_final_labels_fresh.py``).
    """
    final_labels_current(project=project)
    return FinalLabel.objects.filter(image__project=project)


def final_label_count(project: Project) -> int:
    """How many of the project's images have a final label, every label given so far counted."""
    return final_labels_fresh(project=project).count()


@transaction.atomic
def final_labels_refresh(*, project: Project) -> int:
    """Write consensus final labels for eligible images that need no review.

    Adjudicated, gold and confirmed machine final labels are settled by people and are
    left alone; consensus labels of images that now need review are removed. Returns how many
    consensus final labels the project holds afterwards. Records what it saw in the
    project's ``ConsensusWatermark``. The final labels are written, with their history, by
    their one writer (``final_writes.consensus_write``).
    """
    final_labels_lock(project.pk)
    # Counted under the lock and before the ratings are read: all of these are in them.
    seen = label_changes(project)
    written = consensus_write(project, _consensus_chosen(project))
    _watermark_store(project, _with_own_changes(project, seen))
    return written


def final_labels_kept_current(*, project: Project, seen: Changes) -> None:
    """After a write that settles final labels (a person's decision), under the lock.

    ``seen`` is the project's label changes read under the lock before the write. When
    the final labels were current then they still are: consensus leaves settled images
    alone, so the write's own changes are added to the watermark and readers need no
    refresh for them.
    """
    mark = ConsensusWatermark.objects.filter(project=project).first()
    if mark is None or Changes(mark.change_count, mark.last_change_id) != seen:
        return
    if mark.rules != consensus_rules(project):
        return
    _watermark_store(project, _with_own_changes(project, seen))


def _with_own_changes(project: Project, seen: Changes) -> Changes:
    """``seen`` plus the final-label changes written since, which are this transaction's:
    final labels are written only under the project's lock, which it holds."""
    own = LabelChange.objects.filter(
        project=project, id__gt=seen.last_id, kind__in=FINAL_KINDS
    ).aggregate(n=Count("id"), last=Max("id"))
    return Changes(seen.count + own["n"], max(seen.last_id, own["last"] or 0))


def _watermark_store(project: Project, changes: Changes) -> None:
    ConsensusWatermark.objects.update_or_create(
        project=project,
        defaults={
            "change_count": changes.count,
            "last_change_id": changes.last_id,
            "rules": consensus_rules(project),
            "refreshed_at": timezone.now(),
        },
    )


def _consensus_chosen(project: Project) -> dict[int, tuple[Labels, float]]:
    """Image id -> (label ids, confidence) of every image consensus decides, people's aside."""
    rows = consensus_rows(project)
    label_ids = rows.ratings.label_ids
    decided = rows.eligible & ~rows.needs_review & (rows.confidence >= project.review_threshold)
    decided &= np.array([bool(labels) for labels in rows.labels], dtype=bool)
    human = set(
        FinalLabel.objects.filter(image__project=project, method__in=SETTLED).values_list(
            "image_id", flat=True
        )
    )
    return {
        int(image_id): (
            tuple(sorted(label_ids[i] for i in rows.labels[row])),
            float(rows.confidence[row]),
        )
        for row, image_id in enumerate(rows.ratings.image_ids)
        if decided[row] and int(image_id) not in human
    }
