from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("projects", "0005_suggestion_holdback"),
    ]

    operations = [
        migrations.AddField(
            model_name="project",
            name="import_settles_at",
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
    ]
