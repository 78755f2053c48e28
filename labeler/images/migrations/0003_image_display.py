import importlib

from django.db import migrations, models

# SQLite adds a NOT NULL column by copying the table, which drops the table's triggers:
# the image counters' (migration 0002) are made again after it, as 0002 wrote them.
_counters = importlib.import_module("labeler.images.migrations.0002_image_counter")


def sqlite_triggers_again(apps, schema_editor):
    if schema_editor.connection.vendor != "sqlite":
        return  # PostgreSQL adds the column in place: its triggers stay
    _counters.drop_triggers(apps, schema_editor)
    for statement in _counters._sqlite():
        schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("images", "0002_image_counter"),
    ]

    operations = [
        # Undone last: the column's removal copies the table again.
        migrations.RunPython(migrations.RunPython.noop, sqlite_triggers_again),
        migrations.AddField(
            model_name="image",
            name="display",
            field=models.FileField(blank=True, db_default="", max_length=255, upload_to=""),
        ),
        migrations.RunPython(sqlite_triggers_again, migrations.RunPython.noop),
    ]
