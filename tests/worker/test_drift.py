"""The drift check end to end on generated images: a tiny model is trained on coloured
noise, its test images become the reference (the worker task), and served predictions are
logged through ``worker.ml.anatomy`` as the prediction API logs them. Images drawn like the
test set do not alarm; another class mix, a brightness change and a blur do. The checks
run at the default false-alarm rate, 1% (``drift_false_alarm_rate``)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image as PILImage
from PIL import ImageFilter

from labeler.monitoring import services
from labeler.monitoring.models import DriftCheck, DriftReference
from labeler.predictions.models import ModelVersion
from labeler.predictions.selectors import version_test_outputs
from labeler.serving.models import ServedPrediction
from tests.conftest import client_for
from tests.factories import ProjectFactory, UserFactory, add_member, annotation_submit
from tests.worker.ml_project import CLASSES, FAST_TRAINING, ingest
from worker.ml import weights
from worker.ml.anatomy import probabilities_and_embeddings
from worker.ml.data import images_from_pil

pytestmark = [pytest.mark.slow, pytest.mark.django_db]

PURE = [(1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0)]
SERVED = 200  # predictions logged per scenario
# Labelled images per colour; half are the test set, the drift reference. With 30 (a
# reference of 45) a blur's shift in confidence came out at p = 0.009 after one training on
# PostgreSQL, short of the line: the reference's size bounds the tests' power.
PER_CLASS = 60
REFERENCE = 3 * PER_CLASS // 2


def colour_picture(k: int, seed: int, *, brightness: float = 1.0, blur: float = 0.0):
    """A noisy 12-pixel image of class ``k``'s colour; ``brightness`` scales its pixels,
    ``blur`` is a Gaussian blur's radius."""
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 60, (12, 12, 3)) + (np.array(PURE[k]) * 180).astype(int)
    picture = PILImage.fromarray((pixels * brightness).clip(0, 255).astype(np.uint8))
    return picture.filter(ImageFilter.GaussianBlur(blur)) if blur else picture


def colour_png(k: int, seed: int) -> bytes:
    """``colour_picture`` as a PNG file, for an upload."""
    buffer = io.BytesIO()
    colour_picture(k, seed).save(buffer, format="PNG")
    return buffer.getvalue()


def trained_project(settings, tmp_path, django_capture_on_commit_callbacks):
    """Three colours, 60 labelled images each, half of them held out as the test set; a
    model trained and promoted through the API. Returns (project, lead, version)."""
    settings.LABELER_MODEL_DIR = tmp_path / "models"
    lead, annotator = UserFactory(username="lead"), UserFactory(username="ann")
    # At the pictures' own 12 pixels the model sees the noise a blur takes away; shrunk to
    # FAST_TRAINING's 8 it barely did, and the blur's shift in confidence ranged from
    # p = 6e-5 to p = 0.006 (short of Holm's 0.0033) with the test split, which follows the
    # database's ids. At 12 it is below 1e-5 on every split tried.
    training = {**FAST_TRAINING, "validation_share": 0.3, "image_size": 12}
    project = ProjectFactory(
        name="Colours", labels=list(CLASSES), training=training, retrain_after=0, gold_rate=0.0
    )
    project.test_share, project.drift_minimum_count = 0.5, 50
    project.save()
    add_member(project, lead, "lead")
    add_member(project, annotator)
    for k, name in enumerate(CLASSES):
        for image in ingest(project, [colour_png(k, 1000 * k + i) for i in range(PER_CLASS)], name):
            annotation_submit(
                project=project, annotator=annotator, image_id=image.pk, labels=[name]
            )
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(lead).post(f"/api/v1/projects/{project.pk}/train/", {})
    assert response.status_code == 202, response.content
    version = ModelVersion.objects.get(project=project)
    assert version.is_current
    return project, lead, version


def serve(project, version, loaded, pictures: list) -> None:
    """Log each image's prediction as the prediction API does: top label, probabilities and
    the penultimate-layer embedding as float16 bytes (the window holds these alone)."""
    ServedPrediction.objects.filter(project=project).delete()
    size = loaded.meta["image_size"]
    images = images_from_pil(pictures, image_size=size, grayscale=False)
    probabilities, embeddings = probabilities_and_embeddings(loaded, images)
    label_ids = loaded.meta["label_ids"]
    ServedPrediction.objects.bulk_create(
        ServedPrediction(
            project=project,
            model_version=version,
            image_sha256=f"{i:064x}",
            top_label_id=label_ids[int(p.argmax())],
            probability=float(p.max()),
            probabilities={str(label): float(q) for label, q in zip(label_ids, p, strict=True)},
            embedding=e.astype("<f2").tobytes(),
        )
        for i, (p, e) in enumerate(zip(probabilities, embeddings, strict=True))
    )


def like_the_test_set(seed: int, **change: float) -> list:
    """``SERVED`` images of the three colours in equal shares, seeds never trained on."""
    return [colour_picture(i % 3, seed + i, **change) for i in range(SERVED)]


def test_drift_check_alarms_on_planted_shifts_only(
    settings, tmp_path, django_capture_on_commit_callbacks
):
    project, lead, version = trained_project(settings, tmp_path, django_capture_on_commit_callbacks)
    loaded = weights.load(settings.LABELER_MODEL_DIR / version.weights, "cpu")
    client = client_for(lead)
    url = f"/api/v1/projects/{project.pk}/drift/checks/"

    # Drawn like the test set. The first check computes the reference (the worker's task,
    # in a child process on the embedded default; here at once), then runs.
    serve(project, version, loaded, like_the_test_set(10_000))
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url)
    assert response.status_code == 202, response.content
    reference = DriftReference.objects.get(model_version=version)
    tested = version_test_outputs(version)
    assert tested is not None and sorted(reference.image_ids) == sorted(tested.image_ids)
    assert len(reference.image_ids) == REFERENCE and reference.dimension > 0
    [check] = DriftCheck.objects.filter(project=project)
    assert not check.alarm, check.reason
    assert check.n_recent == SERVED and check.n_reference == REFERENCE
    assert check.false_alarm_rate == 0.01

    scenarios = {
        "class mix": [colour_picture(0 if i % 5 else 1, 20_000 + i) for i in range(SERVED)],
        "brightness": like_the_test_set(30_000, brightness=0.6),
        "blur": like_the_test_set(40_000, blur=6.0),
    }
    for name, contents in scenarios.items():
        serve(project, version, loaded, contents)
        response = client.post(url)
        assert response.status_code == 201, (name, response.content)
        assert response.json()["alarm"], (name, response.json()["tests"])
        assert not response.json()["reason"].startswith("No drift"), name

    listed = client.get(url).json()["results"]
    assert [c["alarm"] for c in listed] == [True, True, True, False]
    mix = listed[2]
    assert "labels" in mix["rejected"], mix


def test_a_check_with_too_few_served_predictions_says_how_many(
    settings, tmp_path, django_capture_on_commit_callbacks
):
    project, lead, version = trained_project(settings, tmp_path, django_capture_on_commit_callbacks)
    loaded = weights.load(settings.LABELER_MODEL_DIR / version.weights, "cpu")
    services.drift_reference_store(
        model_version_id=version.pk,
        image_ids=[1, 2, 3],
        probabilities=np.eye(3),
        embeddings=np.ones((3, 4)),
        label_ids=list(loaded.meta["label_ids"]),
    )
    serve(project, version, loaded, like_the_test_set(50_000)[:10])
    response = client_for(lead).post(f"/api/v1/projects/{project.pk}/drift/checks/")
    assert response.status_code == 409
    assert "Only 10 predictions served" in response.json()["detail"]
