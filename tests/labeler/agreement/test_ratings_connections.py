"""Outside a transaction on PostgreSQL, ratings_load runs its two queries on two connections."""

from __future__ import annotations

import pytest
from django.db import connection, transaction

from labeler.agreement import ratings as ratings_module
from labeler.agreement.ratings import ratings_load
from tests.factories import annotation_submit

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_side_by_side_queries_load_the_same_ratings(
    needs_postgres, project, annotator, annotator2, make_images, monkeypatch
):
    """The arrays are those of the queries in turn; inside a transaction, in turn it is."""
    first, second = make_images(project, 2)
    for user, image, name in [
        (annotator, first, "dog"),
        (annotator2, first, "bird"),
        (annotator2, second, "cat"),
    ]:
        annotation_submit(project=project, annotator=user, image_id=image.pk, labels=[name])
    calls = []
    for name in ("_fetch_side_by_side", "_fetch_in_turn"):
        original = getattr(ratings_module, name)

        def spy(*args, original=original, name=name):
            calls.append(name)
            return original(*args)

        monkeypatch.setattr(ratings_module, name, spy)
    together = ratings_load(project)
    with transaction.atomic():
        in_turn = ratings_load(project)
    assert calls == ["_fetch_side_by_side", "_fetch_in_turn"]
    for field in ("image_ids", "annotator_ids", "codes", "rated_at", "time_spent_ms"):
        assert (getattr(together, field) == getattr(in_turn, field)).all(), field
    assert (together.codes >= 0).sum() == 3
    assert connection.vendor == "postgresql"
