"""The authentication backend: Django's, with the per-request user read by a fixed statement.

Every request with a session reads its user (``get_user``); the ORM spent several times
what the database takes building that one-row query, about a quarter of a labelling
call's time. Logging in (``authenticate``) and permissions are Django's own.
"""

from __future__ import annotations

import functools
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.db import connection

MAX_ID = 2**63 - 1  # the largest id a row can have


class UserBackend(ModelBackend):
    """``ModelBackend`` whose ``get_user`` runs one plain SELECT by primary key."""

    def get_user(self, user_id: Any) -> Any:
        """The active user with this id (as the session stores it), or None."""
        try:
            pk = int(user_id)
        except (TypeError, ValueError):
            return None
        if not 0 < pk <= MAX_ID:
            return None
        model = get_user_model()
        user = next(iter(model._default_manager.raw(_statement(connection.vendor), [pk])), None)
        return user if user is not None and self.user_can_authenticate(user) else None


@functools.cache
def _statement(vendor: str) -> str:
    del vendor  # a key of the cache: quoting depends on the connection's vendor
    table = connection.ops.quote_name(get_user_model()._meta.db_table)
    return f"SELECT * FROM {table} WHERE id = %s"
