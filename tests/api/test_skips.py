"""Skips through /api/v1/projects/{id}/skips/: passing on an image, listing, taking one back."""

from __future__ import annotations

from typing import Any

import pytest

from labeler.annotations.models import Annotation, Assignment, Skip
from labeler.images.models import Image
from labeler.projects.models import Project, Role
from tests.conftest import client_for
from tests.factories import (
    ProjectFactory,
    UserFactory,
    add_member,
    annotation_submit,
    hold,
    skip_create,
)
from tests.rows import row_counts


@pytest.fixture
def url(project) -> str:
    return f"/api/v1/projects/{project.pk}/skips/"


@pytest.fixture
def third(project):
    user = UserFactory(username="ann3")
    add_member(project, user)
    return user


def skip(url: str, user, payload: Any) -> Any:
    """Skip as the labelling page does: the image handed out by the queue first."""
    project = Project.objects.get(pk=int(url.split("/")[4]))
    if isinstance(payload, dict) and user is not None:
        hold(project, user, payload.get("image"))
    return client_for(user).post(url, payload, format="json")


def next_image(project: Project, user) -> int | None:
    """The id of the image the queue hands the user, or None on 204."""
    response = client_for(user).get(f"/api/v1/projects/{project.pk}/next/")
    if response.status_code == 204:
        return None
    assert response.status_code == 200, response.content
    return response.json()["image"]["id"]


def test_a_skip_is_stored_and_returned(project, url, annotator, make_images):
    """201 with the skip; the row belongs to the project, the image and the caller."""
    (image,) = make_images(project, 1)
    response = skip(url, annotator, {"image": image.pk, "reason": "blurry"})
    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == {"id", "image", "annotator", "reason", "created_at"}
    assert (body["image"], body["annotator"], body["reason"]) == (image.pk, annotator.pk, "blurry")
    stored = Skip.objects.get()
    assert (stored.pk, stored.project_id, stored.image_id, stored.annotator_id) == (
        body["id"],
        project.pk,
        image.pk,
        annotator.pk,
    )


@pytest.mark.parametrize(
    "payload, reason",
    [
        pytest.param({}, "", id="no-reason"),
        pytest.param({"reason": ""}, "", id="blank"),
        pytest.param({"reason": "  too dark \n"}, "too dark", id="trimmed"),
        pytest.param({"reason": "x" * 500}, "x" * 500, id="500-characters"),
        pytest.param({"reason": "  " + "x" * 496 + "  "}, "x" * 496, id="500-with-blanks"),
    ],
)
def test_the_reason_is_optional_and_trimmed(project, url, annotator, make_images, payload, reason):
    """A skip needs no reason; the reason is stored without surrounding blanks."""
    (image,) = make_images(project, 1)
    response = skip(url, annotator, {"image": image.pk, **payload})
    assert response.status_code == 201, response.content
    assert response.json()["reason"] == reason
    assert Skip.objects.get().reason == reason


# The queue


def test_a_skipped_image_leaves_only_the_skippers_queue(
    project, url, annotator, annotator2, make_images
):
    """The skipper is not given the image again; other annotators still are."""
    (image,) = make_images(project, 1)
    assert skip(url, annotator, {"image": image.pk}).status_code == 201
    assert next_image(project, annotator) is None
    assert next_image(project, annotator2) == image.pk


def test_a_skip_counts_toward_no_overlap(project, url, annotator, annotator2, third, make_images):
    """With overlap 2 and one skip, two other annotators still both get the image."""
    (image,) = make_images(project, 1)
    skip(url, annotator, {"image": image.pk})
    assert next_image(project, annotator2) == image.pk
    assert next_image(project, third) == image.pk
    image.refresh_from_db()
    assert (image.annotation_count, image.is_complete) == (0, False)


