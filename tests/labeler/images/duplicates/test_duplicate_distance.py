"""A project's own near-duplicate distance: at ingest, on regrouping, and its fallback."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from labeler import flows
from labeler.errors import ValidationFailed
from labeler.images.duplicates import finding as duplicates
from labeler.images.duplicates.groups import project_duplicates_regroup, project_max_distance
from labeler.images.models import Image
from labeler.images.pixels.perceptual import ImageHashes
from labeler.images.project_settings import DUPLICATE_DISTANCE_MAX
from labeler.projects.models import Project
from tests.factories import ProjectFactory, image_bytes

pytestmark = pytest.mark.django_db

FIVE_BITS_APART = (0, 0b11111)


@pytest.fixture
def hashes(monkeypatch) -> Callable[[Iterator[int]], None]:
    """Give the next images hashed by the worker these hashes, in order."""

    def plant(values: Iterator[int]) -> None:
        monkeypatch.setattr(
            "labeler.images.pixels.files.image_hashes", lambda _pixels: ImageHashes(next(values))
        )

    return plant


def ingest_pair(project: Project, hashes, capture) -> list[Image]:
    """Upload two images that the worker hashes 5 bits apart; both prepared at once."""
    hashes(iter(FIVE_BITS_APART))
    with capture(execute=True):
        results = flows.images_ingest(
            project=project,
            files=[SimpleUploadedFile(f"{n}.png", image_bytes()) for n in range(2)],
        )
    return list(Image.objects.filter(pk__in=[r.image_id for r in results]).order_by("pk"))


def groups(images: list[Image]) -> list[int | None]:
    return [Image.objects.get(pk=image.pk).duplicate_group for image in images]


@pytest.mark.parametrize(
    ("duplicate_distance", "server", "grouped"),
    [
        (3, 7, False),  # the project's lower distance wins over the server's
        (None, 7, True),  # null: the server's distance
        (5, -1, True),  # the project groups where the server would not
        (None, -1, False),  # null, and the server's grouping is off
        (-1, 7, False),  # off for this project only
    ],
)
def test_the_check_at_ingest_uses_the_projects_distance(
    settings,
    media_root,
    hashes,
    django_capture_on_commit_callbacks,
    duplicate_distance,
    server,
    grouped,
):
    """Two images 5 bits apart are one group only where the project's distance (or, with
    none set, the server's) reaches 5 bits."""
    settings.LABELER_DUPLICATE_DISTANCE = server
    project = ProjectFactory(duplicate_distance=duplicate_distance)
    images = ingest_pair(project, hashes, django_capture_on_commit_callbacks)
    assert duplicates.distance(images[0].phash or 0, images[1].phash or 0) == 5
    expected = [images[0].pk, images[0].pk] if grouped else [None, None]
    assert groups(images) == expected


def test_projects_on_one_server_group_by_their_own_distances(
    settings, media_root, hashes, django_capture_on_commit_callbacks
):
    """A project of small digits at 3 bits and a project of photos at the default, side by
    side: the same two hashes are near-duplicates in the second only."""
    settings.LABELER_DUPLICATE_DISTANCE = 7
    digits = ProjectFactory(name="Digits", duplicate_distance=3)
    photos = ProjectFactory(name="Photos")
    digit_images = ingest_pair(digits, hashes, django_capture_on_commit_callbacks)
    photo_images = ingest_pair(photos, hashes, django_capture_on_commit_callbacks)
    assert groups(digit_images) == [None, None]
    assert groups(photo_images) == [photo_images[0].pk] * 2
    assert (project_max_distance(digits), project_max_distance(photos)) == (3, 7)
    # The regrouping keeps each project's own answer too.
    assert project_duplicates_regroup(project=digits).grouped == 0
    assert project_duplicates_regroup(project=photos).grouped == 2


def test_a_new_distance_regroups_the_projects_images_in_the_background(
    settings, media_root, hashes, django_capture_on_commit_callbacks
):
    """Lowering the distance below the images' 5 bits splits their group, turning it off
    leaves none, and going back to the server's (null) joins them again; another project's
    groups are left alone."""
    settings.LABELER_DUPLICATE_DISTANCE = 7
    project = ProjectFactory()
    other = ProjectFactory(name="Other")
    images = ingest_pair(project, hashes, django_capture_on_commit_callbacks)
    others = ingest_pair(other, hashes, django_capture_on_commit_callbacks)
    together = [images[0].pk] * 2
    assert groups(images) == together
    for distance, expected in ((3, [None, None]), (-1, [None, None]), (None, together)):
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            flows.project_update(project=project, duplicate_distance=distance)
        assert callbacks, "the regrouping is sent once the change commits"
        assert groups(images) == expected, distance
    assert groups(others) == [others[0].pk] * 2


def test_other_changes_do_not_regroup(settings, django_capture_on_commit_callbacks):
    """Only a change of the distance sends the regrouping: a rename sends nothing."""
    settings.LABELER_DUPLICATE_DISTANCE = 7
    project = ProjectFactory(duplicate_distance=3)
    with django_capture_on_commit_callbacks() as callbacks:
        flows.project_update(project=project, name="Renamed", duplicate_distance=3)
    assert callbacks == []


@pytest.mark.parametrize("value", [12, -2, 100, True, "3", 2.5])
def test_the_service_refuses_a_distance_outside_the_index(value):
    project = ProjectFactory(duplicate_distance=4)
    with pytest.raises(ValidationFailed) as refused:
        flows.project_update(project=project, duplicate_distance=value)
    assert refused.value.field == "duplicate_distance"
    project.refresh_from_db()
    assert project.duplicate_distance == 4


def test_the_largest_distance_is_the_index_two_bit_reach():
    """The bound is where the banded index still looks within 2 bits of a band (137 values
    a band); one more bit would take 3 (697 values a band), most of the way to a scan."""
    assert duplicates.band_radius(DUPLICATE_DISTANCE_MAX) == 2
    assert duplicates.band_radius(DUPLICATE_DISTANCE_MAX + 1) == 3
    assert [len(bands) for bands in duplicates.neighbour_bands(0, DUPLICATE_DISTANCE_MAX)] == [
        137
    ] * 4
