"""An import is one transaction, all or nothing, that takes the project's final-label lock
before any row, as every writer of final labels does (docs/architecture.md, Locks)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import connection, transaction

from labeler.agreement.final_writes import final_labels_lock
from labeler.agreement.services import final_labels_refresh
from labeler.annotations.models import FinalLabel, FinalLabelMethod
from labeler.images.counts import ImageCounts, image_counts
from labeler.images.models import Image
from labeler.imports.applying import apply
from labeler.imports.applying.apply import plan_apply
from labeler.imports.planning.labels_in import ImportItem
from labeler.imports.planning.plan import import_plan
from tests.factories import annotation_submit, image_bytes
from tests.labeler.annotations.test_queue_concurrency import run_together


@pytest.mark.django_db
def test_an_import_that_fails_midway_leaves_nothing_stored(project, media_root: Path):
    """The archive's disk goes away after the first file: the first file's image, its
    final label and its stored bytes are undone with the rest."""

    def items() -> Iterator[ImportItem]:
        yield ImportItem("a.png", image_bytes(), ["cat"])
        raise OSError("the archive can no longer be read")

    with pytest.raises(OSError, match="no longer"):
        plan_apply(plan=import_plan(project=project, items=items()), actor=None)
    assert not Image.objects.exists() and not FinalLabel.objects.exists()
    assert [p for p in media_root.rglob("*") if p.is_file()] == []


def _until_a_session_waits_for_an_advisory_lock() -> None:
    with connection.cursor() as cursor:
        for _ in range(200):
            cursor.execute("SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
            if cursor.fetchone():
                return
            time.sleep(0.05)
    raise AssertionError("the import never waited for the final-label lock")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_an_import_creating_labels_during_a_refresh_waits_its_turn(
    needs_postgres, project, annotator, annotator2, make_images, media_root
):
    """A refresh holds the final-label lock, then writes history rows that refer to the
    project. An import that creates a label (locking the project's row) used to take the
    final-label lock after that row: the two deadlocked and the import was cut off with
    its earlier files kept. It now takes the lock first, waits, and imports everything."""
    [image] = make_images(project, 1)
    for user in (annotator, annotator2):
        annotation_submit(project=project, annotator=user, image_id=image.pk, labels=["cat"])

    def write(i: int, barrier: threading.Barrier) -> object:
        if i == 0:
            with transaction.atomic():
                final_labels_lock(project.pk)
                barrier.wait()
                _until_a_session_waits_for_an_advisory_lock()
                return final_labels_refresh(project=project)
        barrier.wait()
        items = [
            ImportItem("new.png", image_bytes(), ["newt"]),
            ImportItem("old.png", image_bytes(), ["cat"]),
        ]
        return plan_apply(
            plan=import_plan(project=project, items=items, create_labels=True), actor=None
        )

    refreshed, summary = run_together(2, write)
    assert refreshed == 1
    assert (summary.created, summary.labels_applied, summary.labels_created) == (2, 2, ["newt"])
    methods = dict(
        FinalLabel.objects.values_list("image__source_key", "method").exclude(image=image)
    )
    assert methods == {"new.png": FinalLabelMethod.IMPORTED, "old.png": FinalLabelMethod.IMPORTED}
    assert FinalLabel.objects.get(image=image).method == FinalLabelMethod.CONSENSUS


def _project_in_planner_statistics(project_id: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT most_common_vals::text FROM pg_stats "
            "WHERE tablename = 'images_image' AND attname = 'project_id'"
        )
        row = cursor.fetchone()
    return row is not None and str(project_id) in (row[0] or "").strip("{}").split(",")


@pytest.mark.postgres
@pytest.mark.django_db
def test_an_import_counts_its_images_once_and_shows_them_to_the_planner(
    needs_postgres, project, media_root, monkeypatch
):
    """The counts held through the import are added at its end; past its first images
    the planner's statistics include the new project (its look-ups take the unique
    index instead of filtering every image of the project)."""
    monkeypatch.setattr(apply, "LOOKUP_STATISTICS_AFTER", 3)
    items = [ImportItem(f"{i}.png", image_bytes(), ["cat"]) for i in range(6)]
    items.append(ImportItem("again.png", image_bytes(seed=7), ["dog"]))
    items.append(ImportItem("twin.png", image_bytes(seed=7), ["dog"]))
    assert not _project_in_planner_statistics(project.pk)

    summary = plan_apply(plan=import_plan(project=project, items=items), actor=None)

    assert (summary.created, summary.duplicates) == (7, 1)
    assert _project_in_planner_statistics(project.pk)
    assert image_counts(project.pk) == ImageCounts(7, 7, 0, 0)