def test_skipping_a_held_image_frees_its_slot(project, url, annotator, annotator2, make_images):
    """Skipping ends the skipper's lease, so with overlap 1 the image goes to someone else."""
    project.overlap = 1
    project.save()
    (image,) = make_images(project, 1)
    assert next_image(project, annotator) == image.pk
    assert next_image(project, annotator2) is None
    assert skip(url, annotator, {"image": image.pk}).status_code == 201
    assert not Assignment.objects.filter(annotator=annotator).exists()
    assert next_image(project, annotator2) == image.pk


def test_the_next_image_after_a_skip_is_another_one(project, url, annotator, make_images):
    """Skipping the held image moves the annotator on to the next open image."""
    first, second = make_images(project, 2)
    assert next_image(project, annotator) == first.pk
    skip(url, annotator, {"image": first.pk, "reason": "not a pet"})
    assert next_image(project, annotator) == second.pk


def test_labelling_a_skipped_image_takes_the_skip_back(project, url, annotator, make_images):
    """An annotator may still label an image they skipped; the skip then goes."""
    (image,) = make_images(project, 1)
    skip(url, annotator, {"image": image.pk})
    response = client_for(annotator).post(
        f"/api/v1/projects/{project.pk}/annotations/",
        {"image": image.pk, "labels": ["cat"]},
        format="json",
    )
    assert response.status_code == 201, response.content
    assert not Skip.objects.exists()
    assert client_for(annotator).get(url).json()["results"] == []


def test_labelling_removes_only_the_labellers_skip(
    project, url, annotator, annotator2, make_images
):
    """Another annotator's skip of the same image stays."""
    (image,) = make_images(project, 1)
    skip(url, annotator2, {"image": image.pk})
    annotation_submit(project=project, annotator=annotator, image_id=image.pk, labels=["cat"])
    assert list(Skip.objects.values_list("annotator_id", flat=True)) == [annotator2.pk]


# Refusals


def test_skipping_an_image_one_labelled_is_refused(project, url, annotator, make_images):
    """400 saying to change the label instead; nothing is written."""
    (image,) = make_images(project, 1)
    annotation_submit(project=project, annotator=annotator, image_id=image.pk, labels=["cat"])
    before = row_counts()
    response = skip(url, annotator, {"image": image.pk, "reason": "changed my mind"})
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "invalid"
    assert list(body["errors"]) == ["image"]
    assert f"You have labelled image {image.pk} already" in body["detail"]
    assert "change its label" in body["detail"]
    assert row_counts() == before


def test_an_image_someone_else_labelled_may_be_skipped(
    project, url, annotator, annotator2, make_images
):
    """Only the caller's own label stands in the way of a skip."""
    (image,) = make_images(project, 1)
    annotation_submit(project=project, annotator=annotator2, image_id=image.pk, labels=["cat"])
    assert skip(url, annotator, {"image": image.pk}).status_code == 201


@pytest.fixture
def foreign_image(outsider, make_images) -> Image:
    other = ProjectFactory(name="Other")
    add_member(other, outsider)
    (image,) = make_images(other, 1)
    return image


MISSING = object()
BAD = [
    pytest.param({"reason": "x" * 501}, "reason", "500", id="reason-501"),
    pytest.param({"reason": " " + "x" * 501}, "reason", "500", id="reason-501-trimmed"),
    pytest.param({"reason": " " + "x" * 500}, "reason", "500", id="reason-500-and-a-blank"),
    pytest.param({"reason": ["blurry"]}, "reason", "string", id="reason-list"),
    pytest.param({"reason": {"why": "blurry"}}, "reason", "string", id="reason-object"),
    pytest.param({"reason": True}, "reason", "string", id="reason-bool"),
    pytest.param({"reason": None}, "reason", "null", id="reason-null"),
    pytest.param({"image": MISSING}, "image", "required", id="image-missing"),
    pytest.param({"image": None}, "image", "null", id="image-null"),
    pytest.param({"image": "abc"}, "image", "integer", id="image-not-int"),
    pytest.param({"image": 1.5}, "image", "integer", id="image-float"),
    pytest.param({"image": [1]}, "image", "integer", id="image-list"),
    pytest.param({"image": "{foreign}"}, "image", "not an image of this project", id="foreign"),
    pytest.param({"image": 10**9}, "image", "not an image of this project", id="no-such-image"),
    pytest.param({"image": 10**20}, "image", "not an image of this project", id="huge-image"),
]


