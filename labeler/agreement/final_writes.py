"""The one writer of final labels: every row of ``FinalLabel`` is written here.

Two ways in, both under the project's final-label lock:

- ``final_labels_written``: a person's or a tool's write (a decision, gold marked or
  cleared, bulk actions, imported labels, reviewed machine labels). It yields a
  ``FinalLabelsWrite`` bound to the images named up front, and on leaving it keeps the
  history of what changed on those images (``annotations.history.final_changes_record``)
  and schedules the refresh that follows (``annotations.changes.labels_changed``), so no
  caller can forget either.
- ``consensus_write``: the consensus refresh (``labeler.agreement.final_labels``), which
  is itself what follows a change: it keeps the history of the images it rewrote, and
  schedules nothing.

The history is tracked by image: the images a write names are read before and after it
(two reads of a few rows), and the consensus refresh records the rows it replaces from
what it read to decide them, never a snapshot of the whole project.
``tests/labeler/test_one_writer.py`` walks the code for any other writer.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager

from django.contrib.auth.models import User
from django.db import connection
from django.utils import timezone

from labeler.annotations.changes import labels_changed
from labeler.annotations.history import Final, final_changes_record
from labeler.annotations.models import FinalLabel, FinalLabelMethod
from labeler.projects.models import Label, Project

BATCH = 2000  # rows a statement writes (SQLite allows 32,766 parameters a statement)
Labels = tuple[int, ...]


def final_labels_lock(project_id: int) -> None:
    """Hold the project's final-label lock until the transaction ends (PostgreSQL; SQLite
    lets one writer in at a time anyway). Every writer of final labels takes it first."""
    assert connection.in_atomic_block, "final labels are written in a transaction"
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
                [f"labeler.final_labels.{project_id}"],
            )


def final_labels_of(project: Project, image_ids: Collection[int]) -> dict[int, Final]:
    """The final labels of these images of the project, as the history keeps them.

    One statement (a row per final label and label of it, one without a label for a final
    label that has none): a block around one image's write reads them twice."""
    finals = FinalLabel.objects.filter(image__project=project, image_id__in=image_ids)
    methods: dict[int, str] = {}
    labels: dict[int, list[int]] = {}
    rows = finals.order_by().values_list("image_id", "method", "labels")
    for image_id, method, label_id in rows:
        methods[image_id] = method
        found = labels.setdefault(image_id, [])
        if label_id is not None:
            found.append(label_id)
    return {
        image_id: Final(method, tuple(sorted(labels[image_id])))
        for image_id, method in methods.items()
    }


