"""POST/GET /projects/{id}/erasures/: leads and admins erase images and read the reports;
every bad request is a 400 that names what is wrong, and changes nothing."""

from __future__ import annotations

import pytest

from labeler.images.models import Image
from tests.conftest import client_for
from tests.factories import ProjectFactory, add_member


@pytest.fixture
def url(project) -> str:
    return f"/api/v1/projects/{project.pk}/erasures/"


@pytest.fixture
def images(project, make_images, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        return make_images(project, 3)


def test_a_lead_erases_by_id_and_reads_the_report(
    project, lead, url, images, django_capture_on_commit_callbacks
):
    client = client_for(lead)
    dry = client.post(url, {"image_ids": [images[0].pk], "dry_run": True}, format="json")
    assert dry.status_code == 200
    assert dry.json()["dry_run"] is True and dry.json()["image_count"] == 1
    assert dry.json()["files"]["original"] == 1
    assert Image.objects.filter(pk=images[0].pk).exists()
    with django_capture_on_commit_callbacks(execute=True):
        body = {"image_ids": [images[0].pk], "reason": "asked", "expected_count": 1}
        made = client.post(url, body, format="json")
    assert made.status_code == 201, made.json()
    report = made.json()
    assert (report["image_ids"], report["requested_by"], report["reason"]) == (
        [images[0].pk], "lead", "asked"
    )  # fmt: skip
    assert not Image.objects.filter(pk=images[0].pk).exists()
    listed = client.get(url).json()["results"]
    assert [item["id"] for item in listed] == [report["id"]]
    assert client.get(f"{url}{report['id']}/").json()["image_count"] == 1


def test_an_annotator_and_an_outsider_are_refused(project, annotator, outsider, url, images):
    body = {"image_ids": [images[0].pk], "reason": "x"}
    assert client_for(annotator).post(url, body, format="json").status_code == 403
    assert client_for(annotator).get(url).status_code == 403
    assert client_for(outsider).post(url, body, format="json").status_code == 404
    assert Image.objects.count() == 3


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"filter": {"colour": "red"}, "reason": "x"}, "Unknown filter 'colour'"),
        ({"filter": {}, "reason": "x"}, "empty filter would match every image"),
        ({"filter": "", "reason": "x"}, "empty filter would match every image"),
        ({"filter": "sort=-created", "reason": "x"}, "empty filter would match every image"),
        ({"filter": {"sort": "created"}, "reason": "x"}, "empty filter would match every"),
        ({"filter": "origin=", "reason": "x"}, "origin is empty"),
        ({"filter": {"origin": ""}, "reason": "x"}, "origin is empty"),
        ({"filter": "bogus=1", "reason": "x"}, "Unknown filter 'bogus'"),
        ({"image_ids": [], "reason": "x"}, "The selection is empty"),
        ({"reason": "x"}, "Name the images"),
        ({"image_ids": [1], "filter": {"origin": "a"}, "reason": "x"}, "Name the images"),
        ({"image_ids": "1", "reason": "x"}, "must be a list"),
        ({"image_ids": [True], "reason": "x"}, "whole-number"),
        ({"filter": {"origin": "nobody"}, "reason": "x"}, "matches no image"),
        ({"filter": {"origin": {"a": 1}}, "reason": "x"}, "a text or a list of texts"),
        ({"image_ids": ["IMAGE"], "reason": " "}, "reason is required"),
        ({"image_ids": ["IMAGE"]}, "reason is required"),
        ({"image_ids": ["IMAGE"], "reason": "x", "dry_run": "yes"}, "dry_run is true or false"),
        ({"image_ids": ["IMAGE"], "reason": "x", "everything": True}, "Unknown key"),
    ],
)
def test_bad_requests_are_400s_that_change_nothing(lead, url, images, body, says):
    if body.get("image_ids") == ["IMAGE"]:
        body = {**body, "image_ids": [images[0].pk]}
    body = {"expected_count": 1, **body}  # what is wrong is the body's other part
    response = client_for(lead).post(url, body, format="json")
    assert response.status_code == 400, response.json()
    assert says in str(response.json()), response.json()
    assert Image.objects.count() == 3


def test_ids_of_another_project_are_a_400(lead, url, images, make_images):
    other = ProjectFactory()
    add_member(other, lead, "lead")
    theirs = make_images(other, 1)[0]
    response = client_for(lead).post(
        url,
        {"image_ids": [images[0].pk, theirs.pk], "reason": "x", "expected_count": 2},
        format="json",
    )
    assert response.status_code == 400
    assert "not images of this project" in response.json()["detail"]
    assert Image.objects.count() == 4


def test_another_projects_report_is_not_found(lead, admin_user, url, images):
    body = {"image_ids": [images[0].pk], "reason": "x", "expected_count": 1}
    client_for(lead).post(url, body, format="json")
    other = ProjectFactory()
    add_member(other, lead, "lead")
    report_id = client_for(lead).get(url).json()["results"][0]["id"]
    assert (
        client_for(lead).get(f"/api/v1/projects/{other.pk}/erasures/{report_id}/").status_code
        == 404
    )
    assert client_for(admin_user).get(f"{url}{report_id}/").status_code == 200


def test_export_keep_days_is_a_project_setting_of_1_to_3650_days_or_null(project, lead):
    client = client_for(lead)
    url = f"/api/v1/projects/{project.pk}/"
    assert client.get(url).json()["export_keep_days"] is None
    assert client.patch(url, {"export_keep_days": 45}, format="json").status_code == 200
    project.refresh_from_db()
    assert project.export_keep_days == 45
    for bad in (0, 3651, "soon", 2.5):
        response = client.patch(url, {"export_keep_days": bad}, format="json")
        assert response.status_code == 400 and "export_keep_days" in str(response.json()), bad
    assert client.patch(url, {"export_keep_days": None}, format="json").status_code == 200
    project.refresh_from_db()
    assert project.export_keep_days is None