@pytest.mark.parametrize("overrides, field, message", BAD)
def test_bad_skips_are_refused_and_write_nothing(
    project, url, annotator, make_images, foreign_image, overrides, field, message
):
    """Each bad skip answers 400 naming the field, with a message; nothing is written."""
    (image,) = make_images(project, 1)
    payload: dict[str, Any] = {"image": image.pk, "reason": "blurry", **overrides}
    if payload["image"] == "{foreign}":
        payload["image"] = foreign_image.pk
    payload = {key: value for key, value in payload.items() if value is not MISSING}
    assignment = next_image(project, annotator)
    before = row_counts()
    response = skip(url, annotator, payload)
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "invalid"
    assert list(body["errors"]) == [field]
    assert message in body["detail"]
    assert row_counts() == before
    assert Assignment.objects.filter(annotator=annotator, image_id=assignment).exists()


def test_a_skip_of_another_projects_image_leaves_that_image_alone(
    project, url, annotator, foreign_image
):
    """Refused, and the other project's image gets no skip."""
    response = skip(url, annotator, {"image": foreign_image.pk})
    assert response.status_code == 400
    assert not Skip.objects.filter(image=foreign_image).exists()


@pytest.mark.parametrize("content", ['{"image": 1', "image=1", '"just a string"', "[1, 2]"])
def test_a_malformed_body_is_refused(url, annotator, content):
    """A body that is not a JSON object answers 400 with a message, never a 500."""
    before = row_counts()
    response = client_for(annotator).generic("POST", url, content, content_type="application/json")
    assert response.status_code == 400, response.content
    assert response.json()["detail"]
    assert response.json()["code"]
    assert row_counts() == before


def test_skipping_twice_keeps_one_skip_with_the_latest_reason(project, url, annotator, make_images):
    """The second skip of an image updates the reason of the first; no second row."""
    (image,) = make_images(project, 1)
    first = skip(url, annotator, {"image": image.pk, "reason": "blurry"}).json()
    second = skip(url, annotator, {"image": image.pk, "reason": "not a pet"})
    assert second.status_code == 201, second.content
    assert second.json()["id"] == first["id"]
    assert second.json()["reason"] == "not a pet"
    assert second.json()["created_at"] == first["created_at"]
    assert list(Skip.objects.values_list("pk", "reason")) == [(first["id"], "not a pet")]


def test_a_second_skip_without_a_reason_clears_the_reason(project, url, annotator, make_images):
    """The reason is the latest one given, even when that is none."""
    (image,) = make_images(project, 1)
    skip(url, annotator, {"image": image.pk, "reason": "blurry"})
    skip(url, annotator, {"image": image.pk})
    assert Skip.objects.get().reason == ""


# Reading


@pytest.fixture
def both_skipped(project, annotator, annotator2, make_images) -> dict[str, Skip]:
    """The first image skipped by both annotators, the second by the second annotator only."""
    first, second = make_images(project, 2)
    return {
        "mine": skip_create(project=project, annotator=annotator, image_id=first.pk, reason="a"),
        "theirs": skip_create(project=project, annotator=annotator2, image_id=first.pk, reason="b"),
        "theirs_too": skip_create(project=project, annotator=annotator2, image_id=second.pk),
    }


@pytest.mark.parametrize("query", ["", "?annotator={theirs_by}", "?image={image}"])
def test_an_annotator_lists_only_their_own_skips(url, annotator, annotator2, both_skipped, query):
    """No list or filter shows an annotator another annotator's skips."""
    query = query.format(theirs_by=annotator2.pk, image=both_skipped["theirs"].image_id)
    response = client_for(annotator).get(url + query)
    assert response.status_code == 200
    ids = [s["id"] for s in response.json()["results"]]
    assert set(ids) <= {both_skipped["mine"].pk}
    if "annotator" not in query:
        assert ids == [both_skipped["mine"].pk]


