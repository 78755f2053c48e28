"""The worker's training glue: how a new model is compared with the current one."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from django.core.files.storage import default_storage

from labeler.annotations.models import FinalLabel
from labeler.images.models import Image
from labeler.predictions.models import ModelVersion, Prediction
from tests.conftest import client_for
from tests.factories import UserFactory
from tests.worker.ml_project import ml_project
from worker import model_jobs as jobs
from worker.ml import weights

pytestmark = pytest.mark.slow


@pytest.mark.django_db
def test_the_current_model_is_compared_only_on_images_it_did_not_train_on(
    django_capture_on_commit_callbacks,
):
    """Validation images the current version was trained on are left out of the comparison
    (they would flatter it); on the rest both models are scored."""
    lead, annotator = UserFactory(username="lead"), UserFactory(username="ann")
    project, _, _ = ml_project(lead, annotator)
    with django_capture_on_commit_callbacks(execute=True):
        assert client_for(lead).post(f"/api/v1/projects/{project.pk}/train/", {}).status_code == 202
    first = ModelVersion.objects.get(project=project, version=1)
    trained = weights.load(jobs.weights_path(first.weights), "cpu").trained_on.tolist()
    held = list(first.validation_image_ids)
    finals = FinalLabel.objects.filter(image__project=project)
    assert trained and held and not set(trained) & set(held)
    assert set(trained) | set(held) == set(finals.values_list("image_id", flat=True))

    label_ids = list(project.labels.order_by("position").values_list("pk", flat=True))
    label_of = dict(finals.values_list("image_id", "labels"))
    # A new model's validation set: the current one's, plus two images it trained on.
    val_ids = held + trained[:2]
    y_val = np.array([label_ids.index(label_of[i]) for i in val_ids])
    perfect = jobs._Outputs(np.eye(len(label_ids))[y_val], None, multi_label=False)
    baseline = jobs._baseline(project, val_ids, y_val, perfect, label_ids, torch.device("cpu"))
    assert baseline["version"] == 1 and baseline["seen"] == 2 and baseline["images"] == len(held)
    assert baseline["candidate_accuracy"] == baseline["candidate_macro_f1"] == 1.0
    # On its own validation images the current version scores what it scored when trained.
    assert baseline["accuracy"] == pytest.approx(first.metrics["accuracy"], abs=1 / len(held))
    # A perfect model is alone right wherever the current one is wrong, never the reverse.
    wrong = round((1 - baseline["accuracy"]) * len(held))
    assert (baseline["only_current_right"], baseline["only_candidate_right"]) == (0, wrong)

    only_seen = jobs._baseline(
        project, trained[:3], y_val[:3], perfect, label_ids, torch.device("cpu")
    )
    assert only_seen == {"version": 1, "images": 0, "seen": 3}


@pytest.mark.django_db
def test_training_and_pre_labelling_keep_the_decoded_inputs(
    settings, django_capture_on_commit_callbacks
):
    """Every image a run or a pass decoded is kept at the model's input size; a later pass
    predicts from the kept inputs, even an image whose file has meanwhile gone."""
    lead, annotator = UserFactory(username="lead"), UserFactory(username="ann")
    project, unlabelled, _ = ml_project(lead, annotator)
    with django_capture_on_commit_callbacks(execute=True):
        assert client_for(lead).post(f"/api/v1/projects/{project.pk}/train/", {}).status_code == 202
    version = ModelVersion.objects.get(project=project, is_current=True)
    kept = {path.stem for path in Path(settings.LABELER_INPUT_CACHE_DIR).rglob("*.u8")}
    assert kept == set(Image.objects.filter(project=project).values_list("sha256", flat=True))

    gone = unlabelled[0]
    default_storage.delete(gone.file.name)
    Prediction.objects.filter(model_version=version).delete()
    assert jobs.predict(version.pk, [image.pk for image in unlabelled]) == len(unlabelled)
    assert Prediction.objects.get(model_version=version, image=gone).probabilities


@pytest.mark.django_db
def test_a_training_beats_while_it_decodes_and_between_batches(
    settings, monkeypatch, django_capture_on_commit_callbacks
):
    """The worker's heartbeat is written within epochs, not only after each one."""
    from labeler.predictions import runs
    from labeler.predictions.models import RunStatus, TrainingRun

    settings.LABELER_TRAINING_HEARTBEAT_SECONDS = 0
    beats: list[int] = []
    heartbeat = runs.training_run_heartbeat
    monkeypatch.setattr(
        runs, "training_run_heartbeat", lambda **kw: beats.append(1) or heartbeat(**kw)
    )
    lead, annotator = UserFactory(username="lead"), UserFactory(username="ann")
    project, _, _ = ml_project(lead, annotator)
    with django_capture_on_commit_callbacks(execute=True):
        assert client_for(lead).post(f"/api/v1/projects/{project.pk}/train/", {}).status_code == 202
    run = TrainingRun.objects.get(project=project)
    assert run.status == RunStatus.SUCCEEDED, run.message
    assert len(beats) > run.epoch  # more beats than epochs: within them
