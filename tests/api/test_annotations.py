"""Annotations through /api/v1/projects/{id}/annotations/: create-or-update, history, refusals."""

from __future__ import annotations

from typing import Any

import pytest

from labeler.annotations.models import Annotation, AnnotationRevision, Assignment
from labeler.annotations.queue import queue_next_image
from labeler.images.models import Image
from tests.conftest import client_for
from tests.factories import ProjectFactory, UserFactory, add_member, annotation_submit, hold
from tests.rows import row_counts

# SQL, triggers or task running that differ on the embedded default: run there too.
pytestmark = pytest.mark.embedded


@pytest.fixture
def url(project) -> str:
    return f"/api/v1/projects/{project.pk}/annotations/"


@pytest.fixture
def images(project, make_images, annotator) -> list[Image]:
    """Two images, both handed to the first annotator by the queue."""
    images = make_images(project, 2)
    for image in images:
        hold(project, annotator, image.pk)
    return images


@pytest.fixture
def submit(url, annotator):
    """POST an annotation as the first annotator."""
    client = client_for(annotator)

    def send(payload: Any, **kwargs: Any) -> Any:
        return client.post(url, payload, format="json", **kwargs)

    return send


def revisions(annotation_id: int) -> list[list[int]]:
    return list(
        AnnotationRevision.objects.filter(annotation_id=annotation_id).values_list(
            "label_ids", flat=True
        )
    )


def test_the_first_post_creates_the_annotation(project, images, submit, annotator):
    """201 with the annotation; the image's count goes up and a revision is kept."""
    image = images[0]
    response = submit({"image": image.pk, "labels": ["dog"], "time_spent_ms": 1500})
    assert response.status_code == 201, response.content
    body = response.json()
    dog = project.labels.get(name="dog").pk
    assert (body["image"], body["annotator"], body["labels"], body["label_ids"]) == (
        image.pk,
        annotator.pk,
        ["dog"],
        [dog],
    )
    assert body["time_spent_ms"] == 1500
    image.refresh_from_db()
    assert (image.annotation_count, image.is_complete) == (1, False)
    assert revisions(body["id"]) == [[dog]]


def test_labels_may_be_given_by_id(project, images, submit):
    """Label ids work as well as names."""
    bird = project.labels.get(name="bird").pk
    response = submit({"image": images[0].pk, "labels": [bird]})
    assert response.status_code == 201, response.content
    assert response.json()["labels"] == ["bird"]


def test_posting_again_updates_the_annotation_and_keeps_history(project, images, submit):
    """The second POST answers 200, changes the labels, adds a revision, not an annotation."""
    image = images[0]
    first = submit({"image": image.pk, "labels": ["cat"], "time_spent_ms": 1000}).json()
    response = submit({"image": image.pk, "labels": ["bird"], "time_spent_ms": 500})
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["id"], body["labels"], body["time_spent_ms"]) == (first["id"], ["bird"], 1500)
    cat, bird = (project.labels.get(name=n).pk for n in ("cat", "bird"))
    assert revisions(first["id"]) == [[cat], [bird]]
    assert Annotation.objects.count() == 1
    image.refresh_from_db()
    assert image.annotation_count == 1


def test_the_same_labels_again_change_nothing(images, submit):
    """A retry with the same labels answers 200 and writes nothing."""
    first = submit({"image": images[0].pk, "labels": ["cat"]}).json()
    before = row_counts()
    response = submit({"image": images[0].pk, "labels": ["cat"], "time_spent_ms": 700})
    assert response.status_code == 200
    assert response.json()["updated_at"] == first["updated_at"]
    assert response.json()["time_spent_ms"] is None
    assert row_counts() == before


def test_an_image_completes_when_overlap_annotators_labelled_it(
    project, images, submit, annotator2, url
):
    """With overlap 2, the second annotator's label completes the image."""
    image = images[0]
    submit({"image": image.pk, "labels": ["cat"]})
    hold(project, annotator2, image.pk)
    response = client_for(annotator2).post(
        url, {"image": image.pk, "labels": ["dog"]}, format="json"
    )
    assert response.status_code == 201
    image.refresh_from_db()
    assert (image.annotation_count, image.is_complete) == (2, True)


