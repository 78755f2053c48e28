"""The outbox: sends that failed while the broker was down, kept in the database.

``labeler.jobs`` keeps a task here when sending it raises an unavailable-broker error,
and beat's ``outbox_send`` (``labeler.jobs.outbox_send``) sends the rows again, oldest
first, once the broker is back. The database is the one store that outlives a broker
outage; tasks are delivered at least once anyway, so sending one again is harmless.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from labeler.outbox.models import PendingSend


def send_key(
    *, task: str, args: Sequence[Any], kwargs: Mapping[str, Any], options: Mapping[str, Any]
) -> str:
    """What makes two sends identical: the task, its arguments and options, hashed."""
    text = json.dumps(
        [task, list(args), kwargs, options],
        cls=DjangoJSONEncoder,
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(text.encode()).hexdigest()


def outbox_keep(
    *,
    task: str,
    args: Sequence[Any],
    kwargs: Mapping[str, Any] | None = None,
    options: Mapping[str, Any] | None = None,
) -> bool:
    """Keep a send that failed, to be sent again; returns whether a new row was written.

    An identical send already kept is not stored twice: its row's ``attempts`` grows.
    """
    kwargs, options = dict(kwargs or {}), dict(options or {})
    key = send_key(task=task, args=args, kwargs=kwargs, options=options)
    try:
        with transaction.atomic():  # a savepoint: the caller's transaction survives a conflict
            PendingSend.objects.create(
                task=task,
                args=list(args),
                kwargs=kwargs,
                options=options,
                key=key,
                created_at=timezone.now(),
            )
    except IntegrityError:  # kept already, by this process or another
        PendingSend.objects.filter(key=key).update(attempts=F("attempts") + 1)
        return False
    return True


def outbox_pending(*, after_id: int = 0, count: int = 100) -> list[PendingSend]:
    """The next ``count`` kept sends after ``after_id``, oldest first."""
    return list(PendingSend.objects.filter(pk__gt=after_id).order_by("pk")[:count])


def outbox_sent(*, pending: PendingSend) -> bool:
    """Delete a row that was sent again; returns False (and keeps it) if it gained a send
    meanwhile, which the next run sends too."""
    deleted, _ = PendingSend.objects.filter(pk=pending.pk, attempts=pending.attempts).delete()
    return deleted > 0


def outbox_failed(*, pending: PendingSend) -> None:
    """Count one more failed send of a kept row."""
    PendingSend.objects.filter(pk=pending.pk).update(attempts=F("attempts") + 1)
