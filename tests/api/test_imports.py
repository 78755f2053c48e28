"""POST /api/v1/projects/{id}/imports/: images with their labels, for leads and admins."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from drf_spectacular.generators import SchemaGenerator
from rest_framework.response import Response
from rest_framework.test import APIClient

from labeler.annotations.models import Annotation, FinalLabel, FinalLabelMethod
from labeler.images.models import Image
from labeler.projects.models import Project
from tests.factories import ProjectFactory, add_member, image_bytes


def imports_url(project: Project) -> str:
    return f"/api/v1/projects/{project.pk}/imports/"


def send(
    client: APIClient, project: Project, files: list[tuple[str, bytes]], **fields: object
) -> Response:
    payload = {"files": [SimpleUploadedFile(name, data) for name, data in files], **fields}
    return client.post(imports_url(project), payload, format="multipart")


@pytest.fixture
def client(api_as, lead) -> APIClient:
    return api_as(lead)


@pytest.mark.django_db
def test_files_with_their_labels_become_imported_final_labels(client, project, media_root):
    files = [("a.png", image_bytes()), ("b.png", image_bytes()), ("c.png", b"junk")]

    response = send(client, project, files, labels=["cat", "", "dog"])

    assert response.status_code == 201, response.data
    body = response.data
    assert {k: body[k] for k in ("created", "rejected", "labels_applied", "labels_refused")} == {
        "created": 2, "rejected": 1, "labels_applied": 1, "labels_refused": 1,
    }  # fmt: skip
    a, b, c = body["results"]
    assert (a["status"], a["labels"], a["label_names"]) == ("created", "applied", ["cat"])
    assert (b["labels"], c["status"], c["labels"]) == ("none", "rejected", "refused")
    final = FinalLabel.objects.get(image_id=a["image_id"])
    assert final.method == FinalLabelMethod.IMPORTED
    assert Image.objects.get(pk=a["image_id"]).is_complete


@pytest.mark.django_db
def test_a_repeat_answers_200_and_changes_nothing(client, project, media_root):
    data = image_bytes()
    send(client, project, [("a.png", data)], labels=["cat"], labels_as="annotation")

    response = send(client, project, [("a.png", data)], labels=["cat"], labels_as="annotation")

    assert response.status_code == 200
    [result] = response.data["results"]
    assert (result["status"], result["labels_reason"]) == ("duplicate", "Already recorded.")
    assert Annotation.objects.filter(annotator__username="imported").count() == 1


@pytest.mark.django_db
def test_several_labels_joined_and_created_on_request(api_as, lead, media_root):
    project = ProjectFactory(multi_label=True)
    add_member(project, lead, "lead")

    response = send(
        api_as(lead), project, [("a.png", image_bytes())], labels=["cat;fox"],
        labels_as="gold", create_labels="true",
    )  # fmt: skip

    assert response.status_code == 201
    assert response.data["labels_created"] == ["fox"]
    final = FinalLabel.objects.get()
    assert final.method == FinalLabelMethod.GOLD
    assert sorted(final.labels.values_list("name", flat=True)) == ["cat", "fox"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"labels": ["cat"]}, "labels"),
        ({"labels": ["cat", "dog", "bird"]}, "labels"),
        ({"labels_as": "vote"}, "labels_as"),
        ({"labels_as": "annotation", "annotator": "ann1"}, "annotator"),
        ({"annotator": "someone"}, "annotator"),
    ],
)
def test_bad_fields_answer_400_naming_the_field(client, project, media_root, fields, field):
    files = [("a.png", image_bytes()), ("b.png", image_bytes())]

    response = send(client, project, files, **fields)

    assert response.status_code == 400, response.data
    assert field in response.data["errors"]
    assert Image.objects.count() == 0


@pytest.mark.django_db
def test_no_files_or_too_many_answer_400(client, project, media_root, settings):
    assert client.post(imports_url(project), {}, format="multipart").data["errors"].keys() == {
        "files"
    }
    settings.LABELER_MAX_FILES_PER_REQUEST = 2
    files = [(f"{n}.png", image_bytes()) for n in range(3)]

    response = send(client, project, files)

    assert response.status_code == 400 and "files" in response.data["errors"]
    assert Image.objects.count() == 0


@pytest.mark.django_db
def test_annotators_and_outsiders_cannot_import(api_as, annotator, outsider, project, media_root):
    files = [("a.png", image_bytes())]

    assert send(api_as(annotator), project, files, labels=["cat"]).status_code == 403
    assert send(api_as(outsider), project, files, labels=["cat"]).status_code == 404
    assert APIClient().post(imports_url(project), {}, format="multipart").status_code == 401
    assert Image.objects.count() == 0


@pytest.mark.django_db
def test_admins_import_into_any_project(api_as, admin_user, project, media_root):
    response = send(api_as(admin_user), project, [("a.png", image_bytes())], labels=["dog"])

    assert response.status_code == 201
    assert FinalLabel.objects.get().decided_by == admin_user


def test_the_schema_documents_the_import():
    schema = SchemaGenerator().get_schema(request=None, public=True)

    operation = schema["paths"]["/api/v1/projects/{project_pk}/imports/"]["post"]
    form = operation["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert {"files", "labels", "labels_as", "annotator", "create_labels"} <= set(form["properties"])
    assert {"200", "201", "400"} <= set(operation["responses"])
