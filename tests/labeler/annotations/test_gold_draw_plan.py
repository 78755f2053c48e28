"""The queue's gold draw starts from the few gold images, whatever the number of final
labels: it scanned every final label of every project before they had an index."""

from __future__ import annotations

import pytest
from django.db import connection

from labeler.annotations.models import FinalLabel, FinalLabelMethod
from labeler.annotations.qualification import gold_open_to
from tests.factories import ProjectFactory, UserFactory
from tests.labeler.annotations.test_queue_concurrency import bulk_images

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


def test_the_gold_draw_reads_the_gold_index(needs_postgres):
    project = ProjectFactory(name="Mostly decided")
    annotator = UserFactory(username="annotator")
    ids = bulk_images(project, 4000)
    decided = [FinalLabel(image_id=pk, method=FinalLabelMethod.CONSENSUS) for pk in ids[:-3]]
    gold = [FinalLabel(image_id=pk, method=FinalLabelMethod.GOLD) for pk in ids[-3:]]
    FinalLabel.objects.bulk_create(decided + gold)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE annotations_finallabel")
        cursor.execute("ANALYZE images_image")
    draw = gold_open_to(project=project, annotator_id=annotator.pk).order_by("?")
    assert "final_label_gold_idx" in draw.explain()
    assert sorted(draw.values_list("pk", flat=True)) == ids[-3:]