class FinalLabelsWrite:
    """The writes one ``final_labels_written`` block may make: to its images only."""

    def __init__(
        self, project: Project, image_ids: Collection[int], before: Mapping[int, Final]
    ) -> None:
        self.project = project
        self.image_ids = frozenset(image_ids)
        # The final labels of its images as the block found them (read once for the
        # history): a caller deciding what to write from them need not read them again.
        self.before = before

    def _mine(self, image_ids: Collection[int]) -> list[int]:
        stray = set(image_ids) - self.image_ids
        assert not stray, f"images {sorted(stray)} were not named for this write"
        return list(image_ids)

    def set_one(
        self,
        image_id: int,
        labels: Sequence[Label | int],
        *,
        method: str,
        confidence: float | None,
        decided_by: User | None,
    ) -> FinalLabel:
        """Make the image's final label these labels, decided this way; returns it.

        Read, then written, without the savepoints of ``update_or_create``: the block's
        lock keeps every other writer of the project's final labels out until the commit
        (eight statements for a new final label there, three here)."""
        self._mine([image_id])
        fields = {"method": method, "confidence": confidence, "decided_by": decided_by}
        final = FinalLabel.objects.select_for_update().filter(image_id=image_id).first()
        if final is None:
            final = FinalLabel.objects.create(image_id=image_id, **fields)
            final.labels.add(*labels)
            return final
        for name, value in fields.items():
            setattr(final, name, value)
        final.save(update_fields=[*fields, "updated_at"])
        final.labels.set(labels)
        return final

    def set_many(
        self,
        image_ids: Sequence[int],
        label_ids: Sequence[int],
        *,
        method: str,
        confidence: float | None,
        decided_by: User | None,
    ) -> int:
        """Give each of these images the same final label; returns how many."""
        labels = tuple(label_ids)
        return self.set_each(
            dict.fromkeys(image_ids, labels),
            method=method,
            confidence=confidence,
            decided_by=decided_by,
        )

    def set_each(
        self,
        labels_of: Mapping[int, Sequence[int]],
        *,
        method: str,
        confidence: float | None,
        decided_by: User | None,
    ) -> int:
        """Give each of these images its own final label (image id -> label ids), all
        decided the same way; returns how many. A few statements for the lot, whatever
        their number: the rows there are updated, the others made, their labels replaced."""
        batch = self._mine(labels_of)
        if not batch:
            return 0
        now = timezone.now()
        fields = {"method": method, "confidence": confidence, "decided_by": decided_by}
        have = set(FinalLabel.objects.filter(image_id__in=batch).values_list("image_id", flat=True))
        FinalLabel.objects.filter(image_id__in=have).update(**fields, updated_at=now)
        FinalLabel.objects.bulk_create(
            [FinalLabel(image_id=image_id, **fields) for image_id in batch if image_id not in have]
        )
        finals = dict(FinalLabel.objects.filter(image_id__in=batch).values_list("image_id", "pk"))
        through = FinalLabel.labels.through
        through.objects.filter(finallabel_id__in=finals.values()).delete()
        through.objects.bulk_create(
            [
                through(finallabel_id=finals[image_id], label_id=label_id)
                for image_id in batch
                for label_id in dict.fromkeys(labels_of[image_id])
            ],
            batch_size=5000,
        )
        return len(batch)

    def method_set(
        self,
        image_ids: Sequence[int],
        *,
        method: str,
        confidence: float | None,
        decided_by: User | None,
    ) -> int:
        """Keep the labels of these images' final labels but decided this way (gold marked
        on what they have); returns how many changed."""
        changed = FinalLabel.objects.filter(image_id__in=self._mine(image_ids)).exclude(
            method=method
        )
        return changed.update(method=method, confidence=confidence, decided_by=decided_by)

    def decided_by_set(self, image_ids: Sequence[int], *, decided_by: User) -> int:
        """Credit these images' final labels to another account, their labels, method and
        dates as they are (an imported account linked to its member); returns how many."""
        finals = FinalLabel.objects.filter(image_id__in=self._mine(image_ids))
        return finals.exclude(decided_by=decided_by).update(decided_by=decided_by)

    def clear(
        self,
        image_ids: Sequence[int],
        *,
        methods: Collection[str] | None = None,
        keep: Collection[str] = (),
    ) -> int:
        """Delete these images' final labels (those decided by ``methods``, if given, and
        not by ``keep``); returns how many were deleted."""
        finals = FinalLabel.objects.filter(
            image_id__in=self._mine(image_ids), image__project=self.project
        )
        if methods is not None:
            finals = finals.filter(method__in=methods)
        if keep:
            finals = finals.exclude(method__in=keep)
        return finals.delete()[1].get(FinalLabel._meta.label, 0)


