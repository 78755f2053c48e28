"""Training on photos through the worker: the network it picks and says why, and photos
decoded once, not once an epoch."""

from __future__ import annotations

import pytest
import torch
from django.contrib.auth.models import User
from torchvision import models

from labeler.predictions.models import ModelVersion, RunStatus, TrainingRun
from labeler.projects.models import Project, Role
from tests.conftest import client_for
from tests.factories import ProjectFactory, UserFactory, add_member, annotation_submit
from tests.worker.ml_project import CLASSES, FAST_TRAINING, colour_png, ingest
from worker.ml import data

pytestmark = pytest.mark.slow
PURE = [(1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0)]


def photo_project(training: dict, *, side: int, per_class: int = 6) -> tuple[Project, User]:
    """Labels red/green/blue, ``per_class`` labelled ``side``-pixel images of each colour;
    the project and its lead."""
    lead, annotator = UserFactory(username="lead"), UserFactory(username="ann")
    project = ProjectFactory(
        labels=list(CLASSES), training=training, retrain_after=0, gold_rate=0.0
    )
    add_member(project, lead, Role.LEAD)
    add_member(project, annotator)
    for k, name in enumerate(CLASSES):
        contents = [colour_png(PURE[k], 100 * k + i, size=side) for i in range(per_class)]
        for image in ingest(project, contents, name):
            annotation_submit(
                project=project, annotator=annotator, image_id=image.pk, labels=[name]
            )
    return project, lead


def train(project: Project, lead: User, capture) -> TrainingRun:
    with capture(execute=True):
        response = client_for(lead).post(f"/api/v1/projects/{project.pk}/train/", {})
        assert response.status_code == 202, response.content
    run = TrainingRun.objects.filter(project=project).latest("id")
    assert run.status == RunStatus.SUCCEEDED, run.message
    return run


@pytest.mark.django_db
def test_photos_with_weights_at_hand_fine_tune_a_pretrained_backbone(
    settings, tmp_path, django_capture_on_commit_callbacks
):
    """Architecture auto on photos, with a backbone's weights in LABELER_PRETRAINED_DIR:
    that backbone is fine-tuned from them, and the run and the version say so."""
    torch.manual_seed(0)
    torch.save(
        models.mobilenet_v3_small(weights=None).state_dict(), tmp_path / "mobilenet_v3_small.pth"
    )
    settings.LABELER_PRETRAINED_DIR = str(tmp_path)
    settings.LABELER_DEVICE = "cpu"
    # 32 pixels as set, to keep the test fast; the choice of network is what is tested.
    project, lead = photo_project({**FAST_TRAINING, "image_size": 32, "epochs": 2}, side=160)
    run = train(project, lead, django_capture_on_commit_callbacks)
    assert run.config["architecture"] == "mobilenet_v3_small"
    assert run.config["pretrained"] is True
    assert run.config["batch_norm"] == "frozen"  # batches of 8: the ImageNet statistics stay
    reason = run.config["choice"]["reason"]
    assert "the images are photos (median shorter side 160 px" in reason
    assert "fine-tuned from pretrained weights (mobilenet_v3_small.pth)" in reason
    assert run.config["choice"]["requested"]["architecture"] == "auto"
    assert ModelVersion.objects.get(run=run).architecture == "mobilenet_v3_small"


@pytest.mark.django_db
def test_without_weights_photos_keep_the_small_cnn(settings, django_capture_on_commit_callbacks):
    settings.LABELER_PRETRAINED_DIR = ""
    project, lead = photo_project({**FAST_TRAINING, "epochs": 1}, side=160, per_class=4)
    run = train(project, lead, django_capture_on_commit_callbacks)
    assert run.config["architecture"] == "small-cnn"
    assert "holds no pretrained backbone weights" in run.config["choice"]["reason"]


@pytest.mark.django_db
def test_a_training_at_224_pixels_decodes_each_photo_once(
    settings, monkeypatch, django_capture_on_commit_callbacks
):
    """Each photo is decoded once, before the first epoch, and kept at 224 pixels: a
    second run decodes none; neither decodes again between epochs."""
    decoded: list[str] = []
    decode = data._decode
    monkeypatch.setattr(
        data, "_decode", lambda name, *a, **kw: decoded.append(name) or decode(name, *a, **kw)
    )
    assert settings.LABELER_INPUT_CACHE_MAX_SIZE >= 224
    training = {
        **FAST_TRAINING,
        "architecture": "small-cnn",
        "image_size": 224,
        "epochs": 2,
        "batch_size": 4,
    }
    project, lead = photo_project(training, side=300, per_class=3)
    first = train(project, lead, django_capture_on_commit_callbacks)
    assert first.config["image_size"] == 224
    assert len(decoded) == len(set(decoded)) == project.images.count()
    decoded.clear()
    project.training = {**training, "epochs": 1}
    project.save()
    train(project, lead, django_capture_on_commit_callbacks)
    assert decoded == []
