"""Reads of webhooks and their deliveries."""

from __future__ import annotations

from django.db.models import QuerySet

from labeler.errors import NotFound
from labeler.projects.models import Project
from labeler.webhooks.models import Webhook, WebhookDelivery


def project_webhooks(project: Project) -> QuerySet[Webhook]:
    """The project's webhooks, oldest first."""
    return Webhook.objects.filter(project=project).order_by("id")


def webhook_get(project: Project, webhook_id: int) -> Webhook:
    """One of the project's webhooks, or NotFound."""
    found = Webhook.objects.filter(project=project, pk=webhook_id).first()
    if found is None:
        raise NotFound(f"Webhook {webhook_id} not found in this project.")
    return found


def webhook_deliveries(webhook: Webhook) -> QuerySet[WebhookDelivery]:
    """The webhook's deliveries, newest first."""
    return WebhookDelivery.objects.filter(webhook=webhook).order_by("-id")


def delivery_get(webhook: Webhook, delivery_id: int) -> WebhookDelivery:
    """One of the webhook's deliveries, or NotFound."""
    found = WebhookDelivery.objects.filter(webhook=webhook, pk=delivery_id).first()
    if found is None:
        raise NotFound(f"Delivery {delivery_id} not found for this webhook.")
    return found


def webhooks_listening(*, project_id: int, event: str) -> bool:
    """Whether an active webhook of the project subscribes to ``event`` (a cheap check
    for callers whose payload costs work to make)."""
    hooks = Webhook.objects.filter(project_id=project_id, active=True)
    return any(event in events for events in hooks.values_list("events", flat=True))
