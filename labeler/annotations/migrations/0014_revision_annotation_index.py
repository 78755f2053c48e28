"""The revisions indexed by (annotation, id): the history trigger's look-up of the revision
before a new one (migration 0005) walks it back one step. With the annotation's own index
the planner, expecting few revisions of an annotation, took the table's id index backwards
instead, past every revision of the table for a new annotation (2.5 ms at 9,000 revisions,
growing with the table). The annotation's own index stays: dropping it is a table rebuild
on SQLite, which would drop the history trigger with the old table."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("annotations", "0013_label_change_import_method"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="annotationrevision",
            index=models.Index(fields=["annotation", "id"], name="revision_annotation_idx"),
        ),
    ]
