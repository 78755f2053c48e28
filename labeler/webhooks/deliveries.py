"""A delivery's attempts: signed, sent to the checked address, answered, retried.

The worker's task (``worker.tasks.webhook_deliver``) calls ``delivery_attempt`` and,
when it returns a delay, sends itself again after it. An attempt:

1. claims the delivery (a row lock, briefly): one that was delivered, failed, or is
   being sent by another worker is left alone, so a task delivered twice sends once;
2. checks the webhook's address again (``addresses.target_resolve``) and POSTs the body,
   signed now, to the very address it checked (``sending.post``), outside any transaction;
3. records the answer. 2xx is delivered. 408, 429, 5xx, a timeout or a failed connection
   is tried again after ``retry_delay`` (exponential, with jitter) until
   ``LABELER_WEBHOOK_MAX_ATTEMPTS``; any other answer (other 4xx, a redirect, which is not
   followed) and a refused address fail it at once.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from labeler.errors import ValidationFailed
from labeler.webhooks import sending
from labeler.webhooks.addresses import HostUnresolved, target_resolve
from labeler.webhooks.models import DeliveryStatus, WebhookDelivery
from labeler.webhooks.services import allowed_networks
from labeler.webhooks.signing import HEADER, signature_header

EXCERPT_CHARS = 1000
RETRIED_4XX = frozenset({408, 429})
# A delivery left "sending" this long (its worker died mid-attempt) may be claimed again.
STALE_SENDING = timedelta(minutes=10)
USER_AGENT = "labeler-webhooks/1"


@dataclass(frozen=True)
class Outcome:
    """What an answer means for the delivery: its status, and whether to try again."""

    status: str
    retry: bool


def outcome(http_status: int | None) -> Outcome:
    """Delivered (2xx), tried again (no answer, 408, 429, 5xx) or failed (anything else)."""
    if http_status is not None and 200 <= http_status < 300:
        return Outcome(DeliveryStatus.DELIVERED, False)
    if http_status is None or http_status in RETRIED_4XX or http_status >= 500:
        return Outcome(DeliveryStatus.RETRYING, True)
    return Outcome(DeliveryStatus.FAILED, False)


def retry_delay(
    attempt: int, *, base: float, cap: float, rng: random.Random | None = None
) -> float:
    """Seconds before the attempt after ``attempt`` (1-based): ``base`` doubled each time,
    at most ``cap``, then half of it fixed and half drawn at random ("equal jitter"), so
    deliveries that failed together do not come back together."""
    ceiling = min(cap, base * 2 ** (attempt - 1))
    return ceiling / 2 + (rng or random).uniform(0, ceiling / 2)


def delivery_attempt(*, delivery_id: int) -> float | None:
    """Make one attempt at a delivery; returns the seconds to wait before the next, or None
    when there is none to make (delivered, failed for good, gone, or not ours to send)."""
    delivery = _claim(delivery_id)
    if delivery is None:
        return None
    hook = delivery.webhook
    body = json.dumps(delivery.payload, separators=(",", ":"), sort_keys=True).encode()
    try:
        target = target_resolve(hook.url, allowed=allowed_networks())
    except HostUnresolved as exc:  # no answer yet, as for a connection refused: tried again
        return _record(delivery, sending.Answer(None, b"", exc.message, 0), outcome(None))
    except ValidationFailed as exc:
        answer = sending.Answer(None, b"", f"Refused: {exc.message}", 0)
        return _record(delivery, answer, Outcome(DeliveryStatus.FAILED, False))
    answer = sending.post(
        target,
        body,
        _headers(delivery, hook.secret, body),
        timeout=settings.LABELER_WEBHOOK_TIMEOUT_SECONDS,
        cap=settings.LABELER_WEBHOOK_ANSWER_BYTES,
    )
    return _record(delivery, answer, outcome(answer.http_status))


def _headers(delivery: WebhookDelivery, secret: str, body: bytes) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        HEADER: signature_header(secret, body),
        "X-Labeler-Delivery": str(delivery.uuid),
        "X-Labeler-Event": delivery.event,
    }


@transaction.atomic
def _claim(delivery_id: int) -> WebhookDelivery | None:
    delivery = (
        WebhookDelivery.objects.select_for_update()
        .select_related("webhook")
        .filter(pk=delivery_id)
        .first()
    )
    if delivery is None or not _claimable(delivery):
        return None
    if not delivery.webhook.active and delivery.event != "ping":
        delivery.status = DeliveryStatus.FAILED
        delivery.error = "The webhook was turned off before this was sent."
        delivery.finished_at = timezone.now()
        delivery.save(update_fields=["status", "error", "finished_at"])
        return None
    delivery.status = DeliveryStatus.SENDING
    delivery.attempts += 1
    delivery.last_attempt_at = timezone.now()
    delivery.next_attempt_at = None
    delivery.save(update_fields=["status", "attempts", "last_attempt_at", "next_attempt_at"])
    return delivery


def _claimable(delivery: WebhookDelivery) -> bool:
    if delivery.status in (DeliveryStatus.PENDING, DeliveryStatus.RETRYING):
        return True
    stale = timezone.now() - STALE_SENDING
    return delivery.status == DeliveryStatus.SENDING and (
        delivery.last_attempt_at is None or delivery.last_attempt_at < stale
    )


@transaction.atomic
def _record(delivery: WebhookDelivery, answer: sending.Answer, result: Outcome) -> float | None:
    now = timezone.now()
    delay = None
    status = result.status
    if result.retry and delivery.attempts < settings.LABELER_WEBHOOK_MAX_ATTEMPTS:
        delay = retry_delay(
            delivery.attempts,
            base=settings.LABELER_WEBHOOK_RETRY_BASE_SECONDS,
            cap=settings.LABELER_WEBHOOK_RETRY_MAX_SECONDS,
        )
    elif result.retry:
        status = DeliveryStatus.FAILED
    error = answer.error or _http_error(answer.http_status, status)
    if result.retry and delay is None:
        error = f"{error} Gave up after {delivery.attempts} attempts.".strip()
    entry = {
        "at": now.isoformat(),
        "http_status": answer.http_status,
        "error": error,
        "ms": answer.ms,
    }
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        status=status,
        http_status=answer.http_status,
        response_excerpt=_excerpt(answer.body),
        error=error,
        attempt_log=[*delivery.attempt_log, entry],
        next_attempt_at=now + timedelta(seconds=delay) if delay is not None else None,
        finished_at=None if delay is not None else now,
    )
    return delay


def _http_error(http_status: int | None, status: str) -> str:
    if http_status is None or status == DeliveryStatus.DELIVERED:
        return ""
    if 300 <= http_status < 400:
        return f"Answered {http_status}: redirects are not followed."
    return f"Answered {http_status}."


def _excerpt(body: bytes) -> str:
    # PostgreSQL's text holds no NUL: an answer's are dropped from its excerpt.
    return body.decode("utf-8", "replace").replace("\x00", "")[:EXCERPT_CHARS]
