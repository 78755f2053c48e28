"""PostgreSQL: the image counters follow changed rows once a statement, not once a row.

The row trigger of migration 0002 upserted a counter share for every image a statement
changed. Within one transaction each upsert of the same share leaves a new row version
that the next one has to step over, so an UPDATE of 100,000 images (a bulk action sending
them back to be labelled again) took minutes, growing with the square of the rows. A
statement trigger sees the changed rows as two transition tables and adds their deltas to
at most 8 shares per project in one upsert, as the insert and delete triggers already do.
Transition tables cannot go with a column list, so the trigger fires on every UPDATE of
images and skips rows whose counted columns did not change; a one-row UPDATE (a label
submitted) costs the same upsert as before. SQLite keeps its row trigger: it has no
statement triggers, and its rows are upserted in place.
"""

import importlib

from django.db import migrations

_counter = importlib.import_module("labeler.images.migrations.0002_image_counter")
_ROW, _ADD, _COLUMNS, _SHARDS = _counter._ROW, _counter._ADD, _counter._COLUMNS, _counter._SHARDS
_TABLE = "images_imagecounter"


def _per_statement() -> list[str]:
    delta = ", ".join(
        f"SUM(({expr.format(r='n')}) - ({expr.format(r='o')}))" for expr in _ROW.values()
    ).replace("SUM((1) - (1))", "0")
    return [
        "DROP TRIGGER IF EXISTS images_counts_update ON images_image",
        f"""CREATE FUNCTION images_counts_updated_rows() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO {_TABLE} AS c (project_id, shard, {_COLUMNS})
            SELECT n.project_id, n.id % {_SHARDS}, {delta}
            FROM new_rows n JOIN old_rows o ON o.id = n.id
            WHERE o.is_complete IS DISTINCT FROM n.is_complete
                OR o.annotation_count IS DISTINCT FROM n.annotation_count
            GROUP BY n.project_id, n.id % {_SHARDS}
            ORDER BY 1, 2
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
