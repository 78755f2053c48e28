"""The export list says what each export is, an identical export is reused, and COCO
takes the final labels unless asked for every annotation."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.core.files.storage import default_storage

from labeler.exports.models import Export, ExportStatus
from labeler.exports.options import export_options_parse
from tests.conftest import client_for
from tests.factories import annotation_submit
from tests.labeler.exports.data import annotate, labelled_images

pytestmark = pytest.mark.django_db


@pytest.fixture
def url(project) -> str:
    return f"/api/v1/projects/{project.pk}/exports/"


@pytest.fixture
def images(project, make_images):
    images = make_images(project, 4)
    labelled_images(project, images, ["cat", "dog"])
    return images


def queued(project, fmt: str = "json", total: int = 4, **options) -> Export:
    return Export.objects.create(
        project=project,
        format=fmt,
        options=export_options_parse({"format": fmt, **options}).as_dict(),
        total=total,
    )


def test_each_export_says_when_how_big_who_and_what(
    project, lead, url, images, django_capture_on_commit_callbacks
):
    client = client_for(lead)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"format": "csv", "annotations": "final"}, format="json")
    assert response.status_code == 202
    assert response.json()["reused"] is False
    [row] = client.get(url).json()["results"]
    assert row["status"] == "done" and row["queued_behind"] is None
    assert row["created_by"] == lead.username
    assert row["format"] == "csv" and row["options"]["annotations"] == "final"
    stored = Export.objects.get()
    assert row["size_bytes"] == stored.file.size > 0
    assert row["created_at"] and row["started_at"] and row["finished_at"]
    assert row["finished_at"] >= row["created_at"]


def test_a_failed_export_shows_its_reason(project, lead, url):
    Export.objects.create(
        project=project, format="json", status=ExportStatus.FAILED, error="OSError: disk full"
    )
    [row] = client_for(lead).get(url).json()["results"]
    assert (row["status"], row["error"], row["download_url"]) == (
        "failed",
        "OSError: disk full",
        None,
    )


def test_a_queued_export_says_how_many_of_its_lane_it_waits_behind(project, lead, url, images):
    """Zips wait behind zips; a small JSON export waits behind small ones only."""
    zip_running = queued(project, "imagefolder")
    Export.objects.filter(pk=zip_running.pk).update(status=ExportStatus.RUNNING)
    zip_queued = queued(project, "imagefolder")
    json_queued = queued(project, "json")
    second_zip = queued(project, "imagefolder")
    second_json = queued(project, "jsonl")
    client = client_for(lead)
    rows = {row["id"]: row for row in client.get(url).json()["results"]}
    assert rows[zip_running.pk]["queued_behind"] is None  # it runs
    assert rows[zip_queued.pk]["queued_behind"] == 1
    assert rows[second_zip.pk]["queued_behind"] == 2
    assert rows[json_queued.pk]["queued_behind"] == 0
    assert rows[second_json.pk]["queued_behind"] == 1
    detail = client.get(f"/api/v1/exports/{second_zip.pk}/").json()
    assert detail["queued_behind"] == 2


def test_a_large_text_export_takes_the_lane_of_archives(project, lead, url, settings):
    settings.LABELER_EXPORT_DIRECT_MAX_IMAGES = 10
    queued(project, "imagefolder")
    big_json = queued(project, "json", total=11)
    rows = {row["id"]: row for row in client_for(lead).get(url).json()["results"]}
    assert rows[big_json.pk]["queued_behind"] == 1


def test_the_same_export_asked_again_is_reused_until_a_label_changes(
    project, lead, annotator, url, images, django_capture_on_commit_callbacks
):
    client = client_for(lead)
    body = {"format": "imagefolder", "split": [0.5, 0.5]}
    with django_capture_on_commit_callbacks(execute=True):
        first = client.post(url, body, format="json").json()
    with django_capture_on_commit_callbacks(execute=True):
        again = client.post(url, {**body, "seed": 0}, format="json")
    assert again.status_code == 200
    assert (again.json()["id"], again.json()["reused"]) == (first["id"], True)
    assert again.json()["status"] == "done"
    assert Export.objects.count() == 1

    # Other options: a new export.
    with django_capture_on_commit_callbacks(execute=True):
        other = client.post(url, {**body, "seed": 1}, format="json")
    assert other.status_code == 202 and other.json()["id"] != first["id"]

    annotation_submit(project=project, annotator=annotator, image_id=images[0].pk, labels=["dog"])
    with django_capture_on_commit_callbacks(execute=True):
        after = client.post(url, body, format="json")
    assert after.status_code == 202 and after.json()["reused"] is False
    assert after.json()["id"] not in (first["id"], other.json()["id"])


@pytest.mark.parametrize(
    "change",
    ["image added", "image deleted", "final label", "label renamed", "tag"],
)
def test_any_change_to_what_an_export_holds_builds_it_anew(
    project, lead, url, images, make_images, django_capture_on_commit_callbacks, change
):
    client = client_for(lead)
    with django_capture_on_commit_callbacks(execute=True):
        first = client.post(url, {"format": "json"}, format="json").json()
    if change == "image added":
        make_images(project, 1)
    elif change == "image deleted":
        images[-1].delete()
    elif change == "final label":
        response = client.post(
            f"/api/v1/projects/{project.pk}/decisions/",
            {"image": images[0].pk, "labels": ["dog"], "method": "adjudicated"},
            format="json",
        )
        assert response.status_code in (200, 201), response.content
    elif change == "label renamed":
        project.labels.filter(name="cat").update(name="kitten")
    else:
        images[0].tags.create(name="night")
    with django_capture_on_commit_callbacks(execute=True):
        again = client.post(url, {"format": "json"}, format="json")
    assert again.status_code == 202, change
    assert again.json()["id"] != first["id"]


def test_reuse_false_always_builds_a_new_one(
    project, lead, url, images, django_capture_on_commit_callbacks
):
    client = client_for(lead)
    with django_capture_on_commit_callbacks(execute=True):
        first = client.post(url, {"format": "json"}, format="json").json()
        again = client.post(url, {"format": "json", "reuse": False}, format="json")
    assert again.status_code == 202 and again.json()["id"] != first["id"]
    response = client.post(url, {"format": "json", "reuse": "maybe"}, format="json")
    assert response.status_code == 400
    assert "reuse" in json.dumps(response.json())


def test_an_export_the_cleanup_takes_within_a_day_is_not_handed_back(
    project, lead, url, images, settings, django_capture_on_commit_callbacks
):
    """A download link handed back must outlive the next hourly cleanup."""
    settings.LABELER_EXPORT_KEEP_DAYS = 3
    client = client_for(lead)
    with django_capture_on_commit_callbacks(execute=True):
        first = client.post(url, {"format": "json"}, format="json").json()
    made = Export.objects.get(pk=first["id"])
    made.finished_at -= timedelta(days=1, hours=23)  # a day and a hour left: still handed back
    made.save(update_fields=["finished_at"])
    with django_capture_on_commit_callbacks(execute=True):
        again = client.post(url, {"format": "json"}, format="json")
    assert (again.status_code, again.json()["id"]) == (200, first["id"])
    made.finished_at -= timedelta(hours=2)  # under a day left: a new one
    made.save(update_fields=["finished_at"])
    with django_capture_on_commit_callbacks(execute=True):
        fresh = client.post(url, {"format": "json"}, format="json")
    assert fresh.status_code == 202 and fresh.json()["id"] != first["id"]


def test_a_queued_identical_export_is_handed_back(project, lead, url, images):
    """Double-clicking Start gives one export, not two."""
    client = client_for(lead)
    first = client.post(url, {"format": "json"}, format="json").json()  # never committed: queued
    again = client.post(url, {"format": "json"}, format="json")
    assert again.status_code == 200
    assert (again.json()["id"], again.json()["status"]) == (first["id"], "queued")


def test_exports_with_signed_links_are_never_reused(
    project, lead, url, images, django_capture_on_commit_callbacks
):
    client = client_for(lead)
    body = {"format": "label-studio"}
    with django_capture_on_commit_callbacks(execute=True):
        first = client.post(url, body, format="json").json()
        again = client.post(url, body, format="json")
    assert again.status_code == 202 and again.json()["id"] != first["id"]


def test_annotators_cannot_delete_an_export_and_leads_can(
    project, lead, annotator, url, images, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        export_id = client_for(lead).post(url, {"format": "csv"}, format="json").json()["id"]
    name = Export.objects.get(pk=export_id).file.name
    assert client_for(annotator).delete(f"/api/v1/exports/{export_id}/").status_code == 403
    assert default_storage.exists(name)
    with django_capture_on_commit_callbacks(execute=True):
        assert client_for(lead).delete(f"/api/v1/exports/{export_id}/").status_code == 204
    assert not Export.objects.exists() and not default_storage.exists(name)


def test_coco_takes_the_final_labels_by_default(
    project, lead, annotator, annotator2, url, make_images, django_capture_on_commit_callbacks
):
    """One annotation per image with a final label; every annotation only when asked."""
    images = make_images(project, 5)
    labelled_images(project, images[:3], ["cat", "dog"])  # two have no final label
    for image in images:
        annotate(image, annotator, ["cat"])
        annotate(image, annotator2, ["dog"])
    client = client_for(lead)
    with django_capture_on_commit_callbacks(execute=True):
        default = client.post(url, {"format": "coco"}, format="json").json()
        every = client.post(url, {"format": "coco", "annotations": "all"}, format="json").json()
    assert default["options"]["annotations"] == "final"
    assert every["options"]["annotations"] == "all"
    documents = {}
    for started in (default, every):
        export = Export.objects.get(pk=started["id"])
        documents[started["id"]] = json.loads(export.file.open("rb").read())
    assert len(documents[default["id"]]["annotations"]) == 3
    assert len(documents[every["id"]]["annotations"]) == 3 + 2 * 5
