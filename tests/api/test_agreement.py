"""GET /agreement/ and /consensus/: figures that match the references, for overseers only."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score, confusion_matrix
from statsmodels.stats.inter_rater import cohens_kappa

from labeler.projects.models import Role
from tests.conftest import client_for
from tests.factories import ProjectFactory, UserFactory, add_member, annotation_submit

pytestmark = pytest.mark.django_db


@pytest.fixture
def rated(project, make_images):
    """Three annotators label 30 images, one of them often wrongly."""
    project.overlap = 3
    project.save()
    users = [UserFactory() for _ in range(3)]
    for user in users:
        add_member(project, user)
    images = make_images(project, 30)
    rng = np.random.default_rng(5)
    names = ["cat", "dog", "bird"]
    truth = rng.integers(0, 3, len(images))
    given = {}
    for column, user in enumerate(users):
        noisy = np.where(
            rng.random(len(images)) < 0.2 * column, rng.integers(0, 3, len(images)), truth
        )
        given[user.pk] = noisy
        for image, choice in zip(images, noisy, strict=True):
            annotation_submit(
                project=project, annotator=user, image_id=image.pk, labels=[names[choice]]
            )
    return given


def test_pairs_match_scikit_learn(project, lead, rated):
    """Each pair's kappa equals cohen_kappa_score on the same images, at full precision,
    and its interval is statsmodels' asymptotic one on the pair's contingency table."""
    body = client_for(lead).get(f"/api/v1/projects/{project.pk}/agreement/").json()
    pairs = body["cohen_kappa"]["pairs"]
    assert len(pairs) == 3
    for pair in pairs:
        a, b = pair["annotators"]
        expected = cohen_kappa_score(rated[a], rated[b])
        assert pair["value"] == pytest.approx(expected, abs=1e-12)
        assert pair["n_items"] == 30
        asymptotic = cohens_kappa(confusion_matrix(rated[a], rated[b], labels=[0, 1, 2]))
        assert pair["ci_low"] == pytest.approx(max(-1.0, asymptotic.kappa_low), abs=1e-9)
        assert pair["ci_high"] == pytest.approx(min(1.0, asymptotic.kappa_upp), abs=1e-9)
    mean = np.mean(
        [cohen_kappa_score(rated[p["annotators"][0]], rated[p["annotators"][1]]) for p in pairs]
    )
    assert body["cohen_kappa"]["mean"]["value"] == pytest.approx(mean, abs=1e-12)
    assert body["fleiss_kappa"]["value"] is not None and body["fleiss_kappa"]["band"]
    assert (
        body["fleiss_kappa"]["ci_low"]
        <= body["fleiss_kappa"]["value"]
        <= body["fleiss_kappa"]["ci_high"]
    )
    assert {row["annotator"] for row in body["per_annotator"]} == set(rated)
    assert body["n_images"] == 30 and body["n_annotations"] == 90


def test_undefined_figures_are_null_with_a_reason(project, lead, annotator, make_images):
    """One annotator only: no pair, kappa null with a reason, no crash."""
    (image,) = make_images(project, 1)
    annotation_submit(project=project, annotator=annotator, image_id=image.pk, labels=["cat"])
    body = client_for(lead).get(f"/api/v1/projects/{project.pk}/agreement/").json()
    assert body["fleiss_kappa"]["value"] is None and body["fleiss_kappa"]["reason"]
    assert body["cohen_kappa"]["pairs"] == []
    assert body["cohen_kappa"]["mean"]["value"] is None


def test_consensus_by_method(project, lead, rated):
    """Both methods answer for every image; a bad method is a 400."""
    url = f"/api/v1/projects/{project.pk}/consensus/"
    for method in ("majority", "dawid_skene"):
        body = client_for(lead).get(url, {"method": method}).json()
        assert body["method"] == method and body["count"] == 30
        assert all(row["method"] == method for row in body["results"])
    response = client_for(lead).get(url, {"method": "mean"})
    assert response.status_code == 400 and response.json()["code"] == "invalid"


def test_annotators_may_not_see_agreement(project, annotator, outsider):
    """Agreement names annotators: annotators get 403, strangers 404."""
    for path in ("agreement", "consensus"):
        url = f"/api/v1/projects/{project.pk}/{path}/"
        assert client_for(annotator).get(url).status_code == 403
        assert client_for(outsider).get(url).status_code == 404


def test_multi_label_projects_report_each_label_and_jaccard(lead, make_images):
    """Multi-label: each label as a yes/no question, plus the mean Jaccard of the label sets."""
    project = ProjectFactory(multi_label=True, overlap=2)
    add_member(project, lead, Role.LEAD)
    one, two = UserFactory(), UserFactory()
    for user in (one, two):
        add_member(project, user)
    first, second = make_images(project, 2)
    annotation_submit(project=project, annotator=one, image_id=first.pk, labels=["cat", "dog"])
    annotation_submit(project=project, annotator=two, image_id=first.pk, labels=["cat"])
    annotation_submit(project=project, annotator=one, image_id=second.pk, labels=["bird"])
    annotation_submit(project=project, annotator=two, image_id=second.pk, labels=["bird"])
    body = client_for(lead).get(f"/api/v1/projects/{project.pk}/agreement/").json()
    assert body["multi_label"] is True
    assert body["jaccard"]["value"] == pytest.approx((0.5 + 1.0) / 2)
    assert body["jaccard"]["band"] is None
    assert len(body["per_label"]) == 3


def test_over_time_points_per_day_or_week_on_request(project, lead, rated):
    """?bucket=week overrides the default days; each bucket is cached on its own."""
    url = f"/api/v1/projects/{project.pk}/agreement/"
    by_default = client_for(lead).get(url).json()["over_time"]
    assert by_default["bucket"] == "day"  # every label was given today
    (point,) = by_default["points"]
    assert point["n_images"] == 30 and point["n_annotations"] == 90
    assert {row["annotator"] for row in point["per_annotator"]} == set(rated)
    by_week = client_for(lead).get(url, {"bucket": "week"}).json()["over_time"]
    assert by_week["bucket"] == "week"
    assert dt.date.fromisoformat(by_week["points"][0]["start"]).weekday() == 0
    assert client_for(lead).get(url, {"bucket": "day"}).json()["over_time"]["bucket"] == "day"


def test_an_unknown_bucket_is_a_400_that_names_the_choices(project, lead):
    """?bucket=month is refused with the values that work."""
    response = client_for(lead).get(f"/api/v1/projects/{project.pk}/agreement/?bucket=month")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert "day" in str(body) and "week" in str(body)
