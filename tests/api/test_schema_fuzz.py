"""The REST API fuzzed from its own OpenAPI schema (schemathesis): no 5xx, answers as documented.

Every operation of the schema served at /api/v1/schema/ gets generated requests, valid and
invalid, sent in-process to the WSGI application as a lead of a project with images, so
that most of them pass the permission checks and reach the code behind them. Path ids are
mostly the project's own (a random id only finds the 404). Each answer is checked for a
server error and against the schema (status code documented, content type, body), and
invalid input must be refused.
"""

from __future__ import annotations

import json
import os
import random
import re

import numpy as np
import pytest
import schemathesis
import werkzeug.test
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token
from schemathesis.specs.openapi.checks import positive_data_acceptance
from werkzeug.sansio.multipart import Data, Event, MultipartEncoder, State

from labeler.exports.models import Export
from labeler.images.models import Image
from labeler.predictions.comparison import paired_comparison
from labeler.predictions.models import ModelVersion, TrainingRun
from labeler.predictions.scorecard import scorecard
from labeler.projects.invitations import invitation_create
from labeler.projects.models import Role
from tests.factories import (
    ModelVersionFactory,
    ProjectFactory,
    UserFactory,
    add_member,
    annotation_submit,
    image_bytes,
    skip_create,
)

MAX_EXAMPLES = int(os.environ.get("LABELER_FUZZ_EXAMPLES", "25"))
# `make test` and CI send the same requests every run, so that the suite's verdict does not
# change between two runs of the same code: one fixed seed, and no example database (it
# would replay an earlier run's failures first). `make fuzz` draws a new seed each run and
# prints it; LABELER_FUZZ_SEED=<seed> (make fuzz FUZZ_SEED=<seed>) sends that run's again.
SEED = int(os.environ.get("LABELER_FUZZ_SEED") or 1)
# Every check schemathesis has but one: a valid request may rightly be refused here (an id
# of another project, a label already given, a training already queued).
EXCLUDED_CHECKS = [positive_data_acceptance]


def api_schema() -> dict:
    """The schema as the API serves it (rendered to JSON, as a client reads it)."""
    document = SchemaGenerator().get_schema(request=None, public=True)
    return json.loads(OpenApiJsonRenderer().render(document))


application = get_wsgi_application()
schema = schemathesis.openapi.from_wsgi("/api/v1/schema/?format=json", application)
schema.config.seed = SEED


class BrowserMultipartEncoder(MultipartEncoder):
    """Werkzeug's multipart encoder, but a part with nothing in it keeps the blank line that
    ends its headers, as browsers and Django's test client write it.

    Werkzeug leaves that line out (RFC 2046 allows it); Django's parser then reads the part
    as running on into the next one, so the application answered another request than the
    one checked against the schema (an empty labels_as got lost, as if left out).
    """

    def send_event(self, event: Event) -> bytes:
        if isinstance(event, Data) and self.state == State.DATA_START and not event.data:
            self.state = State.DATA
            return b"\r\n"
        return super().send_event(event)


@pytest.fixture
def multipart_as_browsers_send(monkeypatch):
    monkeypatch.setattr(werkzeug.test, "MultipartEncoder", BrowserMultipartEncoder)


@pytest.fixture
def in_process():
    """Requests share the test's connection and transaction, as Django's test client does."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def world(db, make_images, in_process):
    """A project with labels, members, images and one object of each kind a path names, and
    the token of its lead, an admin too (so that the admins' operations are fuzzed as well)."""
    lead = UserFactory(username="fuzz-lead", is_staff=True, is_superuser=True)
    annotator = UserFactory(username="fuzz-annotator")
    project = ProjectFactory(labels=["cat", "dog"], overlap=2)
    add_member(project, lead, Role.LEAD)
    add_member(project, annotator, Role.ANNOTATOR)
    images = make_images(project, 3)
    annotation, _ = annotation_submit(
        project=project, annotator=annotator, image_id=images[0].pk, labels=["cat"]
    )
    ids = {
        "project_pk": project.pk,
        "image_id": images[0].pk,
        "id": project.pk,
        # {pk} by the collection before it in the path.
        "annotations": annotation.pk,
        "images": images[0].pk,
        "skips": skip_create(project=project, annotator=annotator, image_id=images[1].pk).pk,
        "members": annotator.pk,
        "users": annotator.pk,
        "projects": project.pk,
        "exports": Export.objects.create(project=project, created_by=lead, format="csv").pk,
        "training-runs": TrainingRun.objects.create(project=project, requested_by=lead).pk,
        "model-versions": ModelVersionFactory(
            project=project, is_current=False, metrics=TRAINED_METRICS
        ).pk,
        "review": images[0].pk,
        "decisions": images[0].pk,
        "invitations": invitation_create(
            project=project, by=lead, base_url="http://testserver/"
        ).invitation.pk,
    }
    token, _ = Token.objects.get_or_create(user=lead)
    return {"headers": {"Authorization": f"Token {token.key}"}, "ids": ids}


def _trained_metrics() -> dict:
    """What a training stores (labeler.predictions.evaluation on the validation images, the
    scorecard on the test images, the paired comparison), for a version the world makes:
    one label no test image has, so that null figures and their reasons are checked too."""
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 24)
    probabilities = np.c_[np.eye(2)[y] * 0.6 + rng.random((24, 2)) * 0.2, np.full(24, 0.05)]
    card = scorecard(y_true=y, probabilities=probabilities, label_ids=[1, 2, 3], multi_label=False)
    baseline = paired_comparison(
        y_true=y, current=(probabilities[::-1], None), candidate=(probabilities, None),
        multi_label=False,
    )  # fmt: skip
    return {
        "accuracy": 0.5, "macro_f1": 0.5, "ece": 0.1, "loss": 0.7, "images": 2, "per_label": [],
        "confusion": {"labels": [], "matrix": []}, "test": card,
        "baseline": {"version": 1, "images": 24, "seen": 0, "split": "test", **baseline},
    }  # fmt: skip


