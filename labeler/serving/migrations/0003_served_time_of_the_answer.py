# The time a served prediction was answered, set by its writer (labeler.serving.served_log).

import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("serving", "0002_prediction_tokens_and_jobs"),
    ]

    operations = [
        migrations.AlterField(
            model_name="servedprediction",
            name="created_at",
            field=models.DateTimeField(default=django.utils.timezone.now),
        ),
    ]
