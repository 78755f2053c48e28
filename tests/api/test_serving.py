"""The prediction API over real HTTP (the test client), with the embedded default: no
broker, the model run by the resident child process (``labeler.resident``)."""

from __future__ import annotations

import io
import zlib
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from PIL import Image as PILImage
from rest_framework.test import APIClient

from labeler import resident
from labeler.projects.models import Role
from labeler.serving.models import JobStatus, PredictionJob, ServedPrediction
from labeler.serving.tokens import predict_token_issue
from tests.conftest import client_for
from tests.factories import ProjectFactory, add_member, image_bytes
from tests.serving_model import served_logged, served_version

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def model_dir(settings, tmp_path) -> Path:
    settings.LABELER_MODEL_DIR = tmp_path / "models"
    return settings.LABELER_MODEL_DIR


@pytest.fixture(autouse=True, scope="module")
def resident_stopped():
    """Each module's tests start with a fresh resident process, and leave none behind."""
    resident.resident_stop()
    yield
    resident.resident_stop()


@pytest.fixture
def world(lead, annotator):
    project = ProjectFactory(name="Colours", labels=["red", "green", "blue"])
    add_member(project, lead, Role.LEAD)
    add_member(project, annotator)
    return project


def token_client(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


def png(seed: int) -> SimpleUploadedFile:
    return SimpleUploadedFile(f"photo-{seed}.png", image_bytes(seed=seed), "image/png")


def predict_url(project) -> str:
    return f"/api/v1/projects/{project.pk}/predict/"


def test_a_lead_predicts_uploads_and_each_answer_is_logged(world, lead):
    """Two uploads: each label's probability by id and name, the top label, the version,
    the times; one served row each, with a float16 embedding."""
    version = served_version(world)
    response = client_for(lead).post(
        predict_url(world), {"files": [png(1), png(2)]}, format="multipart"
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["version"] == {"id": version.pk, "version": 1, "architecture": "small-cnn"}
    assert body["duration_ms"] > 0
    names = {label.pk: label.name for label in world.labels.all()}
    for answer, name in zip(body["predictions"], ["photo-1.png", "photo-2.png"], strict=True):
        assert answer["name"] == name
        assert {p["label_id"]: p["label"] for p in answer["probabilities"]} == names
        assert sum(p["probability"] for p in answer["probabilities"]) == pytest.approx(1, abs=1e-4)
        best = max(answer["probabilities"], key=lambda p: p["probability"])
        assert answer["top"] == [best]
        assert answer["duration_ms"] > 0
    rows = served_logged(2, project=world).order_by("pk")
    assert [r.pk for r in rows] == [a["served_id"] for a in body["predictions"]]
    row = rows[0]
    assert row.caller == lead and row.token is None and row.model_version == version
    assert len(bytes(row.embedding)) % 2 == 0 and len(bytes(row.embedding)) > 0


@pytest.mark.slow
def test_a_token_predicts_references_and_a_named_version(world, lead, make_images):
    """Ids of the project's own images, with version 1 while version 2 is current."""
    served_version(world, number=1, current=False)
    served_version(world, number=2)
    [image] = make_images(world, 1)
    issued = predict_token_issue(project=world, name="camera line", created_by=lead)
    response = token_client(issued.key).post(
        predict_url(world), {"images": [image.pk], "version": 1}, format="json"
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["version"]["version"] == 1
    assert body["predictions"][0]["image_id"] == image.pk
    row = served_logged(1, project=world).get()
    assert row.token_id == issued.token.pk and row.caller is None
    issued.token.refresh_from_db()
    assert issued.token.last_used_at is not None


@pytest.mark.parametrize(
    "case",
    ["no files", "too many", "corrupt", "truncated", "not an image", "unknown version",
     "no current model", "unknown image", "keep references"],
)  # fmt: skip
def test_bad_requests_are_refused_with_a_4xx_naming_what_is_wrong(world, lead, settings, case):
    settings.LABELER_PREDICT_MAX_IMAGES = 2
    served_version(world, current=case != "no current model")
    whole = image_bytes(seed=4)
    data: dict = {"files": [png(1)]}
    if case == "no files":
        data = {}
    elif case == "too many":
        data = {"files": [png(1), png(2), png(3)]}
    elif case == "corrupt":
        data = {"files": [SimpleUploadedFile("bad.png", whole[:40] + b"\0" * 60 + whole[100:])]}
    elif case == "truncated":
        data = {"files": [SimpleUploadedFile("cut.png", whole[: len(whole) // 2])]}
    elif case == "not an image":
        data = {"files": [SimpleUploadedFile("notes.png", b"hello, not pixels")]}
    elif case == "unknown version":
        data["version"] = 7
    elif case == "unknown image":
        data = {"images": [987654]}
    elif case == "keep references":
        data = {"images": [1], "keep": "true"}
    response = client_for(lead).post(predict_url(world), data, format="multipart")
    assert 400 <= response.status_code < 500, (case, response.content)
    detail = response.json()["detail"]
    expected = {
        "no files": "at least one image",
        "too many": "the limit is 2",
        "corrupt": "bad.png",
        "truncated": "cut.png",
        "not an image": "notes.png",
        "unknown version": "no model version 7",
        "no current model": "no current model",
        "unknown image": "987654",
        "keep references": "keep",
    }[case]
    assert expected in detail, detail
    assert not ServedPrediction.objects.exists()


def test_a_decompression_bomb_is_refused_naming_the_file(world, lead):
    served_version(world)
    buffer = io.BytesIO()
    PILImage.new("L", (20000, 20000)).save(buffer, format="PNG")
    bomb = SimpleUploadedFile("bomb.png", buffer.getvalue())
    response = client_for(lead).post(predict_url(world), {"files": [bomb]}, format="multipart")
    assert response.status_code == 400 and "bomb.png" in response.json()["detail"]
    assert zlib  # the PNG compresses 400 M pixels into a few hundred KB


def test_who_may_predict(world, lead, annotator, outsider):
    """Leads (and admins) may; annotators get 403 saying who may; outsiders 404; a token
    of another project 404; a revoked or unknown token 401."""
    served_version(world)
    other = ProjectFactory(name="Other", labels=["a"])
    add_member(other, lead, Role.LEAD)
    refused = client_for(annotator).post(
        predict_url(world), {"files": [png(1)]}, format="multipart"
    )
    assert refused.status_code == 403
    assert "leads and admins, or a prediction token" in refused.json()["detail"]
    assert (
        client_for(outsider)
        .post(predict_url(world), {"files": [png(1)]}, format="multipart")
        .status_code
        == 404
    )
    elsewhere = predict_token_issue(project=other, name="other", created_by=lead)
    wrong = token_client(elsewhere.key).post(
        predict_url(world), {"files": [png(1)]}, format="multipart"
    )
    assert wrong.status_code == 404
    issued = predict_token_issue(project=world, name="line", created_by=lead)
    client_for(lead).delete(f"/api/v1/projects/{world.pk}/predict-tokens/{issued.token.pk}/")
    revoked = token_client(issued.key).post(
        predict_url(world), {"files": [png(1)]}, format="multipart"
    )
    assert revoked.status_code == 401 and "revoked" in revoked.json()["detail"]
    unknown = token_client("lbp_" + "x" * 43).post(
        predict_url(world), {"files": [png(1)]}, format="multipart"
    )
    assert unknown.status_code == 401
    assert (
        APIClient().post(predict_url(world), {"files": [png(1)]}, format="multipart").status_code
        == 401
    )


def test_a_large_request_becomes_a_job_polled_until_done(world, lead, settings):
    """Over LABELER_PREDICT_SYNC_MAX images: 202 and the job's URL; the job (run inline
    here, by the test settings) holds every prediction, its uploads deleted from storage."""
    settings.LABELER_PREDICT_SYNC_MAX = 2
    served_version(world)
    issued = predict_token_issue(project=world, name="batch", created_by=lead)
    client = token_client(issued.key)
    response = client.post(
        predict_url(world), {"files": [png(n) for n in range(5)]}, format="multipart"
    )
    assert response.status_code == 202, response.content
    job_url = response.json()["url"]
    assert job_url.endswith(f"/predict/jobs/{response.json()['id']}/")
    polled = client.get(job_url)
    assert polled.status_code == 200 and polled.json()["status"] == JobStatus.DONE
    assert [p["name"] for p in polled.json()["predictions"]] == [f"photo-{n}.png" for n in range(5)]
    assert ServedPrediction.objects.filter(token=issued.token).count() == 5
    job = PredictionJob.objects.get()
    assert not any((Path(settings.MEDIA_ROOT) / i["file"]).exists() for i in job.inputs)
    other = predict_token_issue(project=world, name="other", created_by=lead)
    assert token_client(other.key).get(job_url).status_code == 404  # another token's job


@pytest.mark.slow
def test_keep_adds_the_uploads_to_the_project(world, lead):
    served_version(world)
    before = world.images.count()
    response = client_for(lead).post(
        predict_url(world), {"files": [png(8)], "keep": "true"}, format="multipart"
    )
    assert response.status_code == 200, response.content
    [kept] = response.json()["kept"]
    assert kept["status"] == "created" and world.images.count() == before + 1


@pytest.mark.slow
def test_leads_list_served_predictions_with_filters_and_manage_tokens(world, lead, annotator):
    served_version(world)
    client = client_for(lead)
    issued = client.post(f"/api/v1/projects/{world.pk}/predict-tokens/", {"name": "line 1"})
    assert issued.status_code == 201 and issued.json()["key"].startswith("lbp_")
    listed = client.get(f"/api/v1/projects/{world.pk}/predict-tokens/").json()
    assert [t["name"] for t in listed] == ["line 1"] and "key" not in listed[0]
    token_client(issued.json()["key"]).post(
        predict_url(world), {"files": [png(1)]}, format="multipart"
    )
    client.post(predict_url(world), {"files": [png(2)]}, format="multipart")
    served_logged(2, project=world)
    served = f"/api/v1/projects/{world.pk}/served-predictions/"
    listed = client.get(served).json()["results"]
    assert [(r["token"], r["caller"]) for r in listed] == [(None, "lead"), ("line 1", None)]
    by_token = client.get(served, {"token": issued.json()["id"]}).json()["results"]
    assert [r["token"] for r in by_token] == ["line 1"]
    assert client.get(served, {"version": 2}).json()["results"] == []
    assert client.get(served, {"since": "not a time"}).status_code == 400
    assert client_for(annotator).get(served).status_code == 403
    assert (
        client_for(annotator).get(f"/api/v1/projects/{world.pk}/predict-tokens/").status_code == 403
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ('{"images": [1], "version": 1e309}', "version"),
        ('{"images": [1], "version": 99999999999999999999999}', "version"),
        ('{"images": [1], "version": 1.5}', "version"),
        ('{"images": [1], "version": -1}', "version"),
        ('{"images": [99999999999999999999999]}', "images"),
        ('{"images": [1e309]}', "images"),
        ('{"images": [1.5]}', "images"),
        ('{"images": true}', "images"),
        ('{"images": [-5]}', "images"),
    ],
)
def test_versions_and_image_ids_that_are_no_whole_number_are_refused_by_name(
    world, lead, body, field
):
    """Infinity, a fraction, a boolean or a number past a database column is a 400 naming
    the field, not an overflow in the database nor a silently rounded id."""
    served_version(world)
    response = client_for(lead).post(predict_url(world), body, content_type="application/json")
    assert response.status_code == 400, response.content
    assert field in response.json()["errors"]
    assert not ServedPrediction.objects.exists()


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"label": str(2**70)}, "label"),
        ({"token": str(2**70)}, "token"),
        ({"version": "1e309"}, "version"),
        ({"below": "nan"}, "below"),
        ({"since": "2020-13-45T00:00:00"}, "since"),
        ({"since": "9999-12-31T23:59:59-23:00"}, "since"),
        ({"until": "0001-01-01T00:00:00+14:00"}, "until"),
    ],
)
def test_served_predictions_filters_out_of_range_are_refused_by_name(world, lead, query, field):
    served = f"/api/v1/projects/{world.pk}/served-predictions/"
    response = client_for(lead).get(served, query)
    assert response.status_code == 400, response.content
    assert field in response.json()["errors"]


@pytest.mark.slow
def test_served_predictions_since_reads_an_offset_as_utc(world, lead):
    served_version(world)
    client_for(lead).post(predict_url(world), {"files": [png(1)]}, format="multipart")
    served_logged(1, project=world)
    served = f"/api/v1/projects/{world.pk}/served-predictions/"
    assert (
        len(client_for(lead).get(served, {"since": "2000-01-01T00:00:00+05:00"}).json()["results"])
        == 1
    )
    assert client_for(lead).get(served, {"since": "2999-01-01T00:00:00Z"}).json()["results"] == []


def test_concurrent_requests_each_get_their_own_answers_from_one_resident_process(world, lead):
    """Requests that arrive together run side by side in the resident process (and meet
    in its batcher): each answer is the one its image gets alone, and no process is
    started for any of them."""
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connections

    served_version(world)
    images = {f"photo-{seed}.png": image_bytes(seed=seed) for seed in range(8)}

    def predict(name: str) -> dict:
        try:
            upload = SimpleUploadedFile(name, images[name], "image/png")
            response = client_for(lead).post(
                predict_url(world), {"files": [upload]}, format="multipart"
            )
            assert response.status_code == 200, response.content
            return response.json()["predictions"][0]
        finally:
            connections.close_all()  # this thread's

    alone = {name: predict(name) for name in images}
    child = resident._resident.child
    assert child is not None
    names = list(images) * 3
    with ThreadPoolExecutor(len(images)) as pool:
        together = list(pool.map(predict, names))
    assert resident._resident.child is child and child.process.poll() is None
    for name, answer in zip(names, together, strict=True):
        assert answer["name"] == name
        assert [p["probability"] for p in answer["probabilities"]] == pytest.approx(
            [p["probability"] for p in alone[name]["probabilities"]], abs=1e-6
        )
    assert served_logged(len(images) * 4, project=world).count() == len(images) * 4


def test_a_token_request_costs_the_web_process_five_fixed_statements(world, lead):
    """The token, its issuer, its project, the issuer's role now and the current version:
    one short statement each, none of them built by the ORM (a prediction's own cost)."""
    served_version(world)
    client = token_client(predict_token_issue(project=world, name="line", created_by=lead).key)
    first = client.post(predict_url(world), {"files": [png(1)]}, format="multipart")
    assert first.status_code == 200, first.content  # its last use noted: once a minute
    with CaptureQueriesContext(connection) as statements:
        response = client.post(predict_url(world), {"files": [png(2)]}, format="multipart")
    assert response.status_code == 200, response.content
    tables = [
        next(t for t in ("predicttoken", "auth_user", "membership", "modelversion", "project")
             if t in query["sql"])
        for query in statements.captured_queries
    ]  # fmt: skip
    assert sorted(tables) == ["auth_user", "membership", "modelversion", "predicttoken", "project"]
    assert all(" JOIN " not in query["sql"] for query in statements.captured_queries)