def test_submitting_releases_the_callers_lease(project, images, submit, annotator):
    """Labelling a leased image ends the lease, freeing its slot."""
    assignment = queue_next_image(project=project, annotator=annotator)
    assert assignment is not None
    submit({"image": assignment.image_id, "labels": ["cat"]})
    assert not Assignment.objects.filter(annotator=annotator, image=assignment.image).exists()


def test_a_multi_label_project_takes_several_labels(project, images, submit):
    """Multi-label projects accept several labels on one annotation."""
    project.multi_label = True
    project.save()
    response = submit({"image": images[0].pk, "labels": ["cat", "bird"]})
    assert response.status_code == 201, response.content
    assert sorted(response.json()["labels"]) == ["bird", "cat"]


@pytest.fixture
def foreign(outsider, make_images) -> dict[str, int]:
    """An image and a label of another project."""
    other = ProjectFactory(name="Other", labels=["sun", "rain"])
    add_member(other, outsider)
    (image,) = make_images(other, 1)
    return {"image": image.pk, "label": other.labels.get(name="sun").pk}


MISSING = object()
BAD = [
    pytest.param({"labels": ["unicorn"]}, "labels", "Unknown label 'unicorn'", id="unknown-label"),
    pytest.param({"labels": ["Cat"]}, "labels", "Unknown label 'Cat'", id="label-case"),
    pytest.param({"labels": [10**9]}, "labels", "Unknown label", id="unknown-label-id"),
    pytest.param({"labels": ["{label}"]}, "labels", "Unknown label", id="foreign-label-id"),
    pytest.param({"labels": ["sun"]}, "labels", "Unknown label 'sun'", id="foreign-label-name"),
    pytest.param({"labels": ["cat", "dog"]}, "labels", "single-label", id="two-labels"),
    pytest.param({"labels": ["cat", "cat"]}, "labels", "given twice", id="label-twice"),
    pytest.param({"labels": []}, "labels", "empty", id="empty-list"),
    pytest.param({"labels": "cat"}, "labels", "list", id="labels-string"),
    pytest.param({"labels": {"cat": 1}}, "labels", "list", id="labels-object"),
    pytest.param({"labels": None}, "labels", "null", id="labels-null"),
    pytest.param({"labels": [True]}, "labels", "not a label", id="label-bool"),
    pytest.param({"labels": [1.5]}, "labels", "not a label", id="label-float"),
    pytest.param({"labels": [["cat"]]}, "labels", "not a label", id="label-list"),
    pytest.param({"labels": MISSING}, "labels", "required", id="labels-missing"),
    pytest.param({"image": MISSING}, "image", "required", id="image-missing"),
    pytest.param({"image": "abc"}, "image", "integer", id="image-not-int"),
    pytest.param({"image": 1.5}, "image", "integer", id="image-float"),
    pytest.param({"image": None}, "image", "null", id="image-null"),
    pytest.param({"image": "{foreign}"}, "image", "not an image of this project", id="foreign"),
    pytest.param({"image": 10**9}, "image", "not an image of this project", id="no-such-image"),
    pytest.param({"image": 10**20}, "image", "not an image of this project", id="huge-image"),
    pytest.param({"time_spent_ms": -1}, "time_spent_ms", "", id="negative-time"),
    pytest.param({"time_spent_ms": 86_400_001}, "time_spent_ms", "86400000", id="too-long"),
    pytest.param({"time_spent_ms": "soon"}, "time_spent_ms", "integer", id="time-not-int"),
]


def payload_for(overrides: dict[str, Any], image: Image, foreign: dict[str, int]) -> dict:
    """The valid payload with the overrides applied; MISSING drops a key."""
    payload: dict[str, Any] = {"image": image.pk, "labels": ["cat"], **overrides}
    if payload["image"] == "{foreign}":
        payload["image"] = foreign["image"]
    if payload["labels"] == ["{label}"]:
        payload["labels"] = [foreign["label"]]
    return {key: value for key, value in payload.items() if value is not MISSING}


