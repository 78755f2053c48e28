"""Exports through /api/v1/projects/{id}/export/: formats, and who may download."""

from __future__ import annotations

import json

import pytest

from labeler.annotations.services import annotation_submit
from tests.conftest import client_for
from tests.rows import row_counts


@pytest.fixture
def url(project) -> str:
    return f"/api/v1/projects/{project.pk}/export/"


@pytest.mark.parametrize("fmt", ["xml", "JSON", "", "csv;"])
def test_an_unknown_format_is_refused(project, lead, url, fmt):
    """A format other than json or csv answers 400 naming the known ones."""
    before = row_counts()
    response = client_for(lead).get(url, {"format": fmt})
    assert response.status_code == 400
    body = response.json()
    assert body["errors"] == {"format": [body["detail"]]}
    assert "json, csv" in body["detail"]
    assert row_counts() == before


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
