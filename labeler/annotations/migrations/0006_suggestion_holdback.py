"""Record the suggestion handed out with each lease, and whether one was shown with each label.

Annotations made before this recorded the model whose suggestion was on screen
(``suggested_by``): those were shown a suggestion.
"""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("annotations", "0005_label_history"),
        ("predictions", "0004_prelabel_done"),
    ]

    operations = [
        # Added in SQL: on SQLite, Django would rebuild the table, which the label history's
        # trigger on revisions (0005) refers to by name.
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AddField(
                    model_name="annotation",
                    name="suggestion_shown",
                    field=models.BooleanField(
                        db_default=False,
                        default=False,
                        help_text="Whether the queue showed a model's suggestion with the image.",
                    ),
                ),
                migrations.AddField(
                    model_name="annotation",
                    name="suggestion_withheld",
                    field=models.BooleanField(
                        db_default=False,
                        default=False,
                        help_text="Whether the model had a suggestion that the queue held back on purpose.",
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    "ALTER TABLE annotations_annotation "
                    "ADD COLUMN suggestion_shown boolean NOT NULL DEFAULT false",
                    reverse_sql="ALTER TABLE annotations_annotation DROP COLUMN suggestion_shown",
                ),
                migrations.RunSQL(
                    "ALTER TABLE annotations_annotation "
                    "ADD COLUMN suggestion_withheld boolean NOT NULL DEFAULT false",
                    reverse_sql=(
                        "ALTER TABLE annotations_annotation DROP COLUMN suggestion_withheld"
                    ),
                ),
            ],
        ),
        migrations.AddField(
            model_name="assignment",
            name="suggested_by",
            field=models.ForeignKey(
                blank=True,
                help_text="The model whose suggestion was handed out with the image, if any.",
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to="predictions.modelversion",
            ),
        ),
        migrations.AddField(
            model_name="assignment",
            name="suggested_label_ids",
            field=models.JSONField(
                blank=True, help_text="The suggested label ids as handed out, sorted.", null=True
            ),
        ),
        migrations.AddField(
            model_name="assignment",
            name="suggestion_withheld",
            field=models.BooleanField(
                db_default=False,
                default=False,
                help_text="Whether the model's suggestion was held back on purpose.",
            ),
        ),
        migrations.RunSQL(
            "UPDATE annotations_annotation SET suggestion_shown = TRUE "
            "WHERE suggested_by_id IS NOT NULL",
            reverse_sql=migrations.RunSQL.noop,
        ),
    ]
