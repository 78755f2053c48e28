"""A training never trains on its test images, nor do the label check's fold models; the
version is scored on them and keeps its probabilities there."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from labeler.agreement.services import final_labels_refresh
from labeler.predictions.models import LabelCheck, ModelVersion, SplitAssignment
from labeler.predictions.selectors import project_splits, version_test_outputs
from labeler.predictions.splitting import TEST
from tests.conftest import client_for
from tests.factories import UserFactory
from tests.worker.ml_project import FAST_TRAINING, ml_project
from worker import held_out, model_jobs
from worker.ml import cross_fit, weights

pytestmark = [pytest.mark.slow, pytest.mark.django_db]


def rows_of(images: Any) -> set[bytes]:
    """Each image of a uint8 batch, as bytes: the same image gives the same bytes."""
    return {row.numpy().tobytes() for row in images}


def test_no_model_of_a_run_trains_on_its_test_images(
    settings, tmp_path, monkeypatch, django_capture_on_commit_callbacks
):
    """Every fit of the run (the model and the label check's two fold models) is watched:
    none is handed a test image to train or validate on, yet every test image is predicted,
    scored and checked."""
    settings.LABELER_MODEL_DIR = tmp_path / "models"
    lead = UserFactory(username="lead")
    project, _, _ = ml_project(lead, UserFactory(username="ann"))
    project.training = {**FAST_TRAINING, "label_check_folds": 2, "label_check_epochs": 1}
    project.save()
    fitted: list[tuple[set[bytes], set[bytes]]] = []
    tested: list[set[bytes]] = []

    def watched_fit(**kwargs):
        fitted.append((rows_of(kwargs["x_train"]), rows_of(kwargs["x_val"])))
        return real_fit(**kwargs)

    def watched_predict(model, images, *args):
        tested.append(rows_of(images))
        return real_predict(model, images, *args)

    real_fit, real_predict = model_jobs.fit, held_out.predict_tensor
    monkeypatch.setattr(model_jobs, "fit", watched_fit)
    monkeypatch.setattr(cross_fit, "fit", watched_fit)
    monkeypatch.setattr(held_out, "predict_tensor", watched_predict)
    final_labels_refresh(project=project)  # the annotations' final labels, as training does
    planned = project_splits(project)
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(lead).post(f"/api/v1/projects/{project.pk}/train/", {})
    assert response.status_code == 202, response.content

    version = ModelVersion.objects.get(project=project)
    test_ids = set(
        SplitAssignment.objects.filter(project=project, side=TEST).values_list(
            "image_id", flat=True
        )
    )
    assert test_ids == {i for i, part in planned.items() if part == "test"} and len(test_ids) == 3
    assert len(fitted) == 3 and len(tested) == 1 and len(tested[0]) == 3
    for trained, validated in fitted:  # the model's fit, then each fold's
        assert not trained & tested[0] and not validated & tested[0]
    loaded = weights.load(settings.LABELER_MODEL_DIR / version.weights, "cpu")
    assert not set(loaded.trained_on.tolist()) & test_ids
    assert not set(version.validation_image_ids) & test_ids

    outputs = version_test_outputs(version)
    assert outputs is not None and set(outputs.image_ids) == test_ids
    card = version.metrics["test"]
    assert card["images"] == 3 and card["accuracy"]["n"] == 3
    right = (outputs.probabilities.argmax(1) == outputs.y_true).mean()
    assert card["accuracy"]["value"] == pytest.approx(right)
    assert card["macro_f1"]["interval"] is None and "too few" in card["macro_f1"]["reason"]
    # The label check covers the test images with the model's own probabilities.
    checks = {c.image_id: c for c in LabelCheck.objects.filter(project=project)}
    assert test_ids <= set(checks)
    for row, image_id in enumerate(outputs.image_ids):
        stored = [checks[image_id].probabilities[str(label)] for label in outputs.label_ids]
        assert np.allclose(stored, outputs.probabilities[row], atol=1e-6)
    assert version.metrics["label_check"]["test_images"] == 3