@contextmanager
def final_labels_written(
    *,
    project: Project,
    image_ids: Collection[int],
    changed_by: User | None = None,
    model_versions: Mapping[int, int] | None = None,
) -> Iterator[FinalLabelsWrite]:
    """Write final labels of these images of the project, as ``changed_by`` did them.

    Must run in a transaction: the project's writers of final labels take turns until it
    ends, so no other writer's change falls between the two reads and is taken for this
    block's (a lead deciding while consensus is refreshed). ``model_versions`` names the
    model whose labels an image's final label took. On leaving, the history keeps a row
    per image that changed and the refresh that follows is scheduled for the commit.
    """
    final_labels_lock(project.pk)
    ids = sorted(set(image_ids))
    before = final_labels_of(project, ids)
    yield FinalLabelsWrite(project, ids, before)
    final_changes_record(
        project_id=project.pk,
        before=before,
        after=final_labels_of(project, ids),
        changed_by_id=changed_by.pk if changed_by is not None else None,
        model_versions=model_versions,
    )
    labels_changed(project_id=project.pk)


def consensus_write(project: Project, chosen: Mapping[int, tuple[Labels, float]]) -> int:
    """Make the project's consensus final labels ``chosen`` (image id -> (label ids,
    confidence)); returns how many there are. The caller holds the project's lock.

    Only what differs is written: a refresh after one new label changes a few rows, not
    every consensus final label of the project (which is what readers would wait for).
    The history keeps the images whose labels it replaced, set or cleared, from what was
    read here: consensus leaves every other final label alone.
    """
    current = _consensus_finals(project)
    kept = {
        image_id: final
        for image_id, final in current.items()
        if image_id in chosen and chosen[image_id][0] == final[1]
    }
    replaced = {image_id: final for image_id, final in current.items() if image_id not in kept}
    ids = [final[0] for final in replaced.values()]
    for start in range(0, len(ids), BATCH):
        FinalLabel.objects.filter(pk__in=ids[start : start + BATCH]).delete()
    _confidence_update(kept, chosen)
    new = {i: chosen[i] for i in chosen.keys() - kept.keys()}
    _consensus_create(new)
    consensus = FinalLabelMethod.CONSENSUS
    final_changes_record(
        project_id=project.pk,
        before={image_id: Final(consensus, final[1]) for image_id, final in replaced.items()},
        after={image_id: Final(consensus, labels) for image_id, (labels, _) in new.items()},
        changed_by_id=None,
    )
    return len(chosen)


def _consensus_finals(project: Project) -> dict[int, tuple[int, Labels, float | None]]:
    """The project's consensus final labels: image id -> (final label id, labels, confidence)."""
    finals = FinalLabel.objects.filter(image__project=project, method=FinalLabelMethod.CONSENSUS)
    labels: dict[int, list[int]] = {}
    through = FinalLabel.labels.through.objects.filter(
        finallabel__image__project=project, finallabel__method=FinalLabelMethod.CONSENSUS
    )
    for final_id, label_id in through.values_list("finallabel_id", "label_id"):
        labels.setdefault(final_id, []).append(label_id)
    return {
        image_id: (final_id, tuple(sorted(labels.get(final_id, []))), confidence)
        for final_id, image_id, confidence in finals.values_list("pk", "image_id", "confidence")
    }


def _confidence_update(
    kept: dict[int, tuple[int, Labels, float | None]],
    chosen: Mapping[int, tuple[Labels, float]],
) -> None:
    """New confidences of consensus final labels whose labels stay."""
    now = timezone.now()
    changed = [
        FinalLabel(pk=final_id, confidence=chosen[image_id][1], updated_at=now)
        for image_id, (final_id, _, confidence) in kept.items()
        if confidence != chosen[image_id][1]
    ]
    FinalLabel.objects.bulk_update(changed, ["confidence", "updated_at"], batch_size=BATCH)


def _consensus_create(chosen: Mapping[int, tuple[Labels, float]]) -> None:
    new = sorted(chosen.items())
    finals = FinalLabel.objects.bulk_create(
        FinalLabel(image_id=image_id, method=FinalLabelMethod.CONSENSUS, confidence=confidence)
        for image_id, (_, confidence) in new
    )
    through = FinalLabel.labels.through
    through.objects.bulk_create(
        through(finallabel_id=final.pk, label_id=label_id)
        for final, (_, (labels, _)) in zip(finals, new, strict=True)
        for label_id in labels
    )
