"""A pass's stored predictions are counted as chunks store them, not recounted each time;
predictions lose their image index, which their unique (image, version) index covers."""

import django.db.models.deletion
from django.db import migrations, models


def count_passes_in_progress(apps, schema_editor):
    """Passes under way keep their progress: what they stored so far, counted once here."""
    ModelVersion = apps.get_model("predictions", "ModelVersion")
    Prediction = apps.get_model("predictions", "Prediction")
    running = ModelVersion.objects.filter(
        prelabel_started_at__isnull=False, prelabel_done_at__isnull=True
    )
    for version in running:
        stored = Prediction.objects.filter(
            model_version=version, created_at__gte=version.prelabel_started_at
        ).count()
        ModelVersion.objects.filter(pk=version.pk).update(prelabel_done=stored)


class Migration(migrations.Migration):
    dependencies = [
        ("images", "0002_image_counter"),
        ("predictions", "0003_prelabel_started_at"),
    ]

    operations = [
        migrations.AddField(
            model_name="modelversion",
            name="prelabel_done",
            field=models.PositiveIntegerField(
                default=0, help_text="Images of the latest pass whose prediction is stored."
            ),
        ),
        migrations.RunPython(count_passes_in_progress, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="prediction",
            name="image",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="predictions",
                to="images.image",
            ),
        ),
    ]
