"""Machine labels: sending confident predictions, bulk review with spot checks, stats."""

from __future__ import annotations

import numpy as np
import pytest

from labeler.agreement.services import final_labels_refresh
from labeler.annotations.models import FinalLabel, FinalLabelMethod
from labeler.errors import Conflict, ValidationFailed
from labeler.images.models import Image
from labeler.predictions import machine_labels
from labeler.predictions.models import MachineLabel, MachineLabelStatus
from labeler.predictions.selectors import machine_label_stats
from tests.factories import (
    ModelVersionFactory,
    ProjectFactory,
    UserFactory,
    add_member,
    annotation_submit,
    predict,
)


@pytest.fixture
def project(db):
    return ProjectFactory(name="Pets", machine_check_rate=0.0)


@pytest.fixture
def ids(project):
    return dict(project.labels.values_list("name", "pk"))


@pytest.fixture
def predicted(project, ids, make_images):
    """Four images predicted cat with confidence 0.95, 0.9, 0.6 and dog 0.99."""
    images = make_images(project, 4)
    model = ModelVersionFactory(project=project)
    for image, (name, p) in zip(
        images, [("cat", 0.95), ("cat", 0.9), ("cat", 0.6), ("dog", 0.99)], strict=True
    ):
        other = "dog" if name == "cat" else "cat"
        predict(model, image, {str(ids[name]): p, str(ids[other]): 1 - p})
    for prediction in model.predictions.all():
        prediction.confidence = max(prediction.probabilities.values())
        prediction.save()
    return images


def send(project, **kwargs):
    return machine_labels.machine_labels_send(project=project, **kwargs)


def test_send_takes_confident_predictions_of_unlabelled_images_once(project, ids, predicted):
    FinalLabel.objects.create(image=predicted[3], method=FinalLabelMethod.GOLD)
    assert send(project, min_confidence=0.85) == 2
    assert send(project, min_confidence=0.85) == 0  # already sent
    sent = MachineLabel.objects.order_by("-confidence")
    assert [(m.image_id, m.label_ids) for m in sent] == [
        (predicted[0].pk, [ids["cat"]]),
        (predicted[1].pk, [ids["cat"]]),
    ]


def test_send_filters_by_label_and_limit(project, ids, predicted):
    assert send(project, min_confidence=0.5, label=ids["dog"]) == 1
    assert send(project, min_confidence=0.5, limit=1) == 1
    assert MachineLabel.objects.get(image=predicted[0]).status == MachineLabelStatus.PENDING


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"min_confidence": 1.5}, "min_confidence"),
        ({"min_confidence": True}, "min_confidence"),
        ({"min_confidence": 0.5, "label": 999999}, "label"),
        ({"min_confidence": 0.5, "limit": 0}, "limit"),
    ],
)
def test_send_refuses_bad_input(project, predicted, kwargs, field):
    with pytest.raises(ValidationFailed) as caught:
        send(project, **kwargs)
    assert caught.value.field == field


def test_send_without_a_current_model_conflicts(db):
    with pytest.raises(Conflict):
        send(ProjectFactory(), min_confidence=0.5)


def test_review_confirms_and_corrects_and_is_safe_to_retry(project, ids, predicted):
    reviewer = UserFactory()
    send(project, min_confidence=0.5)
    confirm = [predicted[0].pk, predicted[3].pk]
    correct = [{"image": predicted[1].pk, "labels": [ids["bird"]]}]
    result = machine_labels.machine_labels_review(
        project=project, reviewer=reviewer, confirm=confirm, correct=correct
    )
    assert result == {"confirmed": 2, "corrected": 1, "spot_checked": 0}
    finals = {f.image_id: f for f in FinalLabel.objects.prefetch_related("labels")}
    assert finals[predicted[0].pk].method == FinalLabelMethod.MACHINE
    assert [label.pk for label in finals[predicted[1].pk].labels.all()] == [ids["bird"]]
    assert finals[predicted[1].pk].method == FinalLabelMethod.ADJUDICATED
    assert Image.objects.get(pk=predicted[0].pk).is_complete  # left the queue
    again = machine_labels.machine_labels_review(
        project=project, reviewer=reviewer, confirm=confirm, correct=correct
    )
    assert again == {"confirmed": 0, "corrected": 0, "spot_checked": 0}


def test_review_refuses_images_without_a_machine_label_or_named_twice(project, predicted):
    send(project, min_confidence=0.95)
    with pytest.raises(ValidationFailed, match="no machine label"):
        machine_labels.machine_labels_review(
            project=project, reviewer=UserFactory(), confirm=[predicted[2].pk]
        )
    with pytest.raises(ValidationFailed, match="both"):
        machine_labels.machine_labels_review(
            project=project,
            reviewer=UserFactory(),
            confirm=[predicted[0].pk],
            correct=[{"image": predicted[0].pk, "labels": ["dog"]}],
        )


def test_spot_checks_stay_in_the_queue_and_consensus_never_overwrites_them(project, ids, predicted):
    """A rate of 1 sends every confirmed label to annotators; their labels are measured."""
    project.machine_check_rate = 1.0
    project.save()
    send(project, min_confidence=0.85)
    result = machine_labels.machine_labels_review(
        project=project,
        reviewer=UserFactory(),
        confirm=[predicted[0].pk, predicted[1].pk],
        rng=np.random.default_rng(0),
    )
    assert result["spot_checked"] == 2
    assert not Image.objects.get(pk=predicted[0].pk).is_complete
    annotator = UserFactory()
    add_member(project, annotator)
    annotation_submit(
        project=project, annotator=annotator, image_id=predicted[0].pk, labels=["cat"]
    )
    annotation_submit(
        project=project, annotator=annotator, image_id=predicted[1].pk, labels=["dog"]
    )
    final_labels_refresh(project=project)
    final = FinalLabel.objects.get(image=predicted[1])
    assert final.method == FinalLabelMethod.MACHINE
    assert [label.pk for label in final.labels.all()] == [ids["cat"]]
    stats = machine_label_stats(project=project)
    assert stats["spot_checks"] == {"checked": 2, "agreed": 1}
    assert (stats["confirmed"], stats["pending"], stats["corrected"]) == (2, 1, 0)  # the dog