def test_an_annotator_reads_their_own_skip_but_not_anothers(url, annotator, both_skipped):
    """Another annotator's skip id answers 404 and shows nothing of it."""
    client = client_for(annotator)
    mine = client.get(f"{url}{both_skipped['mine'].pk}/")
    assert mine.status_code == 200
    assert mine.json()["reason"] == "a"
    theirs = client.get(f"{url}{both_skipped['theirs'].pk}/")
    assert theirs.status_code == 404
    assert theirs.json()["code"] == "not_found"
    assert "not yours" in theirs.json()["detail"]


@pytest.mark.parametrize("role", ["reviewer", "lead", "admin"])
def test_leads_reviewers_and_admins_see_every_skip(
    project, url, lead, admin_user, annotator2, both_skipped, role
):
    """They list everyone's skips, read any of them and filter by annotator or image."""
    user = {"lead": lead, "admin": admin_user}.get(role)
    if user is None:
        user = UserFactory(username="reviewer")
        add_member(project, user, Role.REVIEWER)
    client = client_for(user)
    everything = {s["id"] for s in client.get(url).json()["results"]}
    assert everything == {s.pk for s in both_skipped.values()}
    filtered = client.get(f"{url}?annotator={annotator2.pk}").json()["results"]
    assert {s["id"] for s in filtered} == {both_skipped["theirs"].pk, both_skipped["theirs_too"].pk}
    image = both_skipped["mine"].image_id
    by_image = client.get(f"{url}?image={image}").json()["results"]
    assert {s["id"] for s in by_image} == {both_skipped["mine"].pk, both_skipped["theirs"].pk}
    assert client.get(f"{url}{both_skipped['mine'].pk}/").json()["reason"] == "a"


def test_the_list_holds_only_this_projects_skips(url, annotator, lead, both_skipped, foreign_image):
    """A skip in another project never shows up here, even to a member of both."""
    other = foreign_image.project
    add_member(other, annotator)
    skip_create(project=other, annotator=annotator, image_id=foreign_image.pk)
    for user in (annotator, lead):
        results = client_for(user).get(url).json()["results"]
        assert all(s["image"] != foreign_image.pk for s in results)
    assert len(client_for(lead).get(url).json()["results"]) == 3


def test_a_bad_filter_is_a_400(url, lead):
    """A filter value of the wrong type answers 400, not 500."""
    response = client_for(lead).get(f"{url}?image=abc")
    assert response.status_code == 400
    assert "image" in response.json()["errors"]


# Taking a skip back


def test_withdrawing_a_skip_leases_the_image_back(project, url, annotator, make_images):
    """204; the skip is gone and the queue hands the image to the annotator again."""
    first, second = make_images(project, 2)
    created = skip(url, annotator, {"image": first.pk}).json()
    assert next_image(project, annotator) == second.pk
    response = client_for(annotator).delete(f"{url}{created['id']}/")
    assert response.status_code == 204, response.content
    assert response.content == b""
    assert not Skip.objects.exists()
    assert Assignment.objects.filter(annotator=annotator, image=first).exists()
    annotation_submit(project=project, annotator=annotator, image_id=second.pk, labels=["cat"])
    assert next_image(project, annotator) == first.pk


def test_a_withdrawn_skip_is_the_next_image_when_nothing_else_is_held(
    project, url, annotator, make_images
):
    """Taking back the skip of the only image makes next/ answer with it again."""
    (image,) = make_images(project, 1)
    created = skip(url, annotator, {"image": image.pk}).json()
    assert next_image(project, annotator) is None
    assert client_for(annotator).delete(f"{url}{created['id']}/").status_code == 204
    assert next_image(project, annotator) == image.pk