@pytest.mark.parametrize("overrides, field, message", BAD)
def test_bad_annotations_are_refused_and_write_nothing(
    images, submit, foreign, overrides, field, message
):
    """Each bad submission answers 400 naming the field, with a message; nothing is written."""
    before = row_counts()
    response = submit(payload_for(overrides, images[0], foreign))
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "invalid"
    assert list(body["errors"]) == [field]
    assert message in body["detail"]
    assert row_counts() == before


def test_a_refused_update_keeps_the_earlier_labels(images, submit):
    """A bad resubmission leaves the stored annotation and its history as they were."""
    first = submit({"image": images[0].pk, "labels": ["cat"]}).json()
    before = row_counts()
    assert submit({"image": images[0].pk, "labels": ["cat", "dog"]}).status_code == 400
    assert row_counts() == before
    annotation = Annotation.objects.get(pk=first["id"])
    assert list(annotation.labels.values_list("name", flat=True)) == ["cat"]


@pytest.mark.parametrize(
    "content",
    ['{"image": 1, "labels": ["cat"]', "labels=cat", '"just a string"', "[1, 2]", "{]"],
)
def test_a_malformed_body_is_refused(project, url, annotator, content):
    """A body that is not a JSON object answers 400 with a message, never a 500."""
    before = row_counts()
    response = client_for(annotator).generic("POST", url, content, content_type="application/json")
    assert response.status_code == 400, response.content
    assert response.json()["detail"]
    assert row_counts() == before


# Reading: blind labelling


@pytest.fixture
def both_labelled(project, images, annotator, annotator2) -> dict[str, Annotation]:
    """The first image labelled by both annotators, differently."""
    mine, _ = annotation_submit(
        project=project, annotator=annotator, image_id=images[0].pk, labels=["cat"]
    )
    theirs, _ = annotation_submit(
        project=project, annotator=annotator2, image_id=images[0].pk, labels=["dog"]
    )
    return {"mine": mine, "theirs": theirs}


@pytest.mark.parametrize(
    "query",
    ["", "?annotator={theirs_by}", "?image={image}", "?updated_at__gte=2000-01-01T00:00:00Z"],
)
def test_an_annotator_lists_only_their_own_annotations(
    url, annotator, annotator2, images, both_labelled, query
):
    """No list or filter shows an annotator another annotator's labels."""
    query = query.format(theirs_by=annotator2.pk, image=images[0].pk)
    results = client_for(annotator).get(url + query).json()["results"]
    assert {a["id"] for a in results} <= {both_labelled["mine"].pk}
    assert all(a["annotator"] == annotator.pk for a in results)


def test_an_annotator_reads_their_own_annotation_but_not_anothers(url, annotator, both_labelled):
    """Another annotator's annotation id answers 404 and shows nothing of it."""
    client = client_for(annotator)
    mine = client.get(f"{url}{both_labelled['mine'].pk}/")
    assert mine.status_code == 200
    assert mine.json()["labels"] == ["cat"]
    theirs = client.get(f"{url}{both_labelled['theirs'].pk}/")
    assert theirs.status_code == 404
    assert "not yours" in theirs.json()["detail"]
    assert "dog" not in theirs.content.decode()


@pytest.mark.parametrize("role", ["reviewer", "lead", "admin"])
def test_leads_reviewers_and_admins_see_every_annotation(
    project, url, lead, admin_user, both_labelled, role
):
    """They list everyone's labels and can filter by annotator."""
    user = {"lead": lead, "admin": admin_user}.get(role)
    if user is None:
        user = UserFactory(username="reviewer")
        add_member(project, user, "reviewer")
    client = client_for(user)
    results = client.get(url).json()["results"]
    assert sorted((a["annotator_username"], a["labels"][0]) for a in results) == [
        ("ann1", "cat"),
        ("ann2", "dog"),
    ]
    theirs = both_labelled["theirs"]
    filtered = client.get(f"{url}?annotator={theirs.annotator_id}").json()["results"]
    assert [a["id"] for a in filtered] == [theirs.pk]


def test_a_bad_filter_is_a_400(url, lead):
    """A filter value of the wrong type answers 400, not 500."""
    response = client_for(lead).get(f"{url}?image=abc")
    assert response.status_code == 400
    assert "image" in response.json()["errors"]
