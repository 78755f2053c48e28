"""Bulk actions as services: each action's effect, its audit row, atomicity, the job path."""

from __future__ import annotations

import pytest
from django.db import connection

from labeler.agreement.review_requests import open_review_image_ids
from labeler.agreement.services import final_labels_refresh, image_decide
from labeler.annotations.models import (
    Annotation,
    FinalLabel,
    ImageReservation,
    LabelChange,
    LabelChangeKind,
)
from labeler.annotations.queue import queue_next_image
from labeler.bulk import selection as bulk_selection
from labeler.bulk.models import BulkAction, BulkStatus
from labeler.bulk.services import bulk_action, bulk_action_progress, bulk_action_run
from labeler.errors import ValidationFailed
from labeler.exports.models import Export
from labeler.images.models import Image
from labeler.projects.models import Label
from tests.factories import ProjectFactory, annotation_submit

pytestmark = [pytest.mark.embedded, pytest.mark.django_db]


@pytest.fixture
def labelled(project, annotator, annotator2, make_images):
    """Four images: the first two labelled by both annotators (cat/cat and cat/dog)."""
    images = make_images(project, 4)
    for image, labels in ((images[0], ("cat", "cat")), (images[1], ("cat", "dog"))):
        for user, label in zip((annotator, annotator2), labels, strict=True):
            annotation_submit(project=project, annotator=user, image_id=image.pk, labels=[label])
    final_labels_refresh(project=project)
    return images


def ids_of(images):
    return {"ids": [image.pk for image in images]}


def run(project, lead, action, images, **params):
    return bulk_action(
        project=project,
        user=lead,
        action=action,
        selection=ids_of(images),
        params=params,
        expected_count=len({image.pk for image in images}),
    )


def test_send_to_review_files_requests_and_an_audit_row(project, lead, labelled):
    record = run(project, lead, "review", labelled[:3], note="check the tails")
    assert (record.status, record.total, record.changed) == (BulkStatus.DONE, 3, 3)
    assert (record.action, record.params, record.created_by) == (
        "review",
        {"note": "check the tails"},
        lead,
    )
    assert record.selection == {"count": 3, "ids": "listed"}
    assert sorted(open_review_image_ids(project)) == [image.pk for image in labelled[:3]]
    again = run(project, lead, "review", labelled[:3])
    assert again.changed == 0  # already open


def test_relabel_withdraws_chosen_labels_keeps_history_and_requeues_first(
    project, lead, annotator, annotator2, labelled
):
    first, second, third, _ = labelled
    Image.objects.filter(pk=third.pk).update(priority=7)
    assert FinalLabel.objects.filter(image=first).exists()  # cat/cat: consensus
    record = run(project, lead, "relabel", [first, second], annotators=["ann2"])
    assert record.changed == 2
    assert list(
        Annotation.objects.filter(image__in=[first, second]).values_list(
            "annotator__username", flat=True
        )
    ) == ["ann1", "ann1"]
    withdrawn = LabelChange.objects.filter(kind=LabelChangeKind.ANNOTATION_WITHDRAWN)
    assert sorted(withdrawn.values_list("image_id", "annotator_id", "changed_by_id")) == [
        (first.pk, annotator2.pk, lead.pk),
        (second.pk, annotator2.pk, lead.pk),
    ]
    cat, dog = (Label.objects.get(project=project, name=n).pk for n in ("cat", "dog"))
    assert sorted(withdrawn.values_list("from_label_ids", flat=True)) == [[cat], [dog]]
    assert not FinalLabel.objects.filter(image=first).exists()
    assert LabelChange.objects.filter(image=first, kind=LabelChangeKind.FINAL_CLEARED).exists()
    first.refresh_from_db()
    assert (first.annotation_count, first.is_complete, first.priority) == (1, False, 8.0)
    lease = queue_next_image(project=project, annotator=annotator2)
    assert lease is not None and lease.image_id == first.pk  # first in the queue again


def test_relabel_everyone(project, lead, labelled):
    run(project, lead, "relabel", labelled[:2])
    assert not Annotation.objects.exists()
    assert LabelChange.objects.filter(kind=LabelChangeKind.ANNOTATION_WITHDRAWN).count() == 4


