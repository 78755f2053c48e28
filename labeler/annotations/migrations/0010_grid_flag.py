"""Record whether a lease was handed out on a grid page, and whether a label was given on one."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("annotations", "0009_final_label_by_confidence"),
    ]

    operations = [
        # Added in SQL: on SQLite, Django would rebuild the table, which the label history's
        # trigger on revisions (0005) refers to by name.
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AddField(
                    model_name="annotation",
                    name="grid",
                    field=models.BooleanField(
                        db_default=False,
                        default=False,
                        help_text="Whether the label was given on a grid page (the lease said so).",
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    "ALTER TABLE annotations_annotation "
                    "ADD COLUMN grid boolean NOT NULL DEFAULT false",
                    reverse_sql="ALTER TABLE annotations_annotation DROP COLUMN grid",
                ),
            ],
        ),
        migrations.AddField(
            model_name="assignment",
            name="grid",
            field=models.BooleanField(
                db_default=False,
                default=False,
                help_text="Whether the image was handed out on a grid page (queue/page/).",
            ),
        ),
    ]
