"""Deliveries to a real receiver on 127.0.0.1: signed, retried, given up, logged."""

from __future__ import annotations

import json
import socket

import pytest

from labeler.webhooks import events, services
from labeler.webhooks.deliveries import retry_delay
from labeler.webhooks.models import DeliveryStatus, Webhook, WebhookDelivery
from labeler.webhooks.signing import signature_header, signature_verify
from tests.labeler.webhooks.receiver import Reply

pytestmark = pytest.mark.django_db


@pytest.fixture
def hook(project, lead, receiver):
    hook = services.webhook_create(
        project=project,
        url=receiver.url,
        events=[events.EXPORT_READY, events.TRAINING_FAILED],
        created_by=lead,
    )
    receiver.secret = hook.secret
    return hook


def emit(capture, project, event=events.EXPORT_READY, **data) -> WebhookDelivery:
    with capture(execute=True):
        services.webhook_event_emit(project_id=project.pk, event=event, payload=data)
    return WebhookDelivery.objects.latest("id")


def test_a_delivery_is_signed_with_the_secret_and_carries_its_event(
    project, hook, receiver, django_capture_on_commit_callbacks
):
    delivery = emit(django_capture_on_commit_callbacks, project, export_id=4)
    assert delivery.status == DeliveryStatus.DELIVERED and delivery.attempts == 1
    assert delivery.http_status == 200 and delivery.response_excerpt == "ok"
    (got,) = receiver.received
    assert got.signed  # HMAC-SHA256 of "<t>.<body>" under the webhook's secret
    assert got.path == "/hooks/in?team=7"
    assert got.headers["x-labeler-event"] == "export.ready"
    assert got.headers["x-labeler-delivery"] == str(delivery.uuid)
    assert got.headers["content-type"] == "application/json"
    body = json.loads(got.body)
    assert body["event"] == "export.ready" and body["data"] == {"export_id": 4}
    assert body["project"] == {"id": project.pk, "name": project.name}
    assert not signature_verify("whsec_other", got.headers["x-labeler-signature"], got.body)


def test_a_server_error_is_retried_until_it_is_taken(
    project, hook, receiver, django_capture_on_commit_callbacks
):
    receiver.script(Reply(500, b"database down"), Reply(503), Reply(200, b"thanks"))
    delivery = emit(django_capture_on_commit_callbacks, project)
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.DELIVERED, 3)
    assert [a["http_status"] for a in delivery.attempt_log] == [500, 503, 200]
    assert delivery.attempt_log[0]["error"] == "Answered 500."
    assert delivery.response_excerpt == "thanks"
    assert len(receiver.received) == 3 and all(r.signed for r in receiver.received)
    # One event: every attempt sends the same body.
    assert len({r.body for r in receiver.received}) == 1


def test_a_client_error_fails_at_once(project, hook, receiver, django_capture_on_commit_callbacks):
    receiver.script(Reply(400, b"unknown event"))
    delivery = emit(django_capture_on_commit_callbacks, project)
    assert (delivery.status, delivery.attempts, delivery.http_status) == ("failed", 1, 400)
    assert delivery.response_excerpt == "unknown event"
    assert delivery.error == "Answered 400."
    assert len(receiver.received) == 1


def test_too_many_requests_is_retried(project, hook, receiver, django_capture_on_commit_callbacks):
    receiver.script(Reply(429), Reply(408), Reply(204, b""))
    delivery = emit(django_capture_on_commit_callbacks, project)
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.DELIVERED, 3)


def test_it_gives_up_after_the_last_attempt(
    project, hook, receiver, settings, django_capture_on_commit_callbacks
):
    settings.LABELER_WEBHOOK_MAX_ATTEMPTS = 3
    receiver.script(Reply(502))
    delivery = emit(django_capture_on_commit_callbacks, project)
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.FAILED, 3)
    assert delivery.error == "Answered 502. Gave up after 3 attempts."
    assert delivery.next_attempt_at is None and delivery.finished_at is not None


def test_a_slow_receiver_times_out_and_is_retried(
    project, hook, receiver, settings, django_capture_on_commit_callbacks
):
    settings.LABELER_WEBHOOK_MAX_ATTEMPTS = 2
    receiver.script(Reply(200, delay=2.5), Reply(200, b"quick"))
    delivery = emit(django_capture_on_commit_callbacks, project)
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.DELIVERED, 2)
    first = delivery.attempt_log[0]
    assert first["http_status"] is None and first["error"] == "No answer within 1 s."


def test_a_receiver_that_is_gone_is_retried_then_failed(
    project, lead, loopback_allowed, django_capture_on_commit_callbacks
):
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]  # closed when the block ends: nobody listens there
    services.webhook_create(
        project=project, url=f"http://127.0.0.1:{port}/", events=["export.ready"], created_by=lead
    )
    delivery = emit(django_capture_on_commit_callbacks, project)
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.FAILED, 4)
    assert delivery.attempt_log[0]["error"].startswith("Connection failed")


def test_redirects_are_not_followed(project, hook, receiver, django_capture_on_commit_callbacks):
    receiver.script(Reply(302, b"", headers={"Location": "http://169.254.169.254/"}))
    delivery = emit(django_capture_on_commit_callbacks, project)
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.FAILED, 1)
    assert delivery.error == "Answered 302: redirects are not followed."
    assert len(receiver.received) == 1


