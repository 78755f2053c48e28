"""Model instances from a hand-written SELECT, as ``Model.objects.raw`` makes them, cheaper.

``raw()`` works out anew for every statement which column is which field and how each
value is converted (about half a millisecond of CPU for a project's forty columns, more
than the statement's own round trip), and the hot paths of every request (the session's
user, the caller's project and role, the queue's next image) each run one. Here that
plan is made once per model and list of columns on each connection (a thread's own, as
its converters are), and kept with it.

Columns that name a field of the model fill it, converted as the ORM converts that field
(JSON decoded, SQLite's booleans and datetimes); any other column becomes an attribute
of that name, as ``raw()`` does. Every field must be among the columns, each once: a
partial row would make a model instance that reads its missing fields one query at a
time. Parameters are adapted as ``raw()`` adapts them. The default database is read
unless ``using`` names another (no router is asked).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from django.db import connections
from django.db.models import Model

M = TypeVar("M", bound=Model)

Converter = Callable[[Any, Any, Any], Any]


def raw_first(
    model: type[M], sql: str, params: Sequence[Any] | Mapping[str, Any], *, using: str = "default"
) -> M | None:
    """The first row of ``sql`` as a ``model``, or None when it returns no row."""
    with connections[using].cursor() as cursor:
        cursor.execute(sql, _adapted(params, using))
        row = cursor.fetchone()
        if row is None:
            return None
        columns = tuple(column[0] for column in cursor.description)
    return _plan(model, columns, using).make(row)


def raw_all(
    model: type[M], sql: str, params: Sequence[Any] | Mapping[str, Any], *, using: str = "default"
) -> list[M]:
    """Every row of ``sql`` as a ``model``, in the statement's order."""
    with connections[using].cursor() as cursor:
        cursor.execute(sql, _adapted(params, using))
        rows = cursor.fetchall()
        columns = tuple(column[0] for column in cursor.description)
    plan = _plan(model, columns, using)
    return [plan.make(row) for row in rows]


def _adapted(params: Sequence[Any] | Mapping[str, Any], using: str) -> Any:
    """The parameters as ``raw()`` passes them (a datetime as the database stores it)."""
    adapt = connections[using].ops.adapt_unknown_value
    if isinstance(params, Mapping):
        return {key: adapt(value) for key, value in params.items()}
    return [adapt(value) for value in params]


class _Plan:
    """Which column fills which field, its converters, and the extra attributes."""

    def __init__(self, model: type[Model], columns: tuple[str, ...], using: str) -> None:
        connection = connections[using]
        fields = model._meta.concrete_fields
        if len(set(columns)) < len(columns):
            raise ValueError(f"{model.__name__} rows name a column twice: {list(columns)}")
        position_of = {name: position for position, name in enumerate(columns)}
        missing = sorted(str(field.column) for field in fields if field.column not in position_of)
        if missing:
            raise ValueError(f"{model.__name__} rows need every field's column: {missing}")
        self.model = model
        self.using = using
        # The connection is this thread's (the plan is kept on it): its converters' own.
        self.connection = connection
        # In the model's order of fields, as ``Model.from_db`` takes a whole row.
        self.field_positions = [position_of[str(field.column)] for field in fields]
        self.attnames = [field.attname for field in fields]
        self.converters: list[tuple[int, Any, list[Converter]]] = []
        table = model._meta.db_table
        for index, field in enumerate(fields):
            expression = field.get_col(table)
            converters = connection.ops.get_db_converters(
                expression
            ) + expression.get_db_converters(connection)
            if converters:
                self.converters.append((index, expression, converters))
        filled = set(self.field_positions)
        self.extras = [(at, name) for at, name in enumerate(columns) if at not in filled]

    def make(self, row: Sequence[Any]) -> Any:
        values = [row[position] for position in self.field_positions]
        for index, expression, converters in self.converters:
            value = values[index]
            for converter in converters:
                value = converter(value, expression, self.connection)
            values[index] = value
        instance = self.model.from_db(self.using, self.attnames, values)
        for position, name in self.extras:
            setattr(instance, name, row[position])
        return instance


def _plan(model: type[Model], columns: tuple[str, ...], using: str) -> _Plan:
    """The plan for these columns, kept on the connection (each thread has its own)."""
    plans: dict[tuple[type[Model], tuple[str, ...]], _Plan] = connections[
        using
    ].__dict__.setdefault("labeler_raw_plans", {})
    plan = plans.get((model, columns))
    if plan is None:
        plan = plans[model, columns] = _Plan(model, columns, using)
    return plan
