"""The served predictions' log, written after the answer: every row kept, under the id
its answer gave, on SQLite and PostgreSQL."""

from __future__ import annotations

import numpy as np
import pytest

from labeler.serving import served_log, services
from labeler.serving.models import ServedPrediction
from tests.factories import ProjectFactory
from tests.serving_model import served_version

pytestmark = [pytest.mark.embedded, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def model_dir(settings, tmp_path):
    settings.LABELER_MODEL_DIR = tmp_path / "models"


def answered(version, count: int, *, caller_id=None, token_id=None, nan_row=None) -> list[dict]:
    label_ids = list(version.project.labels.order_by("pk").values_list("pk", flat=True))
    probabilities = np.full((count, len(label_ids)), 1 / len(label_ids), np.float32)
    probabilities[:, 0] += 0.1
    if nan_row is not None:  # no JSON number: its row is refused by the database
        probabilities[nan_row, 1] = np.nan
    return services.served_predictions_record(
        version=version,
        inputs=[{"name": f"{n}.png", "sha256": f"{n:064x}"} for n in range(count)],
        outputs=services.ModelOutputs(
            label_ids=label_ids, multi_label=False, thresholds=None,
            probabilities=probabilities, embeddings=np.ones((count, 4), np.float32),
            durations_ms=[1.5] * count,
        ),
        caller_id=caller_id, token_id=token_id,
    )  # fmt: skip


def test_rows_are_written_after_the_answer_under_the_ids_it_gave(lead):
    version = served_version(ProjectFactory(labels=["a", "b"]))
    answers = answered(version, 3, caller_id=lead.pk)
    ids = [answer["served_id"] for answer in answers]
    assert len(set(ids)) == 3
    assert served_log.flush(10)
    rows = {row.pk: row for row in ServedPrediction.objects.all()}
    assert sorted(rows) == sorted(ids)
    for answer in answers:
        row = rows[answer["served_id"]]
        assert (row.image_sha256, row.caller_id, row.model_version_id) == (
            answer["sha256"],
            lead.pk,
            version.pk,
        )
        assert row.top_label.name == "a" and row.duration_ms == 1.5
        assert np.frombuffer(row.embedding, "<f2").tolist() == [1.0] * 4


def test_reserved_ids_are_never_taken_by_another_writer():
    version = served_version(ProjectFactory(labels=["a", "b"]))
    reserved = served_log.ids_reserve(3)
    # An ordinary insert (another process, a test's own row) takes an id past the block.
    other = ServedPrediction.objects.create(
        project=version.project, image_sha256="f" * 64, probability=0.5
    )
    assert other.pk not in reserved and other.pk > max(reserved)
    later = served_log.ids_reserve(300)  # more than a block at once
    assert len(set(later)) == 300 and not set(later) & {*reserved, other.pk}


def test_a_row_whose_links_were_deleted_is_kept_without_them_and_a_deleted_projects_dropped(lead):
    kept_project, gone_project = ProjectFactory(labels=["a", "b"]), ProjectFactory(labels=["c"])
    version = served_version(kept_project)
    gone_version = served_version(gone_project)
    # Written later than answered: what they link to is deleted in between.
    served_log._writer._ids.clear()
    with served_log._writer._condition:  # the writer takes nothing until both are queued
        kept = answered(version, 2, caller_id=lead.pk)
        dropped = answered(gone_version, 1)
        version.delete()
        lead.delete()
        gone_project.delete()
    assert served_log.flush(10)
    rows = ServedPrediction.objects.order_by("pk")
    assert [row.pk for row in rows] == [answer["served_id"] for answer in kept]
    assert all(row.model_version_id is None and row.caller_id is None for row in rows)
    assert not ServedPrediction.objects.filter(pk=dropped[0]["served_id"]).exists()


def test_a_row_the_database_refuses_is_left_out_and_the_others_written(caplog):
    version = served_version(ProjectFactory(labels=["a", "b"]))
    answers = answered(version, 3, nan_row=1)  # one round for all three
    assert served_log.flush(10)
    written = set(ServedPrediction.objects.values_list("pk", flat=True))
    ids = [answer["served_id"] for answer in answers]
    assert written == {ids[0], ids[2]}
    assert f"Served prediction {ids[1]}" in caplog.text
    answered(version, 1)  # the writer goes on
    assert served_log.flush(10) and ServedPrediction.objects.count() == 3


def test_inside_a_transaction_the_rows_are_written_with_it():
    from django.db import transaction

    version = served_version(ProjectFactory(labels=["a", "b"]))
    with transaction.atomic():
        [answer] = answered(version, 1)
        assert ServedPrediction.objects.filter(pk=answer["served_id"]).exists()
        transaction.set_rollback(True)
    assert not ServedPrediction.objects.exists()
