"""Heat maps in the prediction API (``explain=true``) over real HTTP (the test client),
with the embedded default: no broker, the model run by the resident child process."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image as PILImage
from rest_framework.test import APIClient

from labeler import resident
from labeler.projects.models import Label, Role
from labeler.serving.models import PredictionJob, ServedPrediction
from labeler.serving.tokens import predict_token_issue
from tests.conftest import client_for
from tests.factories import ProjectFactory, add_member, image_bytes
from tests.serving_model import served_logged, served_version
from tests.worker.ml.test_explain import QUADRANTS, placed_quadrant_images
from tests.worker.ml.versions import fitted_version
from worker.ml.explain import overlay

pytestmark = pytest.mark.django_db(transaction=True)

SIZE = 64  # the quadrant model's input side


@pytest.fixture(autouse=True)
def model_dir(settings, tmp_path) -> Path:
    settings.LABELER_MODEL_DIR = tmp_path / "models"
    return settings.LABELER_MODEL_DIR


@pytest.fixture(autouse=True, scope="module")
def resident_stopped():
    """This module's tests start with a fresh resident process, and leave none behind."""
    resident.resident_stop()
    yield
    resident.resident_stop()


@pytest.fixture
def world(lead, annotator):
    project = ProjectFactory(name="Colours", labels=["red", "green", "blue"])
    add_member(project, lead, Role.LEAD)
    add_member(project, annotator)
    return project


def predict_url(project) -> str:
    return f"/api/v1/projects/{project.pk}/predict/"


def upload(name: str, size: tuple[int, int], seed: int) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, image_bytes(size=size, seed=seed), "image/png")


def decoded_overlay(explanation: dict) -> PILImage.Image:
    prefix = "data:image/png;base64,"
    assert explanation["overlay"].startswith(prefix)
    image = PILImage.open(io.BytesIO(base64.b64decode(explanation["overlay"][len(prefix) :])))
    assert image.format == "PNG"
    image.load()
    return image


@pytest.mark.slow
def test_explain_answers_each_images_top_label_map_over_it_at_a_bounded_size(world, lead):
    """A wide photo larger than the display bound comes back at 512 x 256, a small tall one
    at its own size; each map is of the answer's top label, with its probability."""
    served_version(world)
    issued = predict_token_issue(project=world, name="line", created_by=lead)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {issued.key}")
    files = [upload("wide.png", (1024, 512), 1), upload("tall.png", (40, 60), 2)]
    response = client.post(
        predict_url(world), {"files": files, "explain": "true"}, format="multipart"
    )
    assert response.status_code == 200, response.content
    sizes = {"wide.png": (512, 256), "tall.png": (40, 60)}
    for answer in response.json()["predictions"]:
        explanation = answer["explanation"]
        top = answer["top"][0]
        assert (explanation["label_id"], explanation["label"]) == (top["label_id"], top["label"])
        assert explanation["probability"] == top["probability"]
        assert explanation["duration_ms"] > 0
        image = decoded_overlay(explanation)
        assert image.size == sizes[answer["name"]] == (explanation["width"], explanation["height"])
        assert image.mode == "RGB"
    assert served_logged(2, project=world).count() == 2


def test_explain_label_names_the_label_explained_for_stored_images_too(world, lead, make_images):
    served_version(world)
    [image] = make_images(world, 1)
    blue = world.labels.get(name="blue")
    response = client_for(lead).post(
        predict_url(world),
        {"images": [image.pk], "explain": True, "explain_label": blue.pk},
        format="json",
    )
    assert response.status_code == 200, response.content
    [answer] = response.json()["predictions"]
    explanation = answer["explanation"]
    assert (explanation["label_id"], explanation["label"]) == (blue.pk, "blue")
    by_label = {p["label_id"]: p["probability"] for p in answer["probabilities"]}
    assert explanation["probability"] == by_label[blue.pk]
    assert decoded_overlay(explanation).size == (32, 24)  # the factory's image, as it is


@pytest.mark.slow
def test_without_explain_the_answer_has_no_map(world, lead):
    served_version(world)
    response = client_for(lead).post(
        predict_url(world), {"files": [upload("a.png", (32, 24), 3)]}, format="multipart"
    )
    assert response.status_code == 200, response.content
    assert "explanation" not in response.json()["predictions"][0]


