"""The prediction API on a model the product trained: the answers are right for images
whose class is known, and the probabilities are the pre-labelling's own for the same
image (``worker.ml.inference``'s path), through uploads and through references."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from labeler import resident
from labeler.predictions.models import ModelVersion, Prediction, RunStatus, TrainingRun
from labeler.serving.models import ServedPrediction
from tests.conftest import client_for
from tests.factories import UserFactory
from tests.serving_model import served_logged
from tests.worker.ml_project import CLASSES, FAST_TRAINING, colour_png, ml_project

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

PURE = [(1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0)]
# The colour project's 8 epochs are 16 steps on its 15-odd training images: enough for the
# tests that only need a model, not always enough to answer every clear image right (which
# images train depends on their ids, through the seeded splits). Three times as many steps
# learn the colours whatever the split, in about a second more.
EPOCHS = 3 * FAST_TRAINING["epochs"]


@pytest.fixture(autouse=True)
def fresh_resident():
    """The resident process reads this test's database: one of its own, stopped after."""
    resident.resident_stop()
    yield
    resident.resident_stop()


def test_a_trained_model_predicts_known_classes_as_it_prelabels_them(media_root):
    lead, annotator = UserFactory(username="lead"), UserFactory(username="ann")
    project, unlabelled, _ = ml_project(lead, annotator)
    project.training = {**project.training, "epochs": EPOCHS, "patience": EPOCHS}
    project.save(update_fields=["training"])
    trained = client_for(lead).post(f"/api/v1/projects/{project.pk}/train/", {})
    assert trained.status_code == 202, trained.content
    run = TrainingRun.objects.get(pk=trained.json()["id"])
    assert run.status == RunStatus.SUCCEEDED, run.message
    version = ModelVersion.objects.get(run=run, is_current=True)
    prelabelled = {
        p.image_id: p.probabilities for p in Prediction.objects.filter(model_version=version)
    }
    clear = unlabelled[:-1]  # ml_project's pure colours, class i % 3; the last one is mixed
    assert set(prelabelled) >= {image.pk for image in unlabelled}

    url = f"/api/v1/projects/{project.pk}/predict/"
    uploads = [
        SimpleUploadedFile(f"clear{i}.png", colour_png(PURE[i % 3], 5000 + i))
        for i in range(len(clear))
    ]  # the very bytes ml_project stored for the clear images
    by_upload = client_for(lead).post(url, {"files": uploads}, format="multipart")
    by_reference = client_for(lead).post(
        url, {"images": [image.pk for image in unlabelled]}, format="json"
    )
    assert by_upload.status_code == by_reference.status_code == 200, by_upload.content
    assert by_upload.json()["version"]["id"] == by_reference.json()["version"]["id"] == version.pk

    uploaded, referenced = by_upload.json()["predictions"], by_reference.json()["predictions"]
    served_logged(len(uploaded) + len(referenced), project=project)
    for i in range(len(clear)):
        for answer in (uploaded[i], referenced[i]):
            assert answer["top"][0]["label"] == CLASSES[i % 3], answer
    for answers, images in ((uploaded, clear), (referenced, unlabelled)):
        for answer, image in zip(answers, images, strict=True):
            own = prelabelled[image.pk]
            served = {str(p["label_id"]): p["probability"] for p in answer["probabilities"]}
            assert served.keys() == own.keys()
            for label_id, probability in served.items():
                assert probability == pytest.approx(own[label_id], abs=1e-5)
            logged = ServedPrediction.objects.get(pk=answer["served_id"]).probabilities
            for label_id, probability in logged.items():
                assert probability == pytest.approx(own[label_id], abs=1e-5)
