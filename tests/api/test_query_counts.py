"""The number of queries of what annotators and leads call most is pinned, whatever the size.

Each case runs on a small and on a larger project with labels, leases and skips in it:
an N+1 (a query per image, label or annotator) changes the count and fails here. The
pinned numbers count every statement, savepoints included (tests run in a transaction).
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client

from labeler.projects.models import Role
from tests.factories import UserFactory, add_member, annotation_submit, skip_create

# The submit's and the pages' query counts differ on SQLite: run there too.
pytestmark = [pytest.mark.django_db, pytest.mark.embedded]


@pytest.fixture(params=[3, 30], ids=["small", "larger"])
def filled(request, project, annotator, annotator2, make_images):
    """The shared project with n images, a third labelled by both, some skipped."""
    project.gold_rate = 0
    project.save()
    images = make_images(project, request.param)
    for image in images[: len(images) // 3]:
        for user in (annotator, annotator2):
            annotation_submit(project=project, annotator=user, image_id=image.pk, labels=["cat"])
    for image in images[len(images) // 3 :][:2]:
        skip_create(project=project, annotator=annotator2, image_id=image.pk)
    for n in range(3):
        add_member(project, UserFactory(username=f"extra{n}"), Role.ANNOTATOR)
    return project


def browser(user) -> Client:
    """A logged-in browser session, as the pages and their scripts use."""
    client = Client()
    client.force_login(user)
    client.get("/")  # the session is in the cache from here on
    return client


def test_next(filled, annotator, django_assert_num_queries):
    client = browser(annotator)
    # PostgreSQL takes the annotator's lease lock too (SQLite serialises writers).
    with django_assert_num_queries(8 if connection.vendor == "postgresql" else 7):
        response = client.get(f"/api/v1/projects/{filled.pk}/next/")
    assert response.status_code == 200


def test_submit(filled, annotator, django_assert_num_queries):
    client = browser(annotator)
    image = client.get(f"/api/v1/projects/{filled.pk}/next/").json()["image"]
    body = {"image": image["id"], "labels": ["dog"], "time_spent_ms": 900}
    # PostgreSQL writes a new annotation in one statement; SQLite in several (in process).
    with django_assert_num_queries(7 if connection.vendor == "postgresql" else 11):
        response = client.post(
            f"/api/v1/projects/{filled.pk}/annotations/", body, content_type="application/json"
        )
    assert response.status_code == 201


def test_submit_with_an_idempotency_key(filled, annotator, django_assert_num_queries):
    """The key costs four statements: the key's row, its answer and the savepoint (begin
    and release) of the transaction that holds them with the write."""
    client = browser(annotator)
    image = client.get(f"/api/v1/projects/{filled.pk}/next/").json()["image"]
    body = {"image": image["id"], "labels": ["dog"], "time_spent_ms": 900}
    url = f"/api/v1/projects/{filled.pk}/annotations/"
    with django_assert_num_queries(11 if connection.vendor == "postgresql" else 15):
        response = client.post(
            url, body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="k1"
        )
    assert response.status_code == 201
    # The replay: the session's user, the project (may they still write?), the key's row
    # tried and read, in a savepoint.
    with django_assert_num_queries(6):
        replay = client.post(url, body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="k1")
    assert replay["Idempotent-Replayed"] == "true"


def test_image_file(filled, annotator, django_assert_num_queries):
    """The address is the annotator's own: one query finds them still active and a member
    (the session comes from the cache), and one the file of the image it names by id
    (annotators label blind: labeler.annotations.blind)."""
    client = browser(annotator)
    image = client.get(f"/api/v1/projects/{filled.pk}/next/").json()["image"]
    with django_assert_num_queries(2):
        response = client.get(image["file_url"])
    assert response.status_code == 200


def test_progress(filled, annotator, django_assert_num_queries):
    client = browser(annotator)
    with django_assert_num_queries(7):
        response = client.get(f"/api/v1/projects/{filled.pk}/progress/")
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("page", "who", "queries"),
    [
        # 3, and 1 for the annotator's label use (label_use)
        ("label/", "annotator", 4),
        ("", "lead", 7),
        # 6, and 3 for who may label (standings, members) and the suggestions' sway
        ("agreement/", "lead", 9),
    ],
    ids=["labelling page", "project page", "agreement dashboard"],
)
def test_pages(filled, page, who, queries, request, django_assert_num_queries):
    client = browser(request.getfixturevalue(who))
    with django_assert_num_queries(queries):
        response = client.get(f"/projects/{filled.pk}/{page}")
    assert response.status_code == 200
