"""Every change of an image's labels is kept: who, when, from which labels to which."""

from __future__ import annotations

import pytest

from labeler.agreement.services import final_labels_refresh, image_decide, image_decision_clear
from labeler.annotations.models import AnnotationRevision, LabelChange
from labeler.annotations.queue import queue_next_image, queue_suggestion_record
from labeler.annotations.services import annotation_withdraw
from labeler.predictions.machine_labels import machine_labels_review, machine_labels_send
from labeler.predictions.models import Prediction
from tests.factories import ModelVersionFactory, annotation_submit, predict

pytestmark = [pytest.mark.embedded, pytest.mark.django_db]


def changes(image) -> list[tuple]:
    """The image's history as (kind, method, annotator, changed_by, from, to), names for ids."""
    names = dict(image.project.labels.values_list("pk", "name"))
    return [
        (
            change.kind,
            change.method,
            change.annotator and change.annotator.username,
            change.changed_by and change.changed_by.username,
            [names[i] for i in change.from_label_ids],
            [names[i] for i in change.to_label_ids],
        )
        for change in LabelChange.objects.filter(image=image).order_by("id")
    ]


def test_an_annotators_changes_are_kept_with_from_and_to(project, annotator, make_images):
    """Created, changed twice, resubmitted unchanged (nothing to keep), then withdrawn."""
    project.multi_label = True
    project.save()
    [image] = make_images(project, 1)
    for labels in (["cat"], ["dog"], ["dog", "bird"], ["bird", "dog"]):
        annotation, _ = annotation_submit(
            project=project, annotator=annotator, image_id=image.pk, labels=labels
        )
    annotation_withdraw(project=project, annotator=annotator, annotation_id=annotation.pk)
    assert changes(image) == [
        ("annotation_created", "", "ann1", "ann1", [], ["cat"]),
        ("annotation_changed", "", "ann1", "ann1", ["cat"], ["dog"]),
        ("annotation_changed", "", "ann1", "ann1", ["dog"], ["dog", "bird"]),
        ("annotation_withdrawn", "", "ann1", "ann1", ["dog", "bird"], []),
    ]
    # The revisions went with the annotation; its history did not.
    assert not AnnotationRevision.objects.exists()
    assert set(LabelChange.objects.values_list("annotation_id", flat=True)) == {annotation.pk}


def test_relabelling_after_a_withdrawal_starts_a_new_annotation(project, annotator, make_images):
    [image] = make_images(project, 1)
    first, _ = annotation_submit(
        project=project, annotator=annotator, image_id=image.pk, labels=["cat"]
    )
    annotation_withdraw(project=project, annotator=annotator, annotation_id=first.pk)
    second, _ = annotation_submit(
        project=project, annotator=annotator, image_id=image.pk, labels=["dog"]
    )
    assert [kind for kind, *_ in changes(image)] == [
        "annotation_created",
        "annotation_withdrawn",
        "annotation_created",
    ]
    assert changes(image)[-1][4:] == ([], ["dog"])
    assert LabelChange.objects.order_by("id").last().annotation_id == second.pk


def test_an_accepted_suggestion_names_its_model(project, annotator, make_images):
    [image] = make_images(project, 1)
    model = ModelVersionFactory(project=project)
    cat = project.labels.get(name="cat").pk
    lease = queue_next_image(project=project, annotator=annotator)
    assert lease is not None
    queue_suggestion_record(
        assignment=lease, model_version=model.pk, label_ids=[cat], withheld=False
    )
    annotation_submit(project=project, annotator=annotator, image_id=image.pk, labels=["cat"])
    assert LabelChange.objects.get().model_version == model


def test_final_labels_by_consensus_and_by_people(project, lead, annotator, annotator2, make_images):
    """Consensus sets a label (the system did it), a lead overrides it, then takes it back."""
    [image] = make_images(project, 1)
    for user in (annotator, annotator2):
        annotation_submit(project=project, annotator=user, image_id=image.pk, labels=["cat"])
    final_labels_refresh(project=project)
    final_labels_refresh(project=project)  # unchanged: nothing more to keep
    image_decide(
        project=project, image_id=image.pk, labels=["dog"], decided_by=lead, method="adjudicated"
    )
    image_decision_clear(project=project, image_id=image.pk, cleared_by=lead)
    assert changes(image)[2:] == [
        ("final_set", "consensus", None, None, [], ["cat"]),
        ("final_set", "adjudicated", None, "lead", ["cat"], ["dog"]),
        ("final_cleared", "adjudicated", None, "lead", ["dog"], []),
    ]
    final_labels_refresh(project=project)
    assert changes(image)[-1] == ("final_set", "consensus", None, None, [], ["cat"])


def test_consensus_that_changes_its_mind_is_kept(project, annotator, annotator2, make_images):
    """An annotator changes their label: consensus first loses the image, then follows."""
    project.overlap = 1
    project.save()
    [image] = make_images(project, 1)
    annotation_submit(project=project, annotator=annotator, image_id=image.pk, labels=["cat"])
    final_labels_refresh(project=project)
    annotation_submit(project=project, annotator=annotator, image_id=image.pk, labels=["dog"])
    final_labels_refresh(project=project)
    finals = [change for change in changes(image) if change[0].startswith("final")]
    assert finals == [
        ("final_set", "consensus", None, None, [], ["cat"]),
        ("final_set", "consensus", None, None, ["cat"], ["dog"]),
    ]


def test_machine_review_keeps_the_model_and_the_reviewer(project, reviewer, make_images):
    project.machine_check_rate = 0.0
    project.save()
    ids = dict(project.labels.values_list("name", "pk"))
    confirmed, corrected = make_images(project, 2)
    model = ModelVersionFactory(project=project)
    for image in (confirmed, corrected):
        predict(model, image, {str(ids["cat"]): 0.95, str(ids["dog"]): 0.05})
    Prediction.objects.update(confidence=0.95)
    machine_labels_send(project=project, min_confidence=0.0)
    machine_labels_review(
        project=project,
        reviewer=reviewer,
        confirm=[confirmed.pk],
        correct=[{"image": corrected.pk, "labels": ["dog"]}],
    )
    assert changes(confirmed) == [("final_set", "machine", None, "rev", [], ["cat"])]
    assert changes(corrected) == [("final_set", "adjudicated", None, "rev", [], ["dog"])]
    assert LabelChange.objects.get(image=confirmed).model_version == model
    assert LabelChange.objects.get(image=corrected).model_version is None
