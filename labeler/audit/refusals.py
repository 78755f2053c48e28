"""Requests refused to someone the trail can name (403: a role short of what the route
needs), recorded once the response is known, bounded per actor and minute.

The site's middleware (``labeler.http.middleware.AuditRequest``) calls
``audit_refusal_record`` for every 403 it answers, pages, admin and API alike, so a route
added later is covered. An anonymous caller is never here: the API answers it 401 and the
pages send it to the login page. At most ``LABELER_AUDIT_REFUSALS_PER_MINUTE`` entries an
actor a minute are written (counted in the shared cache, as the login throttle counts);
the others are counted, and the actor's next recorded refusal carries that count as
``not_recorded_before``, so a flood cannot fill the trail and still leaves its size there.
The entry names the route by its pattern, never by its path (a signed file address holds
a signature and a file's hash).
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.core.cache import cache
from redis.exceptions import RedisError

from labeler import cache_keys
from labeler.audit.context import bound_actor
from labeler.audit.models import Action, AuditEntry
from labeler.audit.services import audit_record

logger = logging.getLogger(__name__)
CACHE_ERRORS = (RedisError, OSError)
PROJECT_KWARGS = ("project_pk", "project_id")


def audit_refusal_record(*, request: Any, status: int) -> AuditEntry | None:
    """Record a 403 answered to a named actor, within the bound; None when not recorded."""
    actor = bound_actor()
    if status != 403 or actor is None:
        return None
    key = f"{actor.pk}" if actor.pk is not None else f"name:{actor.get_username()}"
    over, unrecorded = _counted(key)
    if over:
        return None
    match = getattr(request, "resolver_match", None)
    route = f"/{match.route}" if match is not None else "(no route)"
    view = match.view_name if match is not None else ""
    method = str(getattr(request, "method", "") or "")
    details: dict[str, Any] = {"method": method, "status": status}
    if unrecorded:
        details["not_recorded_before"] = unrecorded
    return audit_record(
        action=Action.ACCESS_REFUSED,
        actor=actor,
        project=_project_id(match),
        target=("route", view, f"{method} {route}"),
        details=details,
    )


def _project_id(match: Any) -> int | None:
    kwargs = getattr(match, "kwargs", None) or {}
    for name in PROJECT_KWARGS:
        if isinstance(kwargs.get(name), int):
            return int(kwargs[name])
    return None


def _counted(key: str) -> tuple[bool, int]:
    """Count this refusal: (over the bound, how many went unrecorded before it)."""
    limit = int(settings.LABELER_AUDIT_REFUSALS_PER_MINUTE)
    minute = int(time.time() // 60)
    counter = cache_keys.audit_refusals(key, minute)
    unrecorded_key = cache_keys.audit_refusals_unrecorded(key)
    try:
        cache.add(counter, 0, timeout=120)
        if cache.incr(counter) > limit:
            cache.add(unrecorded_key, 0, timeout=7 * 24 * 3600)
            cache.incr(unrecorded_key)
            return True, 0
        unrecorded = int(cache.get(unrecorded_key) or 0)
        if unrecorded:
            cache.delete(unrecorded_key)
        return False, unrecorded
    except CACHE_ERRORS:
        # Without the cache the bound is read from the trail itself: this minute's entries.
        logger.warning("Refusal bound read from the trail: the cache cannot be reached")
        since = minute * 60
        return _recorded_since(key, since) >= limit, 0


def _recorded_since(key: str, since: float) -> int:
    entries = AuditEntry.objects.filter(
        action=Action.ACCESS_REFUSED, at__gte=datetime.fromtimestamp(since, tz=UTC)
    )
    if key.startswith("name:"):
        return entries.filter(actor_id=None, actor_name=key[5:]).count()
    return entries.filter(actor_id=int(key)).count()
