"""The request an audit entry is recorded in, bound by the site's middleware.

Services record events without being handed the request: the middleware
(``labeler.http.middleware.AuditRequest``) binds the request and the client's address for
the time of the request, and ``audit_record`` reads the actor (the request's user, once
authentication has set it, the API's token included) and the address from here when its
caller names none. Outside a request (a task, a command) nothing is bound.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Bound:
    """The request being served and its client's address."""

    request: Any
    address: str


_bound: ContextVar[Bound | None] = ContextVar("labeler_audit_request", default=None)


@contextmanager
def audit_request_bound(request: Any, address: str) -> Iterator[None]:
    """Bind a request and its address while the block runs."""
    token = _bound.set(Bound(request=request, address=address))
    try:
        yield
    finally:
        _bound.reset(token)


def bound_address() -> str:
    """The bound request's client address, or "" outside a request."""
    bound = _bound.get()
    return bound.address if bound else ""


def bound_user() -> Any:
    """The bound request's authenticated user, or None."""
    bound = _bound.get()
    if bound is None:
        return None
    user = getattr(bound.request, "user", None)
    return user if user is not None and user.is_authenticated else None
