"""Bulk actions over REST: each action, roles, every bad input, the job and its progress."""

from __future__ import annotations

import pytest

from labeler.agreement.review_requests import open_review_image_ids
from labeler.annotations.models import Annotation, FinalLabel, ImageReservation, LabelChange
from labeler.bulk.actions import ACTIONS
from labeler.bulk.models import BulkAction
from labeler.images.catalogue.services import images_describe
from labeler.images.models import Image
from tests.conftest import client_for
from tests.factories import ProjectFactory, annotation_submit
from tests.rows import row_counts

pytestmark = pytest.mark.django_db


@pytest.fixture
def images(project, annotator, annotator2, make_images):
    images = make_images(project, 3)
    for user in (annotator, annotator2):
        annotation_submit(project=project, annotator=user, image_id=images[0].pk, labels=["cat"])
    return images


def post(user, project, body):
    return client_for(user).post(f"/api/v1/projects/{project.pk}/images/bulk/", body, format="json")


def ids(images):
    return {"ids": [image.pk for image in images]}


@pytest.mark.parametrize(
    ("action", "params"),
    [
        ("review", {"note": "look again"}),
        ("relabel", {"annotators": ["ann1"]}),
        ("gold", {"labels": ["dog"]}),
        ("priority", {"priority": 4}),
        ("reserve", {"annotators": ["ann2"]}),
        ("delete", {}),
        ("export", {"format": "json"}),
    ],
)
def test_every_action_answers_its_record(project, lead, images, action, params):
    body = {"action": action, "selection": ids(images[:2]), "expected_count": 2, **params}
    response = post(lead, project, body)
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["action"], body["status"], body["total"], body["done"]) == (
        action,
        "done",
        2,
        2,
    )
    assert body["progress"] == 1.0 and body["created_by"] == "lead"
    assert body["url"].endswith(f"/api/v1/bulk-actions/{body['id']}/")
    effects = {
        "review": lambda: open_review_image_ids(project).count() == 2,
        "relabel": lambda: not Annotation.objects.filter(annotator__username="ann1").exists(),
        "gold": lambda: FinalLabel.objects.filter(method="gold").count() == 2,
        "priority": lambda: Image.objects.filter(priority=4).count() == 2,
        "reserve": lambda: ImageReservation.objects.count() == 2,
        "delete": lambda: Image.objects.count() == 1,
        "export": lambda: body["result"]["export"] > 0,
    }
    assert effects[action]()


def test_only_leads_and_admins(project, reviewer, annotator, outsider, admin_user, images):
    body = {"action": "priority", "selection": ids(images), "priority": 1}
    assert post(reviewer, project, body).status_code == 403
    assert post(annotator, project, body).status_code == 403
    assert post(outsider, project, body).status_code == 404
    assert post(admin_user, project, body).status_code == 200
    assert not BulkAction.objects.exclude(created_by=admin_user).exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"selection": {"ids": [1]}}, "action"),
        ({"action": "review"}, "selection"),
        ({"action": "paint", "selection": {"ids": [1]}}, "action"),
        ({"action": "review", "selection": {"ids": []}}, "selection"),
        ({"action": "review", "selection": "all"}, "selection"),
        ({"action": "relabel", "selection": {"ids": [1]}, "annotators": ["ghost"]}, "annotators"),
        ({"action": "priority", "selection": {"ids": [1]}}, "priority"),
        ({"action": "delete", "selection": {"ids": [1]}, "force": True}, "force"),
    ],
)
def test_bad_input_is_a_clear_400(project, lead, images, body, field):
    response = post(lead, project, body)
    assert response.status_code == 400, response.content
    assert list(response.json()["errors"]) == [field], response.json()
    assert response.json()["detail"]


def test_ids_of_another_project_are_a_400(project, lead, images, make_images):
    (foreign,) = make_images(ProjectFactory(), 1)
    body = {
        "action": "delete",
        "selection": {"ids": [images[0].pk, foreign.pk]},
        "expected_count": 2,
    }
    response = post(lead, project, body)
    assert response.status_code == 400
    assert "not images of this project" in response.json()["detail"]
    assert Image.objects.filter(pk=foreign.pk).exists() and Image.objects.count() == 4


def test_a_filter_selection_with_exclusions(project, lead, images):
    body = {
        "action": "priority",
        "selection": {"filter": "status=not_started", "exclude_ids": [images[1].pk]},
        "priority": 9,
    }
    response = post(lead, project, body)
    assert response.status_code == 200, response.content
    assert response.json()["selection"] == {
        "count": 1,
        "filter": "status=not_started",
        "excluded": 1,
    }
    assert list(Image.objects.filter(priority=9).values_list("pk", flat=True)) == [images[2].pk]
    bad = post(lead, project, {**body, "selection": {"filter": "status=purple"}})
    assert bad.status_code == 400, bad.content


