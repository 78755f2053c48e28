"""PostgreSQL: an import holds its image-count deltas until its end.

An import is one transaction that inserts thousands of images and counts thousands of
annotations, each write upserting one of its project's 8 counter rows. Every upsert of a
row leaves a version of it that the next upsert steps over, and the import's savepoints
make each step dearer: the import's pace fell by half between its first tenth and its
last. With ``labeler.counts_held`` set to ``on`` in the transaction
(``labeler.images.counts.counts_held``), the triggers append their deltas to a temporary
table instead, which only ever grows; the hold adds them up into the counters in one
upsert when it ends, still inside the transaction. Other sessions never set it, and their
triggers upsert as before. SQLite upserts its rows in place and keeps its row triggers.
"""

import importlib

from django.db import migrations

_counter = importlib.import_module("labeler.images.migrations.0002_image_counter")
_updated_rows = importlib.import_module(
    "labeler.images.migrations.0008_counts_update_per_statement"
)._updated_rows
_ADD, _COLUMNS = _counter._ADD, _counter._COLUMNS
_TABLE = "images_imagecounter"
HELD = "images_counts_held"  # the temporary table (pg_temp) a hold appends to
_HELD_ON = "coalesce(current_setting('labeler.counts_held', true), '') = 'on'"


def _function(name: str, rows: str) -> str:
    """A trigger function adding ``rows`` (project_id, shard and the counted columns) to
    the counters, or to the held deltas while the transaction holds them."""
    return f"""CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF {_HELD_ON} THEN
            INSERT INTO pg_temp.{HELD} (project_id, shard, {_COLUMNS}) {rows};
        ELSE
            INSERT INTO {_TABLE} AS c (project_id, shard, {_COLUMNS}) {rows}
            ON CONFLICT (project_id, shard) DO UPDATE SET {_ADD};
        END IF;
        RETURN NULL;
    END $$"""


def _held() -> list[str]:
    return [
        _function("images_counts_inserted", _counter._grouped("new_rows", "")),
        _function("images_counts_deleted", _counter._grouped("old_rows", "-")),
        _function("images_counts_updated_rows", _updated_rows()),
    ]


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for statement in _held():
            schema_editor.execute(statement, params=None)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    upsert = f"ON CONFLICT (project_id, shard) DO UPDATE SET {_ADD}"
    for name, rows in (
        ("images_counts_inserted", _counter._grouped("new_rows", "")),
        ("images_counts_deleted", _counter._grouped("old_rows", "-")),
        ("images_counts_updated_rows", _updated_rows()),
    ):
        schema_editor.execute(
            f"""CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                INSERT INTO {_TABLE} AS c (project_id, shard, {_COLUMNS}) {rows} {upsert};
                RETURN NULL;
            END $$""",
            params=None,
        )


class Migration(migrations.Migration):
    dependencies = [
        ("images", "0014_faces"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
