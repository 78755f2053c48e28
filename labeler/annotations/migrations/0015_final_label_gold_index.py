"""The gold images' final labels indexed on their own: the queue's gold draw (1 ``next/``
in 20 at the default gold rate) looked them up by a scan of every final label of every
project, which grows with the site (904 rows scanned to find none in a database of 3,000
images; a million where a million-image project is labelled)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("annotations", "0014_revision_annotation_index"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="finallabel",
            index=models.Index(
                condition=models.Q(("method", "gold")),
                fields=["image"],
                name="final_label_gold_idx",
            ),
        ),
    ]
