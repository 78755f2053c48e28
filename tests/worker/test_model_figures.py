"""A training stores how sure its figures are and which epoch's weights it kept; a
retraining on the same labels that changes nothing says so and promotes nothing."""

from __future__ import annotations

import pytest

from labeler.predictions.models import ModelVersion
from tests.conftest import client_for
from tests.factories import UserFactory
from tests.worker.ml_project import ml_project

pytestmark = [pytest.mark.slow, pytest.mark.django_db]


def train(project, lead, capture) -> ModelVersion:
    with capture(execute=True):
        response = client_for(lead).post(f"/api/v1/projects/{project.pk}/train/", {})
        assert response.status_code == 202, response.content
    return ModelVersion.objects.filter(project=project).order_by("-version").first()


def test_intervals_the_kept_epoch_and_nothing_changed(django_capture_on_commit_callbacks):
    lead, annotator = UserFactory(username="lead"), UserFactory(username="ann")
    project, _, _ = ml_project(lead, annotator)
    first = train(project, lead, django_capture_on_commit_callbacks)
    metrics = first.metrics
    low, high = metrics["accuracy_ci"]
    assert low <= metrics["accuracy"] <= high
    low, high = metrics["macro_f1_ci"]
    assert low <= metrics["macro_f1"] <= high
    # Few validation images: every epoch runs and the last one's weights are kept, which is
    # the epoch the learning curve marks, whatever epoch had the lowest validation loss.
    history = first.run.history
    assert metrics["images"] < 100
    assert metrics["kept_epoch"] == history[-1]["epoch"] == len(history)

    second = train(project, lead, django_capture_on_commit_callbacks)
    assert second.version == 2
    baseline = second.metrics["baseline"]
    if baseline["only_current_right"] or baseline["only_candidate_right"]:
        pytest.skip("this machine's training is not bit-for-bit repeatable")
    assert second.promotion_note.startswith("Nothing changed: no new labels since v1")
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.is_current and not second.is_current