TRAINED_METRICS = _trained_metrics()


def aim(case, ids: dict[str, int], rng: random.Random) -> None:
    """Point most valid generated path ids at the world's objects; keep some as generated.

    A parameter is looked up by its name, then by the collection it follows in the path
    (``/exports/{pk}/``: an export). An invalid one (a negative case: text, a float) stays
    as it is, to be refused.
    """
    for name, value in (case.path_parameters or {}).items():
        before = re.search(rf"/([\w-]+)/\{{{name}\}}", case.path)
        target = ids.get(name) or (ids.get(before.group(1)) if before else None)
        if target is not None and isinstance(value, int) and rng.random() < 0.8:
            case.path_parameters[name] = target


# Text no route may take (labeler.text_in): schemathesis draws NUL among its characters but
# never a lone surrogate (it could not encode one for the wire). A JSON body carries one
# as its \ud800 escape; a query string or a form only as bytes that are not UTF-8, which
# werkzeug's encoder cannot write, so those get NUL.
UNSAFE_IN_JSON = ("\x00", "\ud800", "\udfff", "\udc00")


def sprinkle(case, rng: random.Random) -> None:
    """Put NUL or a lone surrogate into one string of half the cases' bodies and queries."""
    if rng.random() < 0.5:
        return
    json_body = (case.media_type or "").startswith("application/json")
    for container, characters in (
        ("body", UNSAFE_IN_JSON if json_body else ("\x00",)),
        ("query", ("\x00",)),
    ):
        value = getattr(case, container, None)
        places = list(_string_places(value)) if isinstance(value, dict | list) else []
        if places:
            holder, key = rng.choice(places)
            text = holder[key]
            at = rng.randint(0, len(text))
            holder[key] = text[:at] + rng.choice(characters) + text[at:]


def _string_places(value):
    """Each (container, key) holding a string, at any depth."""
    stack = [value]
    while stack:
        current = stack.pop()
        items = current.items() if isinstance(current, dict) else enumerate(current)
        for key, child in items:
            if isinstance(child, str):
                yield current, key
            elif isinstance(child, dict | list):
                stack.append(child)


@pytest.mark.slow
@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_api_answers_as_documented(case, world, multipart_as_browsers_send):
    aim(case, world["ids"], random.Random(repr(case.path_parameters)))
    sprinkle(case, random.Random(repr((case.path_parameters, case.query, case.body))))
    case.call_and_validate(
        app=application, headers=world["headers"], excluded_checks=EXCLUDED_CHECKS
    )


# What the fuzzing found, pinned.


def test_options_answers_without_describing_fields(world, client):
    """OPTIONS on a view that builds no serializer for it was a 500."""
    response = client.options(
        f"/api/v1/projects/{world['ids']['project_pk']}/exports/",
        headers={"authorization": world["headers"]["Authorization"]},
    )
    assert response.status_code == 200
    assert "actions" not in response.json()


def test_ids_beyond_any_row_are_refused_not_a_500(world, client):
    project = world["ids"]["project_pk"]
    auth = {"authorization": world["headers"]["Authorization"]}
    response = client.post(
        f"/api/v1/projects/{project}/machine-labels/review/",
        {"confirm": [2**70]},
        content_type="application/json",
        headers=auth,
    )
    assert response.status_code == 400
    assert "confirm" in response.json()["errors"]
    response = client.delete(f"/api/v1/projects/{project}/decisions/{2**80}/", headers=auth)
    assert response.status_code == 404


