"""Webhooks registered, changed and removed by a project's leads, and events announced.

``webhook_event_emit`` is how any layer above announces an event: it records one
delivery for each active webhook of the project that subscribes to it and sends each
to the worker once the transaction commits (``labeler.webhooks.deliveries`` does the
sending, its retries and their record). Nothing is sent when the write that caused the
event is rolled back.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from labeler import jobs
from labeler.errors import Conflict, ValidationFailed
from labeler.projects.models import Project
from labeler.task_names import Task
from labeler.webhooks.addresses import networks_parse, target_resolve
from labeler.webhooks.events import EVENT_NAMES, PING
from labeler.webhooks.models import DeliveryStatus, EventLevel, Webhook, WebhookDelivery

WEBHOOKS_PER_PROJECT = 20
DESCRIPTION_MAX = 200


def allowed_networks() -> tuple[Any, ...]:
    """The networks an admin allows besides public addresses (the setting, parsed)."""
    return networks_parse(settings.LABELER_WEBHOOK_ALLOWED_NETWORKS)


def webhook_url_check(*, url: str) -> str:
    """The URL, if webhooks may be sent there now (``addresses.target_resolve``)."""
    target_resolve(url, allowed=allowed_networks())
    return url


def webhook_events_check(*, events: Sequence[str]) -> list[str]:
    """The events, each known and named once, at least one; ValidationFailed otherwise."""
    if isinstance(events, str) or not events:
        raise ValidationFailed("Subscribe to at least one event.", field="events")
    unknown = [name for name in events if name not in EVENT_NAMES]
    if unknown:
        known = ", ".join(EVENT_NAMES)
        raise ValidationFailed(
            f"Unknown event {unknown[0]!r}; use some of {known}.", field="events"
        )
    return list(dict.fromkeys(events))


def _description_check(description: str) -> str:
    if len(description) > DESCRIPTION_MAX:
        raise ValidationFailed(
            f"A description is {DESCRIPTION_MAX} characters at most.", field="description"
        )
    return description.strip()


@transaction.atomic
def webhook_create(
    *,
    project: Project,
    url: str,
    events: Sequence[str],
    created_by: User | None = None,
    description: str = "",
    active: bool = True,
) -> Webhook:
    """Register a webhook; its secret is made here (``whsec_`` and 32 random bytes)."""
    Project.objects.select_for_update().filter(pk=project.pk).first()
    if Webhook.objects.filter(project=project).count() >= WEBHOOKS_PER_PROJECT:
        raise Conflict(f"A project has {WEBHOOKS_PER_PROJECT} webhooks at most.")
    return Webhook.objects.create(
        project=project,
        url=webhook_url_check(url=url),
        events=webhook_events_check(events=events),
        secret=_secret_new(),
        active=active,
        description=_description_check(description),
        created_by=created_by,
    )


@transaction.atomic
def webhook_update(
    *, webhook: Webhook, changes: Mapping[str, Any], rotate_secret: bool = False
) -> Webhook:
    """Change a webhook's url, events, description or active flag; ``rotate_secret`` makes
    a new secret (the old one signs nothing from then on)."""
    webhook = Webhook.objects.select_for_update().get(pk=webhook.pk)
    if "url" in changes:
        webhook.url = webhook_url_check(url=changes["url"])
    if "events" in changes:
        webhook.events = webhook_events_check(events=changes["events"])
    if "description" in changes:
        webhook.description = _description_check(changes["description"])
    if "active" in changes:
        webhook.active = bool(changes["active"])
    if rotate_secret:
        webhook.secret = _secret_new()
    webhook.save()
    return webhook


def webhook_delete(*, webhook: Webhook) -> None:
    """Remove a webhook and its deliveries' record (those not yet sent are not sent)."""
    webhook.delete()


def _secret_new() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def event_body(
    *, project: Project, event: str, data: Mapping[str, Any], event_id: str | None = None
) -> dict[str, Any]:
    """The JSON body of an event (``labeler.webhooks.events`` describes it)."""
    return {
        "id": event_id or str(uuid.uuid4()),
        "event": event,
        "project": {"id": project.pk, "name": project.name},
        "time": timezone.now().isoformat().replace("+00:00", "Z"),
        "data": dict(data),
    }


@transaction.atomic
def webhook_event_emit(*, project_id: int, event: str, payload: Mapping[str, Any]) -> int:
    """Announce ``event`` with its facts (``payload``, the body's ``data``) to the project's
    active webhooks subscribed to it; returns how many deliveries were recorded.

    Each delivery is sent by the worker once the current transaction commits.
    """
    if event not in EVENT_NAMES:
        raise ValueError(f"Unknown webhook event {event!r}")
    hooks = [
        hook
        for hook in Webhook.objects.filter(project_id=project_id, active=True)
        if event in hook.events
    ]
    if not hooks:
        return 0
    project = Project.objects.get(pk=project_id)
    body = event_body(project=project, event=event, data=payload)
    for hook in hooks:
        _delivery_send(WebhookDelivery.objects.create(webhook=hook, event=event, payload=body))
    return len(hooks)


@transaction.atomic
def webhook_ping(*, webhook: Webhook) -> WebhookDelivery:
    """Send the webhook a ``ping`` event (whatever it subscribes to, active or not)."""
    body = event_body(
        project=webhook.project,
        event=PING,
        data={"webhook_id": webhook.pk, "events": webhook.events},
    )
    delivery = WebhookDelivery.objects.create(webhook=webhook, event=PING, payload=body)
    _delivery_send(delivery)
    return delivery


@transaction.atomic
def webhook_redeliver(*, delivery: WebhookDelivery) -> WebhookDelivery:
    """Send a delivery's body again as a new delivery (the event keeps its ``id``)."""
    if delivery.status in (DeliveryStatus.PENDING, DeliveryStatus.SENDING):
        raise Conflict(f"Delivery {delivery.pk} is still being sent.", field="status")
    again = WebhookDelivery.objects.create(
        webhook=delivery.webhook,
        event=delivery.event,
        payload=delivery.payload,
        redelivery_of=delivery,
    )
    _delivery_send(again)
    return again


def _delivery_send(delivery: WebhookDelivery) -> None:
    jobs.enqueue(Task.WEBHOOK_DELIVER, delivery.pk)


@transaction.atomic
def webhook_level_set(
    *, project_id: int, event: str, above: bool, payload: Mapping[str, Any]
) -> bool:
    """Record whether a project's measure is above its threshold; announce ``event`` when
    it crossed upward since the last call (returns whether it did). Staying above, or
    going down, announces nothing."""
    level, _ = EventLevel.objects.select_for_update().get_or_create(
        project_id=project_id, event=event
    )
    crossed = above and not level.above
    if level.above != above:
        level.above = above
        level.save(update_fields=["above", "changed_at"])
    if crossed:
        webhook_event_emit(project_id=project_id, event=event, payload=payload)
    return crossed
