"""Direct exports through /api/v1/projects/{id}/export/: formats, options, limits, access."""

from __future__ import annotations

import io
import json
import zipfile

import pytest

from tests.conftest import client_for
from tests.factories import annotation_submit
from tests.labeler.exports.data import labelled_images
from tests.rows import row_counts


@pytest.fixture
def url(project) -> str:
    return f"/api/v1/projects/{project.pk}/export/"


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"format": "xml"}, "format"),
        ({"format": "JSON"}, "format"),
        ({"format": ""}, "format"),
        ({"format": "csv;"}, "format"),
        ({"format": "imagefolder", "annotations": "all"}, "annotations"),
        ({"min_confidence": "2"}, "min_confidence"),
        ({"split": "0.9,0.2"}, "split"),
        ({"seed": "one"}, "seed"),
        ({"since": "last week"}, "since"),
        ({"reviewed_only": ""}, "reviewed_only"),
        ({"since": "9999-12-31T23:59-15:00"}, "since"),
        ({"until": "0001-01-01T00:00+15:00"}, "until"),
        ({"annotator": "nobody"}, "annotator"),
        ({"label": "horse"}, "label"),
        ({"format": "csv", "predictions": "true"}, "predictions"),
        ({"colour": "red"}, "colour"),
        ({"format": "json", "annotators": "email"}, "annotators"),
        ({"format": "label-studio", "annotators": "names"}, "annotators"),
        ({"format": "label-studio-zip", "image_urls": "signed"}, "image_urls"),
        ({"format": "label-studio", "image_urls": "s3"}, "image_urls"),
        ({"format": "label-studio", "link_expiry_days": "0"}, "link_expiry_days"),
        ({"format": "label-studio", "link_expiry_days": "31"}, "link_expiry_days"),
        ({"format": "label-studio", "link_expiry_days": "7.5"}, "link_expiry_days"),
        (
            {"format": "label-studio", "image_urls": "api", "link_expiry_days": "3"},
            "link_expiry_days",
        ),
        (
            {"format": "label-studio", "label_studio_origin": "ftp://ls.example.org"},
            "label_studio_origin",
        ),
        (
            {"format": "label-studio", "label_studio_origin": "https://ls.example.org/projects"},
            "label_studio_origin",
        ),
        ({"format": "label-studio", "label_studio_origin": "*"}, "label_studio_origin"),
        (
            {"format": "label-studio", "label_studio_origin": "https://user@ls.example.org"},
            "label_studio_origin",
        ),
        (
            {"format": "label-studio", "label_studio_origin": "https://ls.example.org:99999"},
            "label_studio_origin",
        ),
        ({"format": "csv", "label_studio_origin": "https://ls.example.org"}, "label_studio_origin"),
        ({"format": "imagefolder", "convert_images": "jpeg"}, "convert_images"),
        ({"format": "coco", "convert_images": "true"}, "convert_images"),
    ],
)
def test_a_bad_option_is_refused_naming_its_field(project, lead, url, query, field):
    """A bad value answers 400 with the field named, and nothing is written."""
    before = row_counts()
    response = client_for(lead).get(url, query)
    assert response.status_code == 400
    body = response.json()
    assert body["errors"] == {field: [body["detail"]]}
    assert row_counts() == before


def test_a_time_with_an_offset_postgresql_does_not_take_is_read_in_utc(project, lead, url):
    """-16:09 is a valid ISO offset, beyond PostgreSQL's 15:59: it was a 500 there."""
    since = {"since": "2026-01-01T00:00-16:09"}
    assert client_for(lead).get(url, since).status_code == 200
    exports = f"/api/v1/projects/{project.pk}/exports/"
    assert client_for(lead).post(exports, since, format="json").status_code == 202


def test_an_unknown_format_lists_the_known_ones(project, lead, url):
    detail = client_for(lead).get(url, {"format": "xml"}).json()["detail"]
    assert "json, jsonl, csv, coco, imagefolder, hf-imagefolder, label-studio" in detail


def test_json_is_the_default_and_holds_everyones_labels(
    project, lead, annotator, annotator2, url, make_images
):
    """The lead's export names each annotator's labels, file named after the project."""
    (image,) = make_images(project, 1)
    for user, name in ((annotator, "cat"), (annotator2, "dog")):
        annotation_submit(project=project, annotator=user, image_id=image.pk, labels=[name])
    response = client_for(lead).get(url)
    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="pets-{project.pk}.json"'
    exported = json.loads(b"".join(response.streaming_content))
    (row,) = exported["images"]
    assert sorted((a["annotator"], a["labels"]) for a in row["annotations"]) == [
        ("ann1", ["cat"]),
        ("ann2", ["dog"]),
    ]


@pytest.mark.parametrize(
    ("fmt", "content_type", "extension"),
    [
        ("jsonl", "application/x-ndjson", "jsonl"),
        ("csv", "text/csv; charset=utf-8", "csv"),
        ("coco", "application/json", "coco.json"),
        ("imagefolder", "application/zip", "imagefolder.zip"),
        ("hf-imagefolder", "application/zip", "hf.zip"),
        ("label-studio", "application/json", "label-studio.json"),
        ("label-studio-zip", "application/zip", "label-studio.zip"),
    ],
)
def test_every_format_streams_with_its_type_and_name(
    project, lead, url, make_images, fmt, content_type, extension
):
    labelled_images(project, make_images(project, 2), ["cat", "dog"])
    response = client_for(lead).get(url, {"format": fmt, "split": "0.5,0.5"})
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == content_type
    assert response["Content-Disposition"].endswith(f'-{project.pk}.{extension}"')
    data = b"".join(response.streaming_content)
    if extension.endswith("zip"):
        assert len(zipfile.ZipFile(io.BytesIO(data)).namelist()) >= 2


def test_label_studio_points_at_image_urls_that_serve_the_file(project, lead, url, make_images):
    """With image_urls=api the link is the image's API file URL, which answers its bytes
    to a member's credentials (stored files are not served under /media/)."""
    (image,) = make_images(project, 1)
    labelled_images(project, [image], ["cat"])
    client = client_for(lead)
    response = client.get(url, {"format": "label-studio", "image_urls": "api"})
    (task,) = json.loads(b"".join(response.streaming_content))
    link = task["data"]["image"]
    assert link == f"http://testserver/api/v1/projects/{project.pk}/images/{image.pk}/file/"
    served = client.get(link)
    assert served.status_code == 200
    image.file.open("rb")
    assert b"".join(served.streaming_content) == image.file.read()


def test_a_selection_above_the_limit_asks_for_a_background_export(
    project, lead, url, make_images, settings
):
    """The limit is read at call time; filters that narrow the selection pass under it."""
    images = make_images(project, 3)
    labelled_images(project, images[:1], ["cat"])
    settings.LABELER_EXPORT_DIRECT_MAX_IMAGES = 2
    response = client_for(lead).get(url)
    assert response.status_code == 400
    body = response.json()
    assert (
        "background export" in body["detail"]
        and f"/projects/{project.pk}/exports/" in (body["detail"])
    )
    assert (body["count"], body["limit"]) == (3, 2)
    assert client_for(lead).get(url, {"annotations": "final"}).status_code == 200


@pytest.mark.parametrize(("who", "status"), [("annotator", 403), ("outsider", 404)])
def test_only_leads_and_admins_export(project, url, request, who, status):
    user = request.getfixturevalue(who)
    assert client_for(user).get(url).status_code == status


def test_an_admin_exports_any_project(project, admin_user, url):
    assert client_for(admin_user).get(url).status_code == 200