def test_a_long_answer_is_read_up_to_the_cap(
    project, hook, receiver, settings, django_capture_on_commit_callbacks
):
    settings.LABELER_WEBHOOK_ANSWER_BYTES = 100
    receiver.script(Reply(200, b"x" * 100_000))
    delivery = emit(django_capture_on_commit_callbacks, project)
    assert delivery.status == DeliveryStatus.DELIVERED
    assert delivery.response_excerpt == "x" * 100


def test_an_address_refused_at_delivery_is_never_connected_to(
    project, hook, monkeypatch, django_capture_on_commit_callbacks
):
    """A webhook's address that became private (a row changed, a name now resolving to the
    metadata service) is checked again before each attempt and refused without a try."""
    Webhook.objects.filter(pk=hook.pk).update(url="http://169.254.169.254/latest/meta-data/")

    def refuse(*args, **kwargs):
        raise AssertionError("a connection was attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    delivery = emit(django_capture_on_commit_callbacks, project)
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.FAILED, 1)
    assert delivery.error.startswith("Refused: 169.254.169.254 resolves to 169.254.169.254")


def test_only_subscribed_active_webhooks_hear_an_event(
    project, hook, receiver, django_capture_on_commit_callbacks
):
    assert (
        services.webhook_event_emit(project_id=project.pk, event="model.promoted", payload={}) == 0
    )
    services.webhook_update(webhook=hook, changes={"active": False})
    assert services.webhook_event_emit(project_id=project.pk, event="export.ready", payload={}) == 0
    with pytest.raises(ValueError, match="Unknown webhook event"):
        services.webhook_event_emit(project_id=project.pk, event="nope", payload={})
    assert receiver.received == []


def test_nothing_is_sent_for_a_write_rolled_back(
    project, hook, receiver, django_capture_on_commit_callbacks
):
    from django.db import transaction

    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        services.webhook_event_emit(project_id=project.pk, event="export.ready", payload={})
        raise RuntimeError("the export failed after all")
    assert not WebhookDelivery.objects.exists() and receiver.received == []


def test_a_ping_and_a_redelivery_keep_the_event_and_are_new_deliveries(
    project, hook, receiver, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        ping = services.webhook_ping(webhook=hook)
    ping.refresh_from_db()
    assert ping.status == DeliveryStatus.DELIVERED and json.loads(receiver.received[0].body)[
        "data"
    ] == {"webhook_id": hook.pk, "events": hook.events}
    with django_capture_on_commit_callbacks(execute=True):
        again = services.webhook_redeliver(delivery=ping)
    again.refresh_from_db()
    assert again.status == DeliveryStatus.DELIVERED and again.redelivery_of_id == ping.pk
    first, second = (json.loads(r.body) for r in receiver.received)
    assert first["id"] == second["id"]
    assert (
        receiver.received[0].headers["x-labeler-delivery"]
        != receiver.received[1].headers["x-labeler-delivery"]
    )


def test_a_delivery_already_sent_is_not_sent_again(
    project, hook, receiver, django_capture_on_commit_callbacks
):
    """A task delivered twice (a broker's redelivery) sends once."""
    from labeler.webhooks.deliveries import delivery_attempt

    delivery = emit(django_capture_on_commit_callbacks, project)
    assert delivery_attempt(delivery_id=delivery.pk) is None
    assert len(receiver.received) == 1


def test_the_backoff_doubles_with_jitter_up_to_its_cap():
    import random

    rng = random.Random(7)
    delays = [retry_delay(n, base=30, cap=3600, rng=rng) for n in range(1, 10)]
    for n, delay in enumerate(delays, start=1):
        ceiling = min(3600, 30 * 2 ** (n - 1))
        assert ceiling / 2 <= delay <= ceiling
    assert len({round(d, 6) for d in delays}) == len(delays)


def test_a_receiver_refuses_an_old_or_altered_signature():
    body = b'{"event":"ping"}'
    header = signature_header("whsec_s", body, now=1_000_000)
    assert signature_verify("whsec_s", header, body, now=1_000_100)
    assert not signature_verify("whsec_s", header, body, now=1_000_400)  # replayed too late
    assert not signature_verify("whsec_s", header, body + b" ", now=1_000_100)
    assert not signature_verify("whsec_s", "t=x,v1=00", body)


def test_a_host_name_that_does_not_resolve_for_a_while_is_tried_again(
    project, hook, receiver, monkeypatch, django_capture_on_commit_callbacks
):
    """A name server's outage is no reason to lose an event: the attempt is logged and the
    delivery tried again, and it arrives once the name resolves."""
    port = receiver.url.split(":")[2].split("/")[0]
    Webhook.objects.filter(pk=hook.pk).update(url=f"http://hooks.test:{port}/hooks/in?team=7")
    lookups: list[str] = []

    def resolve(host, *args, **kwargs):
        lookups.append(host)
        if len(lookups) == 1:
            raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", int(port)))]

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    delivery = emit(django_capture_on_commit_callbacks, project, export_id=5)
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.DELIVERED, 2)
    assert lookups[:2] == ["hooks.test", "hooks.test"]  # then the connection to the address
    assert "could not be resolved" in json.dumps(delivery.attempt_log)
    assert len(receiver.received) == 1
