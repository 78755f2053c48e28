"""POST /api/v1/projects/{id}/imports/ with the labels file of the files' folder: each
file of a batch takes its entry, the lead's choice of accounts is honoured, a dry run
writes nothing, and bad input is a 400 naming its field."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile

from labeler.annotations.models import Annotation, FinalLabel
from labeler.images.models import Image
from tests.factories import image_bytes

pytestmark = pytest.mark.django_db

# A CSV with a column per annotator: ann1 is a member (by username), zoe@x.org is not.
PEOPLE_CSV = b"file,ann1,zoe@x.org\na.png,cat,dog\nsub/b.png,dog,\nc.png,,bird\ngone.png,cat,cat\n"


def url(project) -> str:
    return f"/api/v1/projects/{project.pk}/imports/"


def upload(name: str, seed: int) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, image_bytes(seed=seed), "image/png")


def labels_file(data: bytes = PEOPLE_CSV, name: str = "people.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, "text/csv")


def send(client, project, **fields):
    return client.post(url(project), fields, format="multipart")


def annotations(project) -> dict[tuple[str, str], list[str]]:
    found = Annotation.objects.filter(image__project=project).select_related("image", "annotator")
    return {
        (a.image.source_key, a.annotator.username): sorted(a.labels.values_list("name", flat=True))
        for a in found
    }


def test_each_file_of_a_batch_takes_its_entry_by_its_path(api_as, lead, project):
    """Two batches with the one labels file: each counts what its files matched, the
    whole file is answered apart, and no batch reports the entries it did not match."""
    client = api_as(lead)
    first = send(
        client,
        project,
        files=[upload("a.png", 1), upload("b.png", 2)],
        paths=["a.png", "sub/b.png"],
        labels_file=labels_file(),
        labels_format="csv-annotators",
    )
    assert first.status_code == 201, first.content
    body = first.json()
    assert [r["name"] for r in body["results"]] == ["a.png", "sub/b.png"]
    assert [r["annotations"] for r in body["results"]] == [2, 1]
    assert body["counts"]["in"] == {
        "files": 2,
        "records": 2,
        "annotations": 3,
        "decisions": 0,
        "labels": 3,
    }
    assert body["counts"]["out"]["annotations_written"] == 3
    assert body["not_applied"] == []
    assert body["labels_file"]["records"] == 4 and body["labels_file"]["annotations"] == 6
    assert {p["key"]: (p["account"], p["how"]) for p in body["people"]} == {
        "ann1": ("ann1", "username"),
        "zoe@x.org": ("zoe@x.org", "new"),
    }
    second = send(
        client,
        project,
        files=[upload("c.png", 3)],
        labels_file=labels_file(),
        labels_format="csv-annotators",
    ).json()
    assert second["counts"]["in"]["records"] == 1 and second["not_applied"] == []
    assert annotations(project) == {
        ("a.png", "ann1"): ["cat"],
        ("a.png", "zoe@x.org"): ["dog"],
        ("sub/b.png", "ann1"): ["dog"],
        ("c.png", "zoe@x.org"): ["bird"],
    }
    assert not User.objects.get(username="zoe@x.org").is_active


def test_the_leads_choice_of_accounts_is_honoured(api_as, lead, project):
    response = send(
        api_as(lead),
        project,
        files=[upload("a.png", 1)],
        labels_file=labels_file(),
        labels_format="csv-annotators",
        annotators=json.dumps({"zoe@x.org": "ann2", "ann1": "new"}),
    )
    assert response.status_code == 201, response.content
    people = {p["key"]: (p["account"], p["how"]) for p in response.json()["people"]}
    assert people["zoe@x.org"] == ("ann2", "chosen")
    assert people["ann1"][1] == "new" and people["ann1"][0] != "ann1"
    assert annotations(project)[("a.png", "ann2")] == ["dog"]


def test_a_dry_run_answers_the_people_and_counts_and_writes_nothing(api_as, lead, project):
    users = User.objects.count()
    response = send(
        api_as(lead),
        project,
        dry_run="true",
        files=[upload("a.png", 1), upload("x/a.png", 2)],
        paths=["x/a.png", "y/a.png"],
        labels_file=labels_file(b"file,ann1\na.png,cat\nc.png,dog\nc.png,cat\n"),
        labels_format="csv-annotators",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["dry_run"] is True
    assert body["people"] == [
        {"key": "ann1", "shown": "ann1", "account": "ann1", "how": "username"}
    ]
    assert body["counts_in"]["files"] == 2
    assert [line["record"] for line in body["not_applied"]] == ["x/a.png", "y/a.png"]
    assert "Ambiguous file name 'a.png'" in body["not_applied"][0]["reason"]
    assert body["labels_file"]["records"] == 3
    assert not Image.objects.exists() and not Annotation.objects.exists()
    assert User.objects.count() == users


def test_a_dry_run_may_leave_the_files_out(api_as, lead, project):
    response = send(
        api_as(lead),
        project,
        dry_run="true",
        labels_file=labels_file(),
        labels_format="csv-annotators",
        annotators=json.dumps({"ann1": "ann2"}),
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["counts_in"] == {
        "files": 0,
        "records": 0,
        "annotations": 0,
        "decisions": 0,
        "labels": 0,
    }
    assert [(p["key"], p["account"], p["how"]) for p in body["people"]] == [
        ("ann1", "ann2", "chosen"),
        ("zoe@x.org", "zoe@x.org", "new"),
    ]
    assert not User.objects.filter(username="zoe@x.org").exists()


def test_a_flat_labels_file_counts_what_the_batch_matched(api_as, lead, project):
    response = send(
        api_as(lead),
        project,
        files=[upload("a.png", 1), upload("b.png", 2)],
        labels_file=labels_file(b"file,label\na.png,cat\nzzz.png,dog\n", "labels.csv"),
        labels_format="csv",
    )
    body = response.json()
    assert body["counts"]["in"]["records"] == 1
    assert body["labels_file"] == {
        "records": 2,
        "annotations": 0,
        "decisions": 2,
        "labels": 2,
        "skipped": [],
    }
    assert body["not_applied"] == []  # zzz.png may be another batch's
    assert [r["labels"] for r in body["results"]] == ["applied", "none"]
    assert "No entry of the labels file names this file" in body["results"][1]["labels_reason"]
    assert FinalLabel.objects.count() == 1


@pytest.mark.parametrize(
    "fields, field, words",
    [
        ({"annotators": "{not json"}, "annotators", "Not JSON"),
        ({"annotators": '["ann1"]'}, "annotators", "A JSON object"),
        ({"annotators": '{"nobody@x.org": "ann1"}'}, "annotators", "names no person"),
        ({"annotators": '{"ann1": "outsider"}'}, "annotators", "No active member"),
        ({"labels_format": "xml"}, "labels_format", "is not a valid choice"),
        ({"labels_format": None}, "labels_format", "Name the labels file's format"),
        ({"labels_file": None}, "labels_file", "send it in 'labels_file'"),
        ({"labels": "cat"}, "labels", "not both"),
        ({"paths": ["../a.png"]}, "paths", "Not a relative path"),
        ({"paths": ["a.png", "b.png"]}, "paths", "send one per file"),
        ({"labels_file": b"file,ann1\n,cat\n"}, "labels_file", "line 2"),
        ({"labels_as": "gold"}, "labels_as", "names each annotation's person"),
    ],
)
def test_bad_input_is_a_400_naming_its_field(api_as, lead, project, fields, field, words):
    """Refused alike in a dry run and an import, before any file or account is written."""
    for dry_run in ("false", "true"):
        sent = {
            "files": [upload("a.png", 1)],
            "labels_file": labels_file(),
            "labels_format": "csv-annotators",
            "dry_run": dry_run,
        }
        for name, value in fields.items():
            if value is None:
                del sent[name]
            elif isinstance(value, bytes):
                sent[name] = labels_file(value)
            else:
                sent[name] = value
        response = send(api_as(lead), project, **sent)
        assert response.status_code == 400, response.content
        errors = response.json()["errors"]
        assert list(errors) == [field]
        assert words in " ".join(errors[field])
    assert not Image.objects.exists()
    assert not User.objects.filter(username="zoe@x.org").exists()
