"""REST: send machine labels, list them, review them in bulk, read the stats."""

from __future__ import annotations

import pytest

from labeler.predictions.models import Prediction
from tests.factories import ModelVersionFactory, predict


@pytest.fixture
def images(project, make_images):
    project.machine_check_rate = 0.0
    project.save()
    ids = dict(project.labels.values_list("name", "pk"))
    images = make_images(project, 3)
    model = ModelVersionFactory(project=project)
    for image, p in zip(images, [0.95, 0.9, 0.5], strict=True):
        predict(model, image, {str(ids["cat"]): p, str(ids["dog"]): 1 - p})
    for prediction in Prediction.objects.all():
        prediction.confidence = max(prediction.probabilities.values())
        prediction.save()
    return images


def url(project, tail=""):
    return f"/api/v1/projects/{project.pk}/machine-labels/{tail}"


def test_send_list_review_and_stats(api_as, reviewer, project, images):
    client = api_as(reviewer)
    sent = client.post(url(project, "send/"), {"min_confidence": 0.85}, format="json")
    assert sent.status_code == 200 and sent.json() == {"sent": 2}
    listed = client.get(url(project) + "?status=pending").json()["results"]
    assert [m["image"] for m in listed] == [images[0].pk, images[1].pk]
    assert images[0].sha256 in listed[0]["file_url"]
    assert listed[0]["status"] == "pending" and listed[0]["version"] >= 1
    dog = project.labels.get(name="dog").pk
    review = {"confirm": [images[0].pk], "correct": [{"image": images[1].pk, "labels": [dog]}]}
    response = client.post(url(project, "review/"), review, format="json")
    assert response.status_code == 200, response.content
    assert response.json() == {"confirmed": 1, "corrected": 1, "spot_checked": 0}
    stats = client.get(url(project, "stats/")).json()
    assert stats == {
        "pending": 0,
        "confirmed": 1,
        "corrected": 1,
        "spot_checks": {"checked": 0, "agreed": 0},
    }
    assert client.get(url(project) + f"?label={dog}").json()["results"] == []


@pytest.mark.parametrize(
    "tail, body",
    [
        ("send/", {}),
        ("send/", {"min_confidence": 2}),
        ("send/", {"min_confidence": 0.5, "label": 999999}),
        ("review/", {"confirm": "all"}),
        ("review/", {"confirm": [999999]}),
        ("review/", {"correct": [{"image": 1}]}),
    ],
)
def test_bad_input_is_400(api_as, lead, project, images, tail, body):
    response = api_as(lead).post(url(project, tail), body, format="json")
    assert response.status_code == 400, response.content


def test_unknown_status_filter_is_400(api_as, lead, project, images):
    assert api_as(lead).get(url(project) + "?status=maybe").status_code == 400


def test_annotators_get_403_and_outsiders_404(api_as, annotator, outsider, project, images):
    for tail in ("", "stats/"):
        assert api_as(annotator).get(url(project, tail)).status_code == 403
        assert api_as(outsider).get(url(project, tail)).status_code == 404
    body = {"min_confidence": 0.5}
    assert api_as(annotator).post(url(project, "send/"), body, format="json").status_code == 403
