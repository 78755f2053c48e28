"""Rows of a hand-written SELECT become the same model instances as ``raw()`` makes."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.db import connection, connections

from labeler.images.models import Image
from labeler.projects.models import Label, Project
from labeler.raw_rows import raw_all, raw_first
from tests.factories import ProjectFactory, UserFactory

# SQLite converts booleans and datetimes where PostgreSQL does not: both databases run it.
pytestmark = [pytest.mark.embedded, pytest.mark.django_db]


def _table(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _same(made, expected) -> None:
    assert type(made) is type(expected)
    for field in type(expected)._meta.concrete_fields:
        ours, theirs = getattr(made, field.attname), getattr(expected, field.attname)
        assert ours == theirs, field.attname
        assert type(ours) is type(theirs), field.attname
    assert made._state.adding is False
    assert made._state.db == "default"


@pytest.mark.parametrize("model", [Project, User, Image, Label])
def test_every_field_is_read_and_converted_as_raw_reads_it(model, make_images):
    project = ProjectFactory(name="Rows", test_share=0.2)
    UserFactory(username="someone")
    make_images(project, 2)
    sql = f"SELECT *, 7 AS extra FROM {_table(model)} ORDER BY id DESC"
    expected = list(model.objects.raw(sql))
    assert expected
    made = raw_all(model, sql, [])
    assert len(made) == len(expected)
    for ours, theirs in zip(made, expected, strict=True):
        _same(ours, theirs)
        assert ours.extra == theirs.extra == 7
    first = raw_first(model, sql, [])
    _same(first, expected[0])
    first.save()  # a whole instance: it saves as one read by the ORM


def test_no_row_is_none_and_a_missing_field_is_refused():
    ProjectFactory(name="Rows")
    assert raw_first(Project, f"SELECT * FROM {_table(Project)} WHERE id = %s", [0]) is None
    assert raw_all(Project, f"SELECT * FROM {_table(Project)} WHERE id = %s", [0]) == []
    with pytest.raises(ValueError, match="every field's column"):
        raw_first(Project, f"SELECT id, name FROM {_table(Project)}", [])
    with pytest.raises(ValueError, match="a column twice"):
        raw_first(Project, f"SELECT *, name FROM {_table(Project)}", [])


def test_a_datetime_parameter_is_read_as_raw_reads_it():
    project = ProjectFactory(name="Dated")
    sql = f"SELECT * FROM {_table(Project)} WHERE created_at <= %s"
    later = project.created_at + timedelta(seconds=1)
    assert (
        [p.pk for p in raw_all(Project, sql, [later])]
        == [p.pk for p in Project.objects.raw(sql, [later])]
        == [project.pk]
    )


def test_named_parameters_and_each_thread_s_own_plan(transactional_db):
    project = ProjectFactory(name="Threads")
    sql = f"SELECT * FROM {_table(Project)} WHERE id = %(id)s"
    assert raw_first(Project, sql, {"id": project.pk}).name == "Threads"
    seen = []

    def read() -> None:
        try:
            seen.append(raw_first(Project, sql, {"id": project.pk}).name)
            seen.append("labeler_raw_plans" in connections["default"].__dict__)
        finally:
            connections["default"].close()

    thread = threading.Thread(target=read)
    thread.start()
    thread.join()
    assert seen == ["Threads", True]
    assert connections["default"].__dict__["labeler_raw_plans"]
