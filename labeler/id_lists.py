"""Lists of ids as one query parameter, for lists too long for an ``IN (...)`` of literals."""

from __future__ import annotations

import json
from collections.abc import Sequence

from django.db import connection
from django.db.models.expressions import RawSQL


def ids_subquery(ids: Sequence[int]) -> RawSQL:
    """The ids as one query parameter (an array, or JSON on SQLite), for ``pk__in``: any
    number of them, where a plain ``IN`` list runs into the database's parameter limit
    (SQLite's 32,766) and PostgreSQL spends longer parsing a hundred thousand literals
    than running the query."""
    values = [int(value) for value in ids]
    if connection.vendor == "postgresql":
        # An array's text form: parsed as one value, where psycopg2's ARRAY[...] of a
        # Python list is parsed literal by literal (four times slower at 100,000).
        return RawSQL("SELECT unnest(%s::bigint[])", ["{" + ",".join(map(str, values)) + "}"])
    return RawSQL("SELECT value FROM json_each(%s)", [json.dumps(values)])
