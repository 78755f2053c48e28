"""PostgreSQL: the image counters follow changed rows once a statement, not once a row.

The row trigger of migration 0002 upserted a counter share for every image a statement
changed. Within one transaction each upsert of the same share leaves a new row version
that the next one has to step over, so an UPDATE of 100,000 images (a bulk action sending
them back to be labelled again) took minutes, growing with the square of the rows. A
statement trigger sees the changed rows as two transition tables and adds their deltas to
at most 8 shares per project in one upsert, as the insert and delete triggers already do.
Transition tables cannot go with a column list, so the trigger fires on every UPDATE of
images and writes nothing where the counted columns did not change (a priority update);
a one-row UPDATE (a label submitted) costs the same upsert as before. SQLite keeps its row trigger: it has no
statement triggers, and its rows are upserted in place.
"""

import importlib

from django.db import migrations

_counter = importlib.import_module("labeler.images.migrations.0002_image_counter")
_ROW, _ADD, _COLUMNS, _SHARDS = _counter._ROW, _counter._ADD, _counter._COLUMNS, _counter._SHARDS
_TABLE = "images_imagecounter"


def _updated_rows() -> str:
    """The changed rows' deltas per project and share (an update moves no image)."""
    counted = [column for column in _ROW if column != "images"]
    sides = " UNION ALL ".join(
        f"SELECT {r}.project_id, {r}.id % {_SHARDS} AS shard, "
        + ", ".join(f"{sign}({_ROW[c].format(r=r)}) AS {c}" for c in counted)
        + f" FROM {table} {r}"
        for r, sign, table in (("n", "", "new_rows"), ("o", "-", "old_rows"))
    )
    sums = ", ".join(f"SUM(d.{c})" for c in counted)
    changed = " OR ".join(f"SUM(d.{c}) <> 0" for c in counted)
    return f"""SELECT d.project_id, d.shard, 0, {sums}
            FROM ({sides}) d
            GROUP BY d.project_id, d.shard
            HAVING {changed}
            ORDER BY 1, 2"""


def _per_statement() -> list[str]:
    return [
        "DROP TRIGGER IF EXISTS images_counts_update ON images_image",
        # No join of the two tables (they have no index: a plan without statistics would
        # pair every row with every other): each side is summed, new minus old.
        f"""CREATE FUNCTION images_counts_updated_rows() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO {_TABLE} AS c (project_id, shard, {_COLUMNS})
            {_updated_rows()}
            ON CONFLICT (project_id, shard) DO UPDATE SET {_ADD};
            RETURN NULL;
        END $$""",
        "CREATE TRIGGER images_counts_update AFTER UPDATE ON images_image "
        "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT "
        "EXECUTE FUNCTION images_counts_updated_rows()",
    ]


def _per_row() -> list[str]:
    return [
        "DROP TRIGGER IF EXISTS images_counts_update ON images_image",
        "DROP FUNCTION IF EXISTS images_counts_updated_rows()",
        "CREATE TRIGGER images_counts_update AFTER UPDATE OF is_complete, annotation_count "
        "ON images_image FOR EACH ROW WHEN (OLD.is_complete IS DISTINCT FROM NEW.is_complete "
        "OR OLD.annotation_count IS DISTINCT FROM NEW.annotation_count) "
        "EXECUTE FUNCTION images_counts_updated()",
    ]


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for statement in _per_statement():
            schema_editor.execute(statement, params=None)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for statement in _per_row():
            schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("images", "0007_browse_sort_indexes"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
