"""Text compared regardless of case by the database, the same on PostgreSQL and SQLite.

The filters on origin and on a project's text fields compare ``UPPER(column)`` with
``UPPER(value)``, both upper-cased by the database so that each side is written alike and
the expression indexes on ``UPPER(...)`` serve. PostgreSQL's ``UPPER`` knows every
alphabet; SQLite's built-in one only ASCII, so "Straße Café" and "STRASSE CAFÉ" were
different there. On SQLite ``UPPER`` is replaced, for every connection, by Python's
``str.upper`` (a deterministic function, which its expression indexes allow).
"""

from __future__ import annotations

from typing import Any


def _upper(text: Any) -> Any:
    return text.upper() if isinstance(text, str) else text


def sqlite_upper_install(sender: Any, connection: Any, **kwargs: Any) -> None:
    """On a new SQLite connection, UPPER becomes Python's (``connection_created``)."""
    if connection.vendor == "sqlite":
        connection.connection.create_function("UPPER", 1, _upper, deterministic=True)
