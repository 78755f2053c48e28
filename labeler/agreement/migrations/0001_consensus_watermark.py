import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("projects", "0004_agreement_refresh_due"),
    ]

    operations = [
        migrations.CreateModel(
            name="ConsensusWatermark",
            fields=[
                (
                    "project",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="+",
                        serialize=False,
                        to="projects.project",
                    ),
                ),
                (
                    "change_count",
                    models.PositiveBigIntegerField(
                        help_text="How many label changes (LabelChange rows) the project had."
                    ),
                ),
                (
                    "last_change_id",
                    models.BigIntegerField(help_text="The newest of them; 0 for none."),
                ),
                (
                    "rules",
                    models.CharField(
                        help_text="The consensus settings the refresh applied.", max_length=200
                    ),
                ),
                ("refreshed_at", models.DateTimeField()),
            ],
        ),
    ]
