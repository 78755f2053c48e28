"""The authentication backend: Django's, with the per-request user read by a fixed statement.

Every request with a session reads its user (``get_user``); the ORM spent several times
what the database takes building that one-row query, about a quarter of a labelling
call's time. Logging in (``authenticate``, and ``aauthenticate`` through it) is Django's,
refused after repeated failures (``labeler.http.login_throttle``) whichever form or endpoint it
comes through; permissions are Django's own.
"""

from __future__ import annotations

from typing import Any

from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

from labeler.http.login_throttle import (
    client_address,
    login_attempt_failed,
    login_attempt_start,
    login_attempt_succeeded,
    login_attempt_withdrawn,
)
from labeler.projects.accounts import account_by_id

MAX_ID = 2**63 - 1  # the largest id a row can have


class UserBackend(ModelBackend):
    """``ModelBackend`` with login throttling and a ``get_user`` of one plain SELECT."""

    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> Any:
        """The user these credentials name, unless too many attempts failed lately.

        While refused, even the right password fails (PermissionDenied stops Django
        from asking other backends). The attempt is counted before the password is
        hashed, so attempts sent at once cannot outrun the count; a failure keeps it, a
        success clears the username's, an error (the database's, say) takes it back.
        """
        name = username if username is not None else kwargs.get(get_user_model().USERNAME_FIELD)
        if name is None or password is None:
            return None
        who = {"username": str(name), "address": client_address(request)}
        if login_attempt_start(**who):
            raise PermissionDenied("Too many failed login attempts.")
        try:
            user = super().authenticate(request, username=username, password=password, **kwargs)
        except BaseException:
            login_attempt_withdrawn(**who)
            raise
        if user is None:
            login_attempt_failed(**who)
        else:
            login_attempt_succeeded(**who)
        return user

    async def aauthenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> Any:
        """``authenticate``, throttled alike (Django's own async version would skip it)."""
        return await sync_to_async(self.authenticate)(
            request, username=username, password=password, **kwargs
        )

    def get_user(self, user_id: Any) -> Any:
        """The active user with this id (as the session stores it), or None."""
        try:
            pk = int(user_id)
        except (TypeError, ValueError):
            return None
        if not 0 < pk <= MAX_ID:
            return None
        user = account_by_id(pk)
        return user if user is not None and self.user_can_authenticate(user) else None
