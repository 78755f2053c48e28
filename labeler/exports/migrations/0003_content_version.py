from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("exports", "0002_base_url"),
    ]

    operations = [
        migrations.AddField(
            model_name="export",
            name="content_version",
            field=models.CharField(
                blank=True,
                db_default="",
                help_text="What the project held when the file was written (labels, final labels, images): an export asked for again with the same options while this is unchanged gets this one back instead of a copy.",
                max_length=64,
            ),
        ),
        migrations.AddIndex(
            model_name="export",
            index=models.Index(fields=["status", "id"], name="export_by_status_idx"),
        ),
    ]
