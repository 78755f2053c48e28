"""A model version's download: leads ask for it and follow it, then fetch each file at a
signed, expiring address; everyone else, and every changed or old address, is refused."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from labeler.images.delivery import links
from labeler.predictions import packages
from labeler.predictions.models import ModelPackage, ModelVersion, PackageStatus
from labeler.projects.models import Membership, Role
from tests.conftest import client_for
from tests.factories import UserFactory
from tests.worker.ml.packaged_version import packaged_project, packaged_version, people

pytestmark = pytest.mark.django_db


@pytest.fixture
def users():
    return people()


@pytest.fixture
def version(users):
    project, stored = packaged_project(users)
    return packaged_version(project, stored)


@pytest.fixture
def lead(users):
    return users["lena.lindqvist"]


def package_url(version: ModelVersion) -> str:
    return f"/api/v1/model-versions/{version.pk}/package/"


def ready(client: APIClient, version: ModelVersion, capture) -> dict:
    with capture(execute=True):
        answer = client.post(package_url(version))
    assert answer.status_code == 202, answer.content
    answer = client.get(package_url(version))
    assert answer.status_code == 200
    assert answer.json()["status"] == "ready", answer.json()
    return answer.json()


def test_a_lead_asks_follows_and_downloads_each_file(
    version, lead, django_capture_on_commit_callbacks
):
    client = client_for(lead)
    assert client.get(package_url(version)).json()["status"] == "none"
    body = ready(client, version, django_capture_on_commit_callbacks)
    assert set(body["files"]) == {"onnx", "torchscript", "card_md", "card_json"}
    anonymous = APIClient()  # the signed address is the permission: no token needed
    for kind, described in body["files"].items():
        answer = anonymous.get(described["url"])
        assert answer.status_code == 200, (kind, answer.content)
        content = b"".join(answer.streaming_content)
        assert content == packages.package_path(version, kind).read_bytes()
        assert len(content) == described["bytes"]
        assert "attachment" in answer["Content-Disposition"]
        assert f"v{version.version}" in answer["Content-Disposition"]
    card = json.loads(b"".join(anonymous.get(body["files"]["card_json"]["url"]).streaming_content))
    assert card["model"]["version"] == version.version


def test_asking_again_starts_nothing_while_queued_or_ready(
    version, lead, django_capture_on_commit_callbacks
):
    client = client_for(lead)
    with django_capture_on_commit_callbacks(execute=False) as sent:
        first = client.post(package_url(version))
        second = client.post(package_url(version))
    assert first.status_code == second.status_code == 202
    assert second.json()["status"] == "queued"
    assert len(sent) == 1
    assert ModelPackage.objects.filter(model_version=version).count() == 1


@pytest.mark.parametrize("who", ["rita.reviewsson", "arvid.holmberg"])
def test_reviewers_and_annotators_are_refused(version, users, who):
    client = client_for(users[who])
    for answer in (client.get(package_url(version)), client.post(package_url(version))):
        assert answer.status_code == 403
        assert "leads and admins" in answer.json()["detail"]


def test_non_members_and_unknown_versions_get_404(version):
    client = client_for(UserFactory(username="stranger"))
    assert client.post(package_url(version)).status_code == 404
    lead_client = client_for(version.project.memberships.get(role=Role.LEAD).user)
    answer = lead_client.post("/api/v1/model-versions/999999/package/")
    assert answer.status_code == 404
    assert "Model version 999999 does not exist" in answer.json()["detail"]


def test_a_version_without_weights_is_refused(version, lead):
    bare = ModelVersion.objects.create(project=version.project, version=2, weights="")
    answer = client_for(lead).post(package_url(bare))
    assert answer.status_code == 400
    assert "no weights file" in answer.json()["detail"]
    assert not ModelPackage.objects.filter(model_version=bare).exists()


def test_a_changed_address_is_refused_with_403(version, lead, django_capture_on_commit_callbacks):
    body = ready(client_for(lead), version, django_capture_on_commit_callbacks)
    url = body["files"]["onnx"]["url"]
    anonymous = APIClient()
    tampered = [
        url[:-3] + ("AAA" if not url.endswith("AAA") else "BBB"),  # the signature
        url.replace("/onnx/", "/torchscript/"),  # another file of the same package
        url.replace(f"/{lead.pk}/", f"/{lead.pk + 1000}/"),  # made for someone else
    ]
    for bad in tampered:
        answer = anonymous.get(bad)
        assert answer.status_code == 403, bad
        assert "not valid" in answer.json()["detail"]
    assert anonymous.get(url.replace("/onnx/", "/weights/")).status_code == 403


def test_an_expired_address_is_refused_with_410(version, lead, django_capture_on_commit_callbacks):
    ready(client_for(lead), version, django_capture_on_commit_callbacks)
    issued = 1_000_000  # signed here, long ago
    name = f"model/{version.project_id}/{version.pk}/onnx"
    signature = links._signature(name, issued, lead.pk)
    url = f"/api/v1/model-files/{version.pk}/onnx/{lead.pk}/{issued}/{signature}"
    answer = APIClient().get(url)
    assert answer.status_code == 410
    assert "expired" in answer.json()["detail"]


def test_an_address_stops_working_when_its_lead_leaves(
    version, lead, django_capture_on_commit_callbacks
):
    body = ready(client_for(lead), version, django_capture_on_commit_callbacks)
    url = body["files"]["onnx"]["url"]
    Membership.objects.filter(user=lead).update(role=Role.ANNOTATOR)
    answer = APIClient().get(url)
    assert answer.status_code == 403
    assert "no longer leads" in answer.json()["detail"]


def test_a_failed_package_says_why_and_may_be_asked_again(
    version, lead, django_capture_on_commit_callbacks
):
    ModelPackage.objects.create(
        model_version=version, status=PackageStatus.FAILED, message="ValueError: boom"
    )
    client = client_for(lead)
    assert client.get(package_url(version)).json()["message"] == "ValueError: boom"
    assert ready(client, version, django_capture_on_commit_callbacks)["message"] == ""


def test_a_packaging_lost_with_its_worker_is_started_again(
    version, lead, django_capture_on_commit_callbacks
):
    """Running for longer than a packaging takes: its worker is gone, so asking restarts it."""
    started = timezone.now() - timedelta(seconds=packages.STALE_SECONDS + 60)
    ModelPackage.objects.create(
        model_version=version, status=PackageStatus.RUNNING, started_at=started
    )
    assert ready(client_for(lead), version, django_capture_on_commit_callbacks)["files"]


def test_a_packaging_under_way_is_left_alone(version, lead, django_capture_on_commit_callbacks):
    ModelPackage.objects.create(
        model_version=version, status=PackageStatus.RUNNING, started_at=timezone.now()
    )
    with django_capture_on_commit_callbacks() as sent:
        answer = client_for(lead).post(package_url(version))
    assert answer.json()["status"] == "running" and sent == []