def test_withdrawing_a_skip_of_an_image_filled_meanwhile_leases_nothing(
    project, url, annotator, annotator2, third, make_images
):
    """The skip goes, but an image others completed is not leased beyond overlap."""
    (image,) = make_images(project, 1)
    created = skip(url, annotator, {"image": image.pk}).json()
    for user in (annotator2, third):
        annotation_submit(project=project, annotator=user, image_id=image.pk, labels=["cat"])
    assert client_for(annotator).delete(f"{url}{created['id']}/").status_code == 204
    assert not Skip.objects.exists()
    assert not Assignment.objects.exists()
    assert next_image(project, annotator) is None


@pytest.mark.parametrize("who", ["annotator", "lead"])
def test_someone_elses_skip_cannot_be_withdrawn(url, annotator, lead, both_skipped, who):
    """Another annotator's skip answers 404, even to a lead, and stays."""
    client = client_for({"annotator": annotator, "lead": lead}[who])
    before = row_counts()
    response = client.delete(f"{url}{both_skipped['theirs'].pk}/")
    assert response.status_code == 404, response.content
    assert response.json()["code"] == "not_found"
    assert "not yours" in response.json()["detail"]
    assert row_counts() == before
    assert Skip.objects.filter(pk=both_skipped["theirs"].pk).exists()


def test_a_skip_of_another_project_is_not_found_here(
    project, url, outsider, annotator, foreign_image
):
    """A skip id from another project, even the caller's own, answers 404 through this one."""
    other = foreign_image.project
    add_member(other, annotator)
    theirs = skip_create(project=other, annotator=annotator, image_id=foreign_image.pk)
    client = client_for(annotator)
    before = row_counts()
    assert client.get(f"{url}{theirs.pk}/").status_code == 404
    assert client.delete(f"{url}{theirs.pk}/").status_code == 404
    assert row_counts() == before


@pytest.mark.parametrize("skip_id", ["999999", str(10**20)])
def test_unknown_skip_ids_answer_404(url, annotator, skip_id):
    """Unknown and out-of-range ids are simply not found, never a 500."""
    client = client_for(annotator)
    for response in (client.get(f"{url}{skip_id}/"), client.delete(f"{url}{skip_id}/")):
        assert response.status_code == 404, response.content
        assert response.json()["code"] == "not_found"


def test_a_withdrawn_skip_cannot_be_withdrawn_again(url, annotator, both_skipped):
    """The second DELETE of the same skip answers 404."""
    path = f"{url}{both_skipped['mine'].pk}/"
    assert client_for(annotator).delete(path).status_code == 204
    assert client_for(annotator).delete(path).status_code == 404


def test_skips_leave_annotations_alone(project, url, annotator, annotator2, make_images):
    """Skipping and taking back a skip change no annotation or count."""
    (image,) = make_images(project, 1)
    annotation_submit(project=project, annotator=annotator2, image_id=image.pk, labels=["dog"])
    created = skip(url, annotator, {"image": image.pk}).json()
    client_for(annotator).delete(f"{url}{created['id']}/")
    assert Annotation.objects.count() == 1
    image.refresh_from_db()
    assert image.annotation_count == 1


def test_an_image_the_queue_did_not_hand_out_cannot_be_skipped(
    project, url, annotator, make_images
):
    """A skip is of an image the annotator was handed: one picked by id is a 409 and
    writes nothing, so skipping (and taking the skip back) is no way round the queue."""
    held, picked = make_images(project, 2)
    hold(project, annotator, held.pk)
    before = row_counts()
    response = client_for(annotator).post(url, {"image": picked.pk}, format="json")
    assert response.status_code == 409, response.content
    assert response.json()["code"] == "not_handed_out"
    assert "not handed to you" in response.json()["detail"]
    assert row_counts() == before
    assert skip(url, annotator, {"image": held.pk}).status_code == 201