@pytest.mark.slow
@pytest.mark.parametrize(
    "case",
    ["not a flag", "label not a number", "label past an id", "unknown label",
     "another project's label",
     "label without explain", "label added since training", "too many for at once"],
)  # fmt: skip
def test_bad_explain_requests_are_refused_with_a_400_naming_what_is_wrong(
    world, lead, settings, case
):
    """Nothing is predicted or logged, no job started, for a refused request."""
    settings.LABELER_PREDICT_SYNC_MAX = 2
    served_version(world)
    red = world.labels.get(name="red")
    data: dict = {"files": [upload("a.png", (32, 24), 4)], "explain": "true"}
    if case == "not a flag":
        data["explain"] = "maybe"
    elif case == "label not a number":
        data["explain_label"] = "red"
    elif case == "label past an id":
        data["explain_label"] = str(2**70)
    elif case == "unknown label":
        data["explain_label"] = 987654
    elif case == "another project's label":
        other = ProjectFactory(name="Other", labels=["x"])
        data["explain_label"] = other.labels.get().pk
    elif case == "label without explain":
        data = {"files": data["files"], "explain_label": red.pk}
    elif case == "label added since training":
        data["explain_label"] = Label.objects.create(project=world, name="purple", position=9).pk
    elif case == "too many for at once":
        data["files"] = [upload(f"{n}.png", (32, 24), n) for n in range(3)]
    response = client_for(lead).post(predict_url(world), data, format="multipart")
    assert response.status_code == 400, (case, response.content)
    expected = {
        "not a flag": "explain: true or false",
        "label not a number": "explain_label: the id of one of the project's labels",
        "label past an id": "explain_label: the id of one of the project's labels",
        "unknown label": "987654 is not a label of this project",
        "another project's label": "is not a label of this project",
        "label without explain": "explain_label: only with explain=true",
        "label added since training": "was trained without label",
        "too many for at once": "up to 2 images a request",
    }[case]
    assert expected in response.json()["detail"], response.json()
    assert not ServedPrediction.objects.exists() and not PredictionJob.objects.exists()


def test_annotators_get_no_maps(world, annotator):
    served_version(world)
    response = client_for(annotator).post(
        predict_url(world),
        {"files": [upload("a.png", (32, 24), 5)], "explain": "true"},
        format="multipart",
    )
    assert response.status_code == 403


def heat_recovered(base: np.ndarray, drawn: np.ndarray) -> np.ndarray:
    """The map an overlay was drawn from: per pixel, the heat whose overlay of ``base``
    comes closest to ``drawn`` (the overlay's colours are a one-to-one ramp)."""
    levels = np.linspace(0.0, 1.0, 256, dtype=np.float32)
    errors = [
        np.abs(overlay(base, np.full(base.shape[:2], level)).astype(int) - drawn).sum(axis=2)
        for level in levels
    ]
    return levels[np.argmin(np.stack(errors), axis=0)]


@pytest.mark.slow
def test_a_trained_models_map_lies_on_the_quadrant_that_makes_the_class(lead):
    """A small CNN trained on noise images whose class is one quadrant lit in the class's
    colour channel, placed at random: the map recovered from each overlay PNG is hottest
    on the lit quadrant, which holds well over a quarter of its mass (as
    ``tests/worker/ml/test_explain.py`` finds for the map itself)."""
    project = ProjectFactory(name="Quadrants", labels=["red", "green", "blue"])
    add_member(project, lead, Role.LEAD)
    x_train, y_train, _ = placed_quadrant_images(160, seed=1, size=SIZE)
    fitted_version(project, x_train.numpy(), y_train, image_size=SIZE)
    x_test, y_test, places = placed_quadrant_images(6, seed=3, size=SIZE)
    bases = [np.ascontiguousarray(x.permute(1, 2, 0).numpy()) for x in x_test]
    files = []
    for n, base in enumerate(bases):
        buffer = io.BytesIO()
        PILImage.fromarray(base).save(buffer, format="PNG")
        files.append(SimpleUploadedFile(f"q{n}.png", buffer.getvalue(), "image/png"))
    response = client_for(lead).post(
        predict_url(project), {"files": files, "explain": "true"}, format="multipart"
    )
    assert response.status_code == 200, response.content
    label_ids = list(project.labels.order_by("pk").values_list("pk", flat=True))
    half = SIZE // 2
    for answer, base, label, place in zip(
        response.json()["predictions"], bases, y_test, places, strict=True
    ):
        assert answer["explanation"]["label_id"] == label_ids[label]
        drawn = np.asarray(decoded_overlay(answer["explanation"])).astype(int)
        heat = heat_recovered(base, drawn)
        quarters = [
            heat[r * half : (r + 1) * half, c * half : (c + 1) * half].sum() for r, c in QUADRANTS
        ]
        assert int(np.argmax(quarters)) == place
        assert quarters[place] / heat.sum() > 0.35, quarters
