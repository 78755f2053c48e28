"""The held-out test split's assignment: stored once per final-labelled image.

The one writer of ``SplitAssignment``. What an image's side is and why is
``labeler.predictions.splitting``'s (pure); this module reads the stored sides, plans
the images without one, and stores them. A training run assigns its images when it is
claimed (``labeler.predictions.runs.training_run_begin``); ``test_split_assign`` does the
same for anyone who needs the assignment fixed before reading it (an export).
"""

from __future__ import annotations

from django.db import transaction

from labeler.predictions.dataset import TrainingSet, training_set
from labeler.predictions.models import SplitAssignment
from labeler.predictions.splitting import sides_plan
from labeler.projects.models import Project

BATCH = 2000


def split_sides(project: Project, data: TrainingSet) -> dict[int, str]:
    """The side of each of ``data``'s images: stored, or as ``test_split_assign`` would
    store it now (a read: nothing is written)."""
    stored = _stored(project)
    planned = _plan(project, data, stored)
    return {i: stored.get(i) or planned[i] for i in data.image_ids}


def test_split_assign(*, project: Project, data: TrainingSet | None = None) -> dict[int, str]:
    """Store the side of every final-labelled image that has none yet; returns the side of
    each final-labelled image (``data``: the project's training set, when read already).

    Safe to call at any time and from several places at once: a side stored meanwhile by
    another caller wins (the rows are inserted ignoring conflicts, then read back).
    """
    data = training_set(project) if data is None else data
    stored = _stored(project)
    planned = _plan(project, data, stored)
    if planned:
        with transaction.atomic():
            SplitAssignment.objects.bulk_create(
                [
                    SplitAssignment(image_id=image_id, project=project, side=side)
                    for image_id, side in planned.items()
                ],
                batch_size=BATCH,
                ignore_conflicts=True,
            )
        stored = _stored(project)
    return {i: stored[i] for i in data.image_ids}


def _stored(project: Project) -> dict[int, str]:
    rows = SplitAssignment.objects.filter(project=project).values_list("image_id", "side")
    return dict(rows.iterator(chunk_size=BATCH))


def _plan(project: Project, data: TrainingSet, stored: dict[int, str]) -> dict[int, str]:
    return sides_plan(
        image_ids=data.image_ids,
        targets=data.targets,
        multi_label=project.multi_label,
        stored=stored,
        groups=data.groups,
        share=project.test_share,
        salt=str(project.pk),
    )


# Named for what it does, not a test: pytest leaves it alone where a test imports it.
test_split_assign.__test__ = False  # type: ignore[attr-defined]
