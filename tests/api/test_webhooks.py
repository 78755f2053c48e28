"""Webhooks over REST (/projects/{id}/webhooks/): leads register, list, change, remove,
ping and redeliver; every bad URL, unknown event or forbidden address a 400 saying which."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from labeler.webhooks.models import Webhook, WebhookDelivery
from tests.labeler.webhooks.receiver import Receiver, loopback_allow

pytestmark = pytest.mark.django_db


@pytest.fixture
def receiver(settings) -> Iterator[Receiver]:
    """A receiver on 127.0.0.1, which deliveries may reach in this test."""
    loopback_allow(settings)
    with Receiver() as running:
        yield running


def url_of(project, suffix: str = "") -> str:
    return f"/api/v1/projects/{project.pk}/webhooks/{suffix}"


def test_a_lead_registers_lists_changes_and_removes_a_webhook(api_as, lead, project):
    client = api_as(lead)
    made = client.post(
        url_of(project),
        {"url": "https://8.8.8.8/in", "events": ["model.promoted", "export.ready"]},
        format="json",
    )
    assert made.status_code == 201, made.json()
    body = made.json()
    assert body["events"] == ["model.promoted", "export.ready"] and body["active"] is True
    assert body["secret"].startswith("whsec_") and len(body["secret"]) > 40
    assert [h["id"] for h in client.get(url_of(project)).json()] == [body["id"]]

    changed = client.patch(
        url_of(project, f"{body['id']}/"),
        {"active": False, "events": ["drift.alarm"], "rotate_secret": True},
        format="json",
    )
    assert changed.status_code == 200
    assert changed.json()["active"] is False and changed.json()["events"] == ["drift.alarm"]
    assert changed.json()["secret"] != body["secret"]

    assert client.delete(url_of(project, f"{body['id']}/")).status_code == 204
    assert not Webhook.objects.exists()


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"url": "ftp://8.8.8.8/", "events": ["ping"]}, "url", "http:// or https://"),
        ({"url": "https://8.8.8.8/", "events": ["model.trained"]}, "events", "Unknown event"),
        ({"url": "https://8.8.8.8/", "events": []}, "events", "at least one event"),
        (
            {"url": "http://169.254.169.254/latest/", "events": ["export.ready"]},
            "url",
            "link-local",
        ),
        ({"url": "http://10.0.0.5/", "events": ["export.ready"]}, "url", "a private address"),
        ({"url": "http://192.168.1.20/", "events": ["export.ready"]}, "url", "a private address"),
        ({"url": "http://127.0.0.1:8000/", "events": ["export.ready"]}, "url", "loopback"),
        ({"url": "http://[::1]/", "events": ["export.ready"]}, "url", "loopback"),
        ({"url": "https://a:b@8.8.8.8/", "events": ["export.ready"]}, "url", "password"),
        (
            {"url": "https://8.8.8.8/", "events": ["export.ready"], "secret": "x"},
            "secret",
            "cannot",
        ),
    ],
)
def test_bad_webhooks_are_refused_with_the_reason(api_as, lead, project, body, field, words):
    answer = api_as(lead).post(url_of(project), body, format="json")
    assert answer.status_code == 400
    assert field in answer.json()["errors"]
    assert words in answer.json()["detail"]
    assert not Webhook.objects.exists()


def test_a_ping_is_delivered_and_logged_and_can_be_sent_again(
    api_as,
    lead,
    project,
    receiver,
    django_capture_on_commit_callbacks,
):
    client = api_as(lead)
    hook = client.post(
        url_of(project), {"url": receiver.url, "events": ["export.ready"]}, format="json"
    )
    assert hook.status_code == 201, hook.json()
    receiver.secret = hook.json()["secret"]
    hook_id = hook.json()["id"]
    with django_capture_on_commit_callbacks(execute=True):
        ping = client.post(url_of(project, f"{hook_id}/ping/"))
    assert ping.status_code == 202
    listed = client.get(url_of(project, f"{hook_id}/deliveries/")).json()["results"]
    assert [(d["event"], d["status"], d["http_status"]) for d in listed] == [
        ("ping", "delivered", 200)
    ]
    assert listed[0]["attempt_log"][0]["http_status"] == 200 and receiver.received[0].signed
    with django_capture_on_commit_callbacks(execute=True):
        again = client.post(url_of(project, f"{hook_id}/deliveries/{listed[0]['id']}/redeliver/"))
    assert again.status_code == 202 and again.json()["redelivery_of"] == listed[0]["id"]
    assert WebhookDelivery.objects.count() == 2 and len(receiver.received) == 2


def test_only_leads_and_admins_see_webhooks(api_as, lead, annotator, outsider, project):
    Webhook.objects.create(project=project, url="https://8.8.8.8/", events=["ping"], secret="s")
    assert api_as(annotator).get(url_of(project)).status_code == 403
    assert (
        api_as(annotator)
        .post(
            url_of(project), {"url": "https://8.8.8.8/", "events": ["export.ready"]}, format="json"
        )
        .status_code
        == 403
    )
    assert api_as(outsider).get(url_of(project)).status_code == 404
    assert api_as(lead).get(url_of(project, "999/")).status_code == 404
    events = api_as(lead).get(url_of(project, "events/")).json()
    assert [e["name"] for e in events][:2] == ["training.finished", "training.failed"]
