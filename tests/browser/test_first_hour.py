"""A new team's first hour in Chromium alone: the demo's admin creates a project of
photos, invites two people by link, and both label every photo of it
(``tests/docs/first_hour.py`` walks it; the getting-started page shows its screenshots)."""

from __future__ import annotations

import pytest

from labeler.annotations.models import Annotation
from labeler.demo.services import ADMIN, DEMO_PASSWORD, demo_load
from labeler.images.models import Image
from labeler.projects.models import Membership, Project, Role
from tests.browser.conftest import save_screenshot
from tests.docs.first_hour import LABELS, NEWCOMERS, PHOTOS, first_hour, photos_write

pytestmark = [pytest.mark.embedded, pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_from_the_demo_to_two_newcomers_labelling_their_own_project(live_server, browser, tmp_path):
    demo_load(n_images=12, simulate_fraction=0.0, seed=1)
    photos = photos_write(tmp_path / "photos")

    walked = first_hour(
        browser,
        live_server.url,
        admin=ADMIN,
        password=DEMO_PASSWORD,
        photos=photos,
        shot=save_screenshot,
    )

    assert walked.refused == []
    project = Project.objects.get(pk=walked.project_id)
    assert project.name == "Holiday photos" and project.overlap == 2
    assert list(project.labels.order_by("position").values_list("name", flat=True)) == list(LABELS)
    assert project.images.count() == len(PHOTOS)
    roles = dict(Membership.objects.filter(project=project).values_list("user__username", "role"))
    assert {name: roles.get(name) for name in NEWCOMERS} == dict.fromkeys(NEWCOMERS, Role.ANNOTATOR)
    kinds = list(PHOTOS.values())
    for username in NEWCOMERS:
        stored = {
            a.image_id: a.labels.get().name
            for a in Annotation.objects.filter(project=project, annotator__username=username)
        }
        shows = {
            image.pk: kinds[int(image.original_name[4:8]) - 2041]
            for image in Image.objects.filter(project=project)
        }
        assert stored == shows  # every photo, with the label of what it shows
        assert set(walked.pressed[username]) == set(shows)
