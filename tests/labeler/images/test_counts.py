"""The image counters the database keeps agree with counting the rows, whatever wrote them."""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.db.models import Count, Q, Sum

from labeler.annotations.services import annotation_withdraw
from labeler.flows import project_delete, project_update
from labeler.images.counts import ImageCounts, counts_held, image_counts
from labeler.images.models import Image, ImageCounter
from tests.factories import ProjectFactory, annotation_submit

pytestmark = [pytest.mark.embedded, pytest.mark.django_db]


def _counted(project) -> ImageCounts:
    rows = Image.objects.filter(project=project).aggregate(
        images=Count("pk"),
        complete=Count("pk", filter=Q(is_complete=True)),
        started=Count("pk", filter=Q(is_complete=False, annotation_count__gt=0)),
        annotations=Sum("annotation_count"),
    )
    return ImageCounts(**{key: value or 0 for key, value in rows.items()})


def test_counts_follow_uploads_labels_undos_and_overlap_changes(
    project, annotator, annotator2, make_images
):
    assert image_counts(project.pk) == ImageCounts(0, 0, 0, 0)
    images = make_images(project, 12)
    assert image_counts(project.pk) == ImageCounts(12, 0, 0, 0)
    for image in images[:5]:
        annotation_submit(project=project, annotator=annotator, image_id=image.pk, labels=["cat"])
    annotation_submit(project=project, annotator=annotator2, image_id=images[0].pk, labels=["dog"])
    # Overlap 2: one image complete, four started.
    assert image_counts(project.pk) == ImageCounts(12, 1, 4, 6) == _counted(project)
    # Changing a label changes no count; taking one back does.
    annotation_submit(project=project, annotator=annotator, image_id=images[1].pk, labels=["dog"])
    first = images[0].annotations.get(annotator=annotator2)
    annotation_withdraw(project=project, annotator=annotator2, annotation_id=first.pk)
    assert image_counts(project.pk) == ImageCounts(12, 0, 5, 5) == _counted(project)
    # A bulk update of is_complete (overlap lowered to 1) is counted too.
    project_update(project=project, overlap=1)
    assert image_counts(project.pk) == ImageCounts(12, 5, 0, 5) == _counted(project)
    project_update(project=project, overlap=3)
    assert image_counts(project.pk) == _counted(project)


def test_counts_follow_bulk_inserts_deletes_and_project_deletion(project, make_images):
    images = make_images(project, 6)
    other = ProjectFactory(name="Other", labels=["a", "b"])
    make_images(other, 3)
    Image.objects.filter(pk__in=[i.pk for i in images[:4]]).update(
        annotation_count=2, is_complete=True
    )
    Image.objects.filter(pk__in=[i.pk for i in images[:2]]).delete()
    assert image_counts(project.pk) == ImageCounts(4, 2, 0, 4) == _counted(project)
    assert image_counts(other.pk) == ImageCounts(3, 0, 0, 0)
    # Priority changes (active learning reorders every image) touch no counter.
    before = list(ImageCounter.objects.order_by("pk").values())
    Image.objects.filter(project=project).update(priority=0.5)
    assert list(ImageCounter.objects.order_by("pk").values()) == before
    project_delete(project=other)
    assert image_counts(other.pk).images == 0
    assert image_counts(project.pk) == _counted(project)


def test_one_statement_changing_many_images_of_two_projects_is_counted(project, make_images):
    """One UPDATE over both projects' images, some changed, some set to what they were
    (PostgreSQL counts a statement's changed rows at once: images migration 0008)."""
    other = ProjectFactory(name="Other", labels=["a", "b"])
    ours, theirs = make_images(project, 20), make_images(other, 11)
    Image.objects.filter(pk__in=[i.pk for i in ours[:7]]).update(annotation_count=1)
    everything = Image.objects.filter(pk__in=[i.pk for i in ours + theirs])
    everything.exclude(pk=ours[0].pk).update(annotation_count=2, is_complete=True)
    everything.filter(pk__in=[i.pk for i in ours[:3]]).update(annotation_count=0, is_complete=False)
    assert image_counts(project.pk) == ImageCounts(20, 17, 0, 34) == _counted(project)
    assert image_counts(other.pk) == ImageCounts(11, 11, 0, 22) == _counted(other)


def test_the_counts_are_spread_over_shares(project, make_images):
    make_images(project, 16)
    shares = ImageCounter.objects.filter(project_id=project.pk)
    assert 1 < shares.count() <= ImageCounter.SHARDS
    assert sum(share.images for share in shares) == 16


def test_counts_held_through_many_writes_are_added_once_at_the_end(project, annotator, make_images):
    """An import's hold: inside it the counter rows are not written (PostgreSQL), and at
    its end every insert, label, bulk update and delete of both projects is counted."""
    other = ProjectFactory(name="Other", labels=["a", "b"])
    make_images(project, 3)
    before = list(ImageCounter.objects.order_by("pk").values())
    with counts_held():
        images = make_images(project, 10)
        make_images(other, 4)
        annotation_submit(
            project=project, annotator=annotator, image_id=images[0].pk, labels=["cat"]
        )
        Image.objects.filter(pk=images[1].pk).update(annotation_count=2, is_complete=True)
        Image.objects.filter(pk=images[2].pk).delete()
        if connection.vendor == "postgresql":
            assert list(ImageCounter.objects.order_by("pk").values()) == before
    assert image_counts(project.pk) == ImageCounts(12, 1, 1, 3) == _counted(project)
    assert image_counts(other.pk) == ImageCounts(4, 0, 0, 0) == _counted(other)


def test_a_hold_undone_counts_nothing_and_leaves_the_counts_following_writes(project, make_images):
    make_images(project, 2)
    with transaction.atomic():
        with pytest.raises(RuntimeError), counts_held():
            make_images(project, 5)
            raise RuntimeError("undone")
        make_images(project, 1)  # after the hold: counted as it is written
        assert image_counts(project.pk) == ImageCounts(3, 0, 0, 0) == _counted(project)
    with counts_held(), counts_held():  # nested: held once, added once
        make_images(project, 2)
    assert image_counts(project.pk) == ImageCounts(5, 0, 0, 0) == _counted(project)
