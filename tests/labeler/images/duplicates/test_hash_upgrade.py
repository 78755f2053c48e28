"""Images hashed by an older version of the hashing are hashed again in the background,
a bounded batch per task, and their project regrouped once: no manual step after an
upgrade, with a broker (beat) or without (the server's start)."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile

from labeler import cache_keys, flows
from labeler.images.duplicates.finding import ZOOM_COLUMNS
from labeler.images.duplicates.groups import project_duplicates_regroup
from labeler.images.duplicates.hash_upgrade import project_hashes_upgrade
from labeler.images.models import Image
from labeler.images.pixels import perceptual
from labeler.task_names import Task
from tests.labeler.images.scenes import cropped, encoded, scene
from worker.celery_app import app
from worker.tasks import hashes_upgrade

SIZE = (320, 240)


def links(callbacks) -> list[tuple]:
    """The arguments of each link of the chains these on-commit callbacks sent."""
    signatures = [getattr(c, "signature", None) for c in callbacks]
    return [tuple(s.args) for s in signatures if s and s.task == Task.PROJECT_HASHES_UPGRADE]


@pytest.fixture
def version_2(project, media_root, settings, django_capture_on_commit_callbacks):
    """Two photos, each with a copy cropped 4 % a side (10 and 12 bits from its plain
    hash: found through the zoomed hashes only), and another photo, stored and then
    turned back into rows of version 2 (no zoomed hash) grouped as version 2 grouped
    them: by name."""
    settings.LABELER_DUPLICATE_DISTANCE = 7
    files = {}
    for seed in (45, 57):
        files[f"{seed}.png"] = encoded(scene(seed, SIZE))
        files[f"{seed}-cropped.png"] = encoded(cropped(scene(seed, SIZE), 0.04))
    files["other.png"] = encoded(scene(8, SIZE))
    with django_capture_on_commit_callbacks(execute=True):
        results = flows.images_ingest(
            project=project, files=[SimpleUploadedFile(n, d) for n, d in files.items()]
        )
    images = {r.name: Image.objects.get(pk=r.image_id or 0) for r in results}
    Image.objects.update(**dict.fromkeys(ZOOM_COLUMNS), phash_version=2)
    project_duplicates_regroup(project=project)
    return images


def groups(images: dict[str, Image]) -> dict[str, int | None]:
    stored = dict(Image.objects.values_list("pk", "duplicate_group"))
    return {name: stored[image.pk] for name, image in images.items()}


@pytest.mark.django_db
def test_outdated_hashes_are_hashed_again_in_batches_then_the_project_regrouped(
    project, version_2, settings, django_capture_on_commit_callbacks
):
    assert set(groups(version_2).values()) == {None}  # version 2 misses the crops
    settings.LABELER_HASH_UPGRADE_BATCH = 2
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert hashes_upgrade() == 1  # the beat task: one chain, for the one project
    ids = sorted(image.pk for image in version_2.values())
    assert links(callbacks) == [
        (project.pk, 0, 0),
        (project.pk, ids[1], 2),
        (project.pk, ids[3], 4),
    ]
    rows = Image.objects.all()
    assert {row.phash_version for row in rows} == {perceptual.HASH_VERSION}
    assert all(row.phash_zoom is not None for row in rows)
    first = {seed: version_2[f"{seed}.png"].pk for seed in (45, 57)}
    assert groups(version_2) == {
        "45.png": first[45],
        "45-cropped.png": first[45],
        "57.png": first[57],
        "57-cropped.png": first[57],
        "other.png": None,
    }
    assert cache.get(cache_keys.hashes_upgrading(project.pk)) is None  # the chain ended
    with django_capture_on_commit_callbacks(execute=True):
        assert hashes_upgrade() == 0  # nothing left to do


@pytest.mark.django_db
def test_a_thumbnail_that_cannot_be_read_is_passed_over(
    project, version_2, django_capture_on_commit_callbacks
):
    """The chain goes on after it and the rest is upgraded and grouped; that image keeps
    its old hash, and a later chain, which hashes nothing, does not regroup again."""
    lost = version_2["other.png"]
    lost.thumbnail.storage.delete(lost.thumbnail.name)
    with django_capture_on_commit_callbacks(execute=True):
        assert hashes_upgrade() == 1
    assert Image.objects.get(pk=lost.pk).phash_version == 2
    assert Image.objects.filter(phash_version=perceptual.HASH_VERSION).count() == 4
    assert groups(version_2)["45-cropped.png"] == version_2["45.png"].pk
    step = project_hashes_upgrade(project_id=project.pk, after_id=0, hashed=0)
    assert (step.hashed, step.more, step.regrouped) == (0, False, False)


@pytest.mark.django_db
def test_one_chain_at_a_time_per_project(project, version_2, django_capture_on_commit_callbacks):
    key = cache_keys.hashes_upgrading(project.pk)
    cache.set(key, True)  # a chain running
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert hashes_upgrade() == 0
    assert not links(callbacks)
    assert Image.objects.filter(phash_version=2).count() == 5
    cache.delete(key)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert hashes_upgrade() == 1
    assert links(callbacks) == [(project.pk, 0, 0)]


@pytest.mark.django_db
def test_beat_and_a_server_without_a_broker_both_start_the_upgrade(
    project, version_2, settings, django_capture_on_commit_callbacks
):
    """Beat sends the task on a schedule; the server with no broker, which runs no beat,
    sends the chains as its task thread starts (an upgrade is a restart)."""
    [entry] = [
        e for e in settings.CELERY_BEAT_SCHEDULE.values() if e["task"] == Task.HASHES_UPGRADE
    ]
    assert entry["schedule"] == settings.LABELER_HASH_UPGRADE_SECONDS
    assert {Task.HASHES_UPGRADE, Task.PROJECT_HASHES_UPGRADE} <= set(app.tasks)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        flows.background_started()
    assert links(callbacks) == [(project.pk, 0, 0)]