@pytest.mark.parametrize("path", ["training-runs", "model-versions", "history"])
def test_unpaginated_lists_are_documented_as_lists(world, client, path):
    project = world["ids"]["project_pk"]
    response = client.get(
        f"/api/v1/projects/{project}/{path}/?page_size=0",
        headers={"authorization": world["headers"]["Authorization"]},
    )
    assert response.status_code == 200 and isinstance(response.json(), list)
    documented = api_schema()["paths"][f"/api/v1/projects/{{project_pk}}/{path}/"]["get"]
    body = documented["responses"]["200"]["content"]["application/json"]["schema"]
    assert body["type"] == "array"


def test_every_operation_documents_the_error_shape():
    for path_item in api_schema()["paths"].values():
        for operation in path_item.values():
            for status in ("400", "401", "403", "404", "429"):
                answer = operation["responses"][status]["content"]["application/json"]
                assert answer["schema"] == {"$ref": "#/components/schemas/Error"}


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("annotations/?page_size=0", "page_size"),
        ("annotations/?page_size=2.5", "page_size"),
        ("decisions/?page_size=x", "page_size"),
        ("review/?page=", "page"),
        ("images/?is_complete=maybe", "is_complete"),
        ("images/?created_at__gte=", "created_at__gte"),
        ("label-history/?kind=", "kind"),
        ("machine-labels/?status=", "status"),
        ("agreement/?bucket=", "bucket"),
    ],
)
def test_query_values_that_mean_nothing_are_refused(world, client, query, field):
    response = client.get(
        f"/api/v1/projects/{world['ids']['project_pk']}/{query}",
        headers={"authorization": world["headers"]["Authorization"]},
    )
    assert response.status_code == 400, response.content
    assert field in response.json()["errors"]


@pytest.mark.parametrize("path", ["exports/", "machine-labels/review/"])
def test_bodies_of_lists_of_objects_are_json_only(world, client, path):
    response = client.post(
        f"/api/v1/projects/{world['ids']['project_pk']}/{path}",
        {"format": "csv"},
        headers={"authorization": world["headers"]["Authorization"]},
    )
    assert response.status_code == 415


def test_a_promotion_with_a_form_body_is_refused_not_taken_as_empty(world, client):
    """A malformed multipart body parsed to nothing and promoted the version."""
    response = client.post(
        f"/api/v1/model-versions/{world['ids']['model-versions']}/promote/",
        b"--b\r\n-80858--b--\r\n",
        content_type="multipart/form-data; boundary=b",
        headers={"authorization": world["headers"]["Authorization"]},
    )
    assert response.status_code == 415
    assert not ModelVersion.objects.filter(is_current=True).exists()


# Found by fuzzing with other seeds than the suite's, and pinned here for every run.


@pytest.mark.parametrize(
    ("note", "message"),
    [
        (1, "Must be text (a JSON string), not a number."),
        (True, "Must be text (a JSON string), not true or false."),
        (" " + "x" * 2000, "At most 2000 characters, not 2001."),
    ],
)
def test_a_promotion_note_that_is_not_text_or_too_long_is_refused(world, client, note, message):
    """DRF's CharField took the number 1 for the note "1", and measured a note only after
    trimming the whitespace around it (2,001 characters as sent passed a limit of 2,000)."""
    response = client.post(
        f"/api/v1/model-versions/{world['ids']['model-versions']}/promote/",
        {"note": note},
        content_type="application/json",
        headers={"authorization": world["headers"]["Authorization"]},
    )
    assert response.status_code == 400, response.content
    assert response.json()["errors"] == {"note": [message]}
    assert not ModelVersion.objects.filter(is_current=True).exists()


@pytest.mark.parametrize(
    ("field", "message"),
    [
        ("labels_as", "Empty: choose one of final, gold, annotation, or leave the field out."),
        ("create_labels", "Empty: give a value, or leave the field out."),
    ],
)
def test_an_import_option_sent_empty_is_refused_not_taken_as_its_default(
    world, client, field, message
):
    """labels_as="" imported the labels as final ones, the default."""
    project = world["ids"]["project_pk"]
    before = Image.objects.count()
    response = client.post(
        f"/api/v1/projects/{project}/imports/",
        {"files": [SimpleUploadedFile("a.png", image_bytes())], "labels": ["cat"], field: ""},
        headers={"authorization": world["headers"]["Authorization"]},
    )
    assert response.status_code == 400, response.content
    assert response.json()["errors"] == {field: [message]}
    assert Image.objects.count() == before


def test_a_user_whose_name_is_a_number_is_refused(world, client):
    """make fuzz, seed 767322525: first_name -39150991582301 made a user (201)."""
    response = client.post(
        "/api/v1/users/",
        {"username": "numbers", "password": "a long passphrase", "first_name": -39150991582301},
        content_type="application/json",
        headers={"authorization": world["headers"]["Authorization"]},
    )
    assert response.status_code == 400, response.content
    assert response.json()["errors"] == {
        "first_name": ["Must be text (a JSON string), not a number."]
    }
