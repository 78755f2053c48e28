"""Taking back a submitted annotation: DELETE /api/v1/projects/{id}/annotations/{id}/."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection, connections, transaction
from rest_framework.test import APIClient

from labeler.annotations.models import Annotation, AnnotationRevision, Assignment
from labeler.annotations.services import annotation_withdraw
from labeler.errors import NotFound
from labeler.images.models import Image
from labeler.projects.models import Project
from tests.conftest import client_for
from tests.factories import ProjectFactory, UserFactory, add_member, annotation_submit, hold
from tests.rows import row_counts


@pytest.fixture
def url(project) -> str:
    return f"/api/v1/projects/{project.pk}/annotations/"


def label(project: Project, user, image: Image, name: str = "cat") -> Annotation:
    annotation, _ = annotation_submit(
        project=project, annotator=user, image_id=image.pk, labels=[name]
    )
    return annotation


def next_image(project: Project, user) -> int | None:
    """The id of the image the queue hands the user, or None on 204."""
    response = client_for(user).get(f"/api/v1/projects/{project.pk}/next/")
    if response.status_code == 204:
        return None
    assert response.status_code == 200, response.content
    return response.json()["image"]["id"]


def counts(image: Image) -> tuple[int, bool]:
    image.refresh_from_db()
    return image.annotation_count, image.is_complete


def test_withdrawing_ones_annotation_reopens_the_image_for_oneself(
    project, url, annotator, make_images
):
    """204; the annotation and its revisions go, the count drops and the image is leased back."""
    first, _ = make_images(project, 2)
    hold(project, annotator, first.pk)
    response = client_for(annotator).post(
        url, {"image": first.pk, "labels": ["cat"]}, format="json"
    )
    annotation_id = response.json()["id"]
    assert counts(first) == (1, False)
    response = client_for(annotator).delete(f"{url}{annotation_id}/")
    assert response.status_code == 204, response.content
    assert response.content == b""
    assert not Annotation.objects.filter(pk=annotation_id).exists()
    assert not AnnotationRevision.objects.filter(annotation_id=annotation_id).exists()
    assert counts(first) == (0, False)
    lease = Assignment.objects.get(annotator=annotator)
    assert (lease.image_id, lease.project_id) == (first.pk, project.pk)
    assert next_image(project, annotator) == first.pk


def test_withdrawing_from_a_complete_image_makes_it_incomplete(
    project, url, annotator, annotator2, make_images
):
    """With overlap 2, taking back one of two labels reopens the image for the withdrawer."""
    image, other = make_images(project, 2)
    mine = label(project, annotator, image)
    label(project, annotator2, image, "dog")
    assert counts(image) == (2, True)
    assert client_for(annotator).delete(f"{url}{mine.pk}/").status_code == 204
    assert counts(image) == (1, False)
    assert next_image(project, annotator) == image.pk
    assert list(Annotation.objects.values_list("annotator_id", flat=True)) == [annotator2.pk]
    assert next_image(project, annotator2) == other.pk


def test_an_image_still_at_overlap_stays_complete(
    project, lead, url, annotator, annotator2, make_images
):
    """After overlap is lowered to 1, one of two labels may go and the image stays complete."""
    (image,) = make_images(project, 1)
    mine = label(project, annotator, image)
    label(project, annotator2, image, "dog")
    response = client_for(lead).patch(
        f"/api/v1/projects/{project.pk}/", {"overlap": 1}, format="json"
    )
    assert response.status_code == 200
    assert client_for(annotator).delete(f"{url}{mine.pk}/").status_code == 204
    assert counts(image) == (1, True)
    assert not Assignment.objects.exists()
    assert next_image(project, annotator) is None


def test_the_withdrawers_lease_holds_the_slot(project, url, annotator, annotator2, make_images):
    """With overlap 1, the image taken back stays with the withdrawer, not the next caller."""
    project.overlap = 1
    project.save()
    (image,) = make_images(project, 1)
    mine = label(project, annotator, image)
    assert counts(image) == (1, True)
    assert client_for(annotator).delete(f"{url}{mine.pk}/").status_code == 204
    assert counts(image) == (0, False)
    assert next_image(project, annotator2) is None
    assert next_image(project, annotator) == image.pk


def test_the_image_may_be_labelled_again_after_withdrawing(project, url, annotator, make_images):
    """The undo is complete: a new label creates a new annotation and counts once."""
    (image,) = make_images(project, 1)
    mine = label(project, annotator, image)
    client_for(annotator).delete(f"{url}{mine.pk}/")
    response = client_for(annotator).post(
        url, {"image": image.pk, "labels": ["dog"]}, format="json"
    )
    assert response.status_code == 201, response.content
    assert response.json()["labels"] == ["dog"]
    assert counts(image) == (1, False)
    assert not Assignment.objects.exists()


def test_withdrawing_leaves_other_annotations_and_images_alone(
    project, url, annotator, annotator2, make_images
):
    """Only the caller's annotation of that one image changes."""
    first, second = make_images(project, 2)
    mine = label(project, annotator, first)
    kept = [label(project, annotator, second), label(project, annotator2, first, "dog")]
    client_for(annotator).delete(f"{url}{mine.pk}/")
    assert set(Annotation.objects.values_list("pk", flat=True)) == {a.pk for a in kept}
    assert counts(second) == (1, False)


