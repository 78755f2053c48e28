"""The request an audit entry is recorded in, and who made it: bound by the site's middleware.

Services record events without being handed the request: the middleware
(``labeler.http.middleware.AuditRequest``) binds the request and the client's address for
the time of the request, and ``audit_record`` reads the actor and the address from here
when its caller names none. Outside a request (a task, a command) nothing is bound.

The actor is resolved in one place, ``bound_actor``, whatever authenticated the request:

- a route that authenticates the caller itself (a signed file address read with the
  session or an API token, an export's signed link) names them with ``actor_bind``;
- else the request's user: Django's session (a password or single sign-on login) or
  DRF's authentication, whose ``Request`` sets the user (and ``auth``) on the request
  bound here once it has authenticated (an API token, a session);
- else a credential that is no user (a prediction token, ``request.auth``) names itself
  by its ``audit_actor_name``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Actor:
    """Who did it: a user (id and username), or a credential with no user (a name only)."""

    pk: int | None
    name: str

    def get_username(self) -> str:
        return self.name


@dataclass
class Bound:
    """The request being served, its client's address and the actor a route named."""

    request: Any
    address: str
    actor: Actor | None = field(default=None)


_bound: ContextVar[Bound | None] = ContextVar("labeler_audit_request", default=None)


@contextmanager
def audit_request_bound(request: Any, address: str) -> Iterator[None]:
    """Bind a request and its address while the block runs."""
    token = _bound.set(Bound(request=request, address=address))
    try:
        yield
    finally:
        _bound.reset(token)


def actor_bind(*, pk: int | None, name: str) -> None:
    """Name the actor of the bound request: for routes that authenticate the caller
    themselves (not through Django's session middleware or DRF). No-op outside a request."""
    bound = _bound.get()
    if bound is not None:
        bound.actor = Actor(pk=pk, name=name[:150])


def bound_address() -> str:
    """The bound request's client address, or "" outside a request."""
    bound = _bound.get()
    return bound.address if bound else ""


def bound_actor() -> Any:
    """The bound request's actor (see the module's docstring): a user, an ``Actor``, or None."""
    bound = _bound.get()
    if bound is None:
        return None
    if bound.actor is not None:
        return bound.actor
    request = bound.request
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return user
    name = str(getattr(getattr(request, "auth", None), "audit_actor_name", "") or "")
    return Actor(pk=None, name=name[:150]) if name else None


def bound_user() -> Any:
    """The bound request's authenticated user, or None (a credential with no user is none)."""
    actor = bound_actor()
    return None if actor is None or isinstance(actor, Actor) else actor