def test_gold_marks_the_final_label_or_given_labels_and_unmarks(project, lead, labelled):
    first, second, third, _ = labelled
    with pytest.raises(ValidationFailed, match="no final label"):
        run(project, lead, "gold", [first, third])
    assert not FinalLabel.objects.filter(method="gold").exists()
    run(project, lead, "gold", [first])
    assert FinalLabel.objects.get(image=first).method == "gold"
    run(project, lead, "gold", [second, third], labels=["dog"])
    dog = Label.objects.get(project=project, name="dog").pk
    for image in (second, third):
        final = FinalLabel.objects.get(image=image)
        assert (final.method, [label.pk for label in final.labels.all()]) == ("gold", [dog])
    record = run(project, lead, "gold", [first, second, third], gold=False)
    assert record.changed == 3
    assert not FinalLabel.objects.filter(method="gold").exists()


def test_priority(project, lead, labelled):
    record = run(project, lead, "priority", labelled[:2], priority=3)
    assert record.changed == 2 and record.params == {"priority": 3.0}
    assert sorted(Image.objects.values_list("priority", flat=True)) == [0, 0, 3, 3]


def test_reserved_images_go_to_the_named_annotators_only(
    project, lead, annotator, annotator2, make_images
):
    kept, free = make_images(project, 2)
    run(project, lead, "priority", [kept], priority=10)
    run(project, lead, "reserve", [kept], annotators=["ann2"])
    assert list(ImageReservation.objects.values_list("image_id", "annotator_id")) == [
        (kept.pk, annotator2.pk)
    ]
    assert queue_next_image(project=project, annotator=annotator).image_id == free.pk
    assert queue_next_image(project=project, annotator=annotator2).image_id == kept.pk
    run(project, lead, "reserve", [kept], annotators=[])  # released
    assert not ImageReservation.objects.exists()