@pytest.mark.parametrize("who", ["annotator", "lead", "admin"])
def test_someone_elses_annotation_cannot_be_withdrawn(
    project, url, annotator, annotator2, lead, admin_user, make_images, who
):
    """404 to anyone but its annotator, even a lead or an admin, and nothing changes."""
    (image,) = make_images(project, 1)
    theirs = label(project, annotator2, image, "dog")
    user = {"annotator": annotator, "lead": lead, "admin": admin_user}[who]
    before = row_counts()
    response = client_for(user).delete(f"{url}{theirs.pk}/")
    assert response.status_code == 404, response.content
    body = response.json()
    assert body["code"] == "not_found"
    assert "not yours" in body["detail"]
    assert "dog" not in response.content.decode()
    assert row_counts() == before
    assert counts(image) == (1, False)


def test_a_non_member_gets_404(project, url, annotator, outsider, make_images):
    """The project is invisible to non-members; nothing changes."""
    (image,) = make_images(project, 1)
    mine = label(project, annotator, image)
    before = row_counts()
    response = client_for(outsider).delete(f"{url}{mine.pk}/")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert "not a member" in response.json()["detail"]
    assert row_counts() == before


def test_an_anonymous_caller_gets_401(project, url, annotator, make_images):
    """No token, no undo; nothing changes."""
    (image,) = make_images(project, 1)
    mine = label(project, annotator, image)
    before = row_counts()
    response = APIClient().delete(f"{url}{mine.pk}/")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    assert response["WWW-Authenticate"] == "Token"
    assert row_counts() == before


def test_ones_annotation_in_another_project_is_not_found_here(project, url, annotator, make_images):
    """An annotation id of another project answers 404 through this project's URL."""
    other = ProjectFactory(name="Other")
    add_member(other, annotator)
    (image,) = make_images(other, 1)
    elsewhere = label(other, annotator, image)
    before = row_counts()
    response = client_for(annotator).delete(f"{url}{elsewhere.pk}/")
    assert response.status_code == 404
    assert row_counts() == before


@pytest.mark.parametrize("annotation_id", ["999999", str(10**20)])
def test_unknown_annotation_ids_answer_404(url, annotator, annotation_id):
    """Unknown and out-of-range ids are simply not found, never a 500."""
    response = client_for(annotator).delete(f"{url}{annotation_id}/")
    assert response.status_code == 404, response.content
    assert response.json()["code"] == "not_found"


def test_a_withdrawn_annotation_cannot_be_withdrawn_twice(project, url, annotator, make_images):
    """The second DELETE answers 404 and leaves the count at zero."""
    (image,) = make_images(project, 1)
    mine = label(project, annotator, image)
    assert client_for(annotator).delete(f"{url}{mine.pk}/").status_code == 204
    assert client_for(annotator).delete(f"{url}{mine.pk}/").status_code == 404
    assert counts(image) == (0, False)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_undos_take_the_annotation_back_once(needs_postgres):
    """Two DELETEs racing for one annotation (a double click): one 204, one 404, count 0.

    A third connection holds the image's row lock until both undos have read the
    annotation and wait for that lock, so both reach the write at the worst moment.
    """
    assert connection.vendor == "postgresql"
    project = ProjectFactory(overlap=2)
    user = UserFactory()
    add_member(project, user)
    image = Image.objects.create(
        project=project,
        file="images/race.png",
        original_name="race.png",
        sha256="0" * 64,
        width=8,
        height=8,
        format="PNG",
        size_bytes=100,
    )
    annotation = label(project, user, image)
    locked = threading.Event()
    release = threading.Event()

    def hold_the_image_lock() -> None:
        try:
            with transaction.atomic():
                Image.objects.select_for_update().get(pk=image.pk)
                locked.set()
                release.wait(timeout=10)
        finally:
            connections.close_all()

    def withdraw(_: int) -> str:
        try:
            annotation_withdraw(project=project, annotator=user, annotation_id=annotation.pk)
            return "ok"
        except NotFound:
            return "not found"
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=3) as pool:
        holder = pool.submit(hold_the_image_lock)
        assert locked.wait(timeout=10)
        undos = [pool.submit(withdraw, i) for i in range(2)]
        _wait_for_lock_waiters(2)
        release.set()
        holder.result()
        results = sorted(undo.result() for undo in undos)
    assert results == ["not found", "ok"]
    assert counts(image) == (0, False)
    assert not Annotation.objects.exists()


def _wait_for_lock_waiters(n: int) -> None:
    """Block until n other sessions are waiting on a row lock (or give up after 10 s)."""
    deadline = time.monotonic() + 10
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE wait_event_type = 'Lock' AND datname = current_database()"
            )
            if cursor.fetchone()[0] >= n:
                return
            time.sleep(0.02)
    raise AssertionError(f"{n} sessions never waited on the image's lock")