def test_a_large_selection_answers_202_and_reports_progress(
    project, lead, images, settings, django_capture_on_commit_callbacks
):
    settings.LABELER_BULK_BACKGROUND_OVER = 2
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = post(
            lead, project, {"action": "priority", "selection": ids(images), "priority": 3}
        )
    assert response.status_code == 202, response.content
    body = response.json()
    assert response["Location"] == body["url"]
    assert (body["status"], body["done"], body["total"], body["progress"]) == ("queued", 0, 3, 0)
    for callback in callbacks:
        callback()  # the worker runs the job
    job = client_for(lead).get(body["url"]).json()
    assert (job["status"], job["done"], job["changed"], job["progress"]) == ("done", 3, 3, 1.0)
    assert (
        client_for(lead)
        .get(f"/api/v1/projects/{project.pk}/bulk-actions/")
        .json()["results"][0]["id"]
        == body["id"]
    )


def test_progress_is_for_leads_of_the_project(project, lead, annotator, outsider, images):
    body = post(
        lead, project, {"action": "priority", "selection": ids(images), "priority": 1}
    ).json()
    assert client_for(annotator).get(body["url"]).status_code == 403
    assert client_for(outsider).get(body["url"]).status_code == 404
    assert client_for(lead).get("/api/v1/bulk-actions/999999/").status_code == 404


# The count the lead saw ------------------------------------------------------------------

DESTROYING = sorted(name for name, spec in ACTIONS.items() if spec.destroys)


def stored():
    """What a refused action must leave as it was."""
    return {
        **row_counts(),
        "reservations": ImageReservation.objects.count(),
        "history": LabelChange.objects.count(),
        "bulk actions": BulkAction.objects.count(),
        "gold": FinalLabel.objects.filter(method="gold").count(),
    }


PARAMS = {"relabel": {}, "gold": {"labels": ["dog"]}, "reserve": {"annotators": []}}


def test_delete_relabel_gold_and_reserve_destroy():
    """The registry says which actions destroy or withdraw data; these at least."""
    assert {"delete", "relabel", "gold", "reserve"} <= set(DESTROYING)


@pytest.mark.parametrize("action", DESTROYING)
def test_an_action_that_destroys_data_needs_the_count_its_sender_saw(project, lead, images, action):
    before = stored()
    body = {"action": action, "selection": ids(images[:2]), **PARAMS.get(action, {})}
    response = post(lead, project, body)
    assert response.status_code == 400, response.content
    assert list(response.json()["errors"]) == ["expected_count"]
    assert stored() == before


@pytest.mark.parametrize("action", DESTROYING)
def test_a_selection_that_now_matches_another_count_is_a_409_with_both(
    project, lead, images, action
):
    before = stored()
    body = {
        "action": action,
        "selection": {"filter": "status=not_started"},  # two images match now
        "expected_count": 3,  # what the lead saw before one was labelled
        **PARAMS.get(action, {}),
    }
    response = post(lead, project, body)
    assert response.status_code == 409, response.content
    answer = response.json()
    assert (answer["expected_count"], answer["matched_count"]) == (3, 2)
    assert "matches 2 images now, not the 3" in answer["detail"]
    assert stored() == before


@pytest.mark.parametrize("value", [-1, "2", True, 2.5, [2]])
def test_an_expected_count_that_is_no_count_is_a_400(project, lead, images, value):
    body = {"action": "delete", "selection": ids(images[:2]), "expected_count": value}
    response = post(lead, project, body)
    assert response.status_code == 400, response.content
    assert list(response.json()["errors"]) == ["expected_count"]
    assert Image.objects.count() == 3


def test_a_delete_by_tag_deletes_the_tagged_images_only(project, lead, make_images):
    """A tag filter was dropped by the selection: the delete then took every image."""
    images = make_images(project, 5)
    images_describe(project=project, image_ids=[images[0].pk, images[3].pk], add_tags=["junk"])
    count = client_for(lead).get(
        f"/api/v1/projects/{project.pk}/images/bulk/", {"filter": "tag=junk"}
    )
    assert count.json() == {"count": 2}
    body = {"action": "delete", "selection": {"filter": "tag=junk"}, "expected_count": 2}
    response = post(lead, project, body)
    assert response.status_code == 200, response.content
    assert set(Image.objects.values_list("pk", flat=True)) == {
        image.pk for image in (images[1], images[2], images[4])
    }