def test_delete(project, lead, labelled, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        record = run(project, lead, "delete", labelled[:2])
    assert record.changed == 2
    assert list(Image.objects.values_list("pk", flat=True)) == [i.pk for i in labelled[2:]]
    assert BulkAction.objects.get().action == "delete"


def test_export_exactly_the_selection(project, lead, labelled, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        record = run(project, lead, "export", [labelled[1], labelled[3]], format="csv")
    export = Export.objects.get(pk=record.result["export"])
    assert export.total == 2 and export.status == "done"
    text = export.file.read().decode()
    assert labelled[1].original_name in text and labelled[3].original_name in text
    assert labelled[0].original_name not in text


@pytest.mark.parametrize(
    ("action", "selection", "params", "message"),
    [
        ("paint", {"ids": [1]}, {}, "Unknown action"),
        ("review", {"ids": []}, {}, "empty"),
        ("review", {}, {}, "either ids or a filter"),
        ("review", {"ids": ["x"]}, {}, "whole-number"),
        ("review", [1, 2], {}, "selection"),
        ("review", {"ids": [1], "exclude_ids": [1]}, {}, "exclude_ids"),
        ("review", {"ids": [1], "colour": 1}, {}, "Unknown selection key"),
        ("relabel", {"ids": [1]}, {"annotators": ["nobody"]}, "nobody"),
        ("relabel", {"ids": [1]}, {"annotators": []}, "annotators"),
        ("reserve", {"ids": [1]}, {}, "annotators"),
        ("priority", {"ids": [1]}, {"priority": "high"}, "priority"),
        ("priority", {"ids": [1]}, {"priority": 1, "colour": "red"}, "colour"),
        ("gold", {"ids": [1]}, {"gold": "yes"}, "gold"),
        ("gold", {"ids": [1]}, {"labels": ["unicorn"]}, "unicorn"),
        ("export", {"ids": [1]}, {"format": "bmp"}, "format"),
    ],
)
def test_bad_input_changes_nothing(project, lead, labelled, action, selection, params, message):
    before = Image.objects.count()
    with pytest.raises(ValidationFailed, match=message):
        bulk_action(project=project, user=lead, action=action, selection=selection, params=params)
    assert not BulkAction.objects.exists() and Image.objects.count() == before


def test_ids_of_another_project_are_refused(project, lead, labelled, make_images):
    (foreign,) = make_images(ProjectFactory(), 1)
    with pytest.raises(ValidationFailed, match=f"Images {foreign.pk} are not images"):
        run(project, lead, "priority", [labelled[0], foreign], priority=1)
    assert not Image.objects.filter(priority=1).exists()


@pytest.fixture
def failing_update(labelled):
    """A database that refuses to update the last image (a failure half-way)."""
    if connection.vendor != "sqlite":
        pytest.skip("the trigger is written for SQLite")
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TRIGGER refuse BEFORE UPDATE ON images_image "
            f"WHEN NEW.id = {labelled[-1].pk} BEGIN SELECT RAISE(ABORT, 'refused'); END"
        )
    yield
    with connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER refuse")


def test_a_failure_half_way_leaves_nothing_done(
    project, lead, labelled, failing_update, monkeypatch
):
    monkeypatch.setattr(bulk_selection, "BATCH", 2)  # the failure is in the second batch
    annotations = Annotation.objects.count()
    with pytest.raises(Exception, match="refused"):
        run(project, lead, "relabel", labelled)
    assert Annotation.objects.count() == annotations
    assert not LabelChange.objects.filter(kind=LabelChangeKind.ANNOTATION_WITHDRAWN).exists()
    assert not Image.objects.filter(priority__gt=0).exists()
    assert not BulkAction.objects.exists()


def test_large_selections_run_as_a_job_with_progress(
    project, lead, labelled, settings, django_capture_on_commit_callbacks
):
    settings.LABELER_BULK_BACKGROUND_OVER = 3
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        record = run(project, lead, "priority", labelled, priority=2)
    assert (record.status, record.total, bulk_action_progress(record)) == ("queued", 4, 0)
    assert not Image.objects.filter(priority=2).exists()
    assert len(callbacks) == 1
    callbacks[0]()  # the job, as the worker runs it
    record.refresh_from_db()
    assert (record.status, record.done, record.changed, record.image_ids) == ("done", 4, 4, None)
    assert Image.objects.filter(priority=2).count() == 4
    assert bulk_action_run(action_id=record.pk) is None  # a redelivery does nothing


def test_a_failed_job_says_why_and_changes_nothing(
    project,
    lead,
    labelled,
    settings,
    failing_update,
    monkeypatch,
    django_capture_on_commit_callbacks,
):
    settings.LABELER_BULK_BACKGROUND_OVER = 1
    monkeypatch.setattr(bulk_selection, "BATCH", 2)
    with django_capture_on_commit_callbacks(execute=True):
        record = run(project, lead, "priority", labelled, priority=2)
    record.refresh_from_db()
    assert record.status == "failed" and "nothing was changed" in record.error
    assert not Image.objects.filter(priority=2).exists()


def test_a_decision_after_review_resolves_the_request(project, lead, labelled):
    run(project, lead, "review", labelled[:1])
    image_decide(
        project=project,
        image_id=labelled[0].pk,
        labels=["cat"],
        decided_by=lead,
        method="adjudicated",
    )
    assert not open_review_image_ids(project).exists()


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("name=a\x00b", "filter.name"),
        ("name=a\ud800b", "filter.name"),
        ("camera=\ud800", "filter.camera"),
    ],
)
def test_a_filter_holding_what_no_text_can_is_refused_naming_it(
    project, lead, labelled, query, field
):
    """name=a%00b in a selection was a 500 on PostgreSQL (and the surrogate everywhere):
    the owner of text from outside refuses it, naming the filter's parameter."""
    with pytest.raises(ValidationFailed) as refused:
        bulk_action(
            project=project,
            user=lead,
            action="delete",
            selection={"filter": query},
            expected_count=len(labelled),
        )
    assert refused.value.field == field
    assert Image.objects.count() == len(labelled)


@pytest.mark.parametrize(
    ("key", "said"),
    [("tag\x00", "NUL"), ("tag\ud800", "not UTF-8"), ("tagg", "Unknown filter")],
)
def test_an_unknown_key_is_named_in_text_an_answer_can_carry(project, lead, labelled, key, said):
    with pytest.raises(ValidationFailed, match=said) as refused:
        bulk_action(
            project=project,
            user=lead,
            action="delete",
            selection={"filter": f"{key}=junk"},
            expected_count=len(labelled),
        )
    refused.value.field.encode()  # no NUL, no lone surrogate: the answer can be written
    assert "\x00" not in refused.value.field
    assert Image.objects.count() == len(labelled)
