"""REST: a model version's predictions and one image's predictions across versions."""

from __future__ import annotations

import pytest

from tests.factories import ModelVersionFactory, predict


@pytest.fixture
def setup(project, make_images):
    ids = dict(project.labels.values_list("name", "pk"))
    a, b = make_images(project, 2)
    old = ModelVersionFactory(project=project, version=1, is_current=False)
    new = ModelVersionFactory(project=project, version=2)
    predict(old, a, {str(ids["dog"]): 0.7, str(ids["cat"]): 0.3})
    predict(new, a, {str(ids["cat"]): 0.8, str(ids["dog"]): 0.2})
    predict(new, b, {str(ids["bird"]): 0.6, str(ids["cat"]): 0.4})
    return ids, a, b, old, new


def test_the_current_models_predictions_by_default(api_as, lead, project, setup):
    ids, a, b, _, new = setup
    body = api_as(lead).get(f"/api/v1/projects/{project.pk}/predictions/").json()
    results = body["results"]
    assert [(r["image"], r["labels"], r["version"]) for r in results] == [
        (a.pk, [ids["cat"]], 2),
        (b.pk, [ids["bird"]], 2),
    ]
    assert results[0]["model_version"] == new.pk and "next" in body


def test_filter_by_version_and_image(api_as, lead, project, setup):
    ids, a, _, old, _ = setup
    url = f"/api/v1/projects/{project.pk}/predictions/?model_version={old.pk}&image={a.pk}"
    [only] = api_as(lead).get(url).json()["results"]
    assert only["labels"] == [ids["dog"]] and only["version"] == 1


@pytest.mark.parametrize("query", ["model_version=abc", "image=-1", "model_version=999999"])
def test_bad_filters_are_400(api_as, lead, project, setup, query):
    response = api_as(lead).get(f"/api/v1/projects/{project.pk}/predictions/?{query}")
    assert response.status_code == 400


def test_every_version_of_one_image_newest_first(api_as, lead, project, setup):
    _, a, _, _, _ = setup
    body = api_as(lead).get(f"/api/v1/projects/{project.pk}/images/{a.pk}/predictions/").json()
    assert [r["version"] for r in body] == [2, 1]
    other_image = f"/api/v1/projects/{project.pk}/images/999999/predictions/"
    assert api_as(lead).get(other_image).status_code == 404


def test_annotators_and_outsiders_are_refused(api_as, annotator, outsider, project, setup):
    url = f"/api/v1/projects/{project.pk}/predictions/"
    assert api_as(annotator).get(url).status_code == 403
    assert api_as(outsider).get(url).status_code == 404
