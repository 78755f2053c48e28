"""REST: train, training runs, model versions, promotion and pre-label, with permissions."""

from __future__ import annotations

import numpy as np
import pytest
from django.utils import timezone

from labeler.annotations.models import FinalLabel, FinalLabelMethod
from labeler.predictions import runs
from labeler.predictions.comparison import paired_comparison
from labeler.predictions.models import RunStatus, TrainingRun
from labeler.predictions.scorecard import scorecard
from tests.factories import ModelVersionFactory, ProjectFactory


@pytest.fixture
def labelled(project, make_images):
    for image, name in zip(make_images(project, 4), ["cat", "cat", "dog", "dog"], strict=True):
        final = FinalLabel.objects.create(image=image, method=FinalLabelMethod.ADJUDICATED)
        final.labels.set([project.labels.get(name=name)])


def train(api_as, user, project, body=None):
    return api_as(user).post(f"/api/v1/projects/{project.pk}/train/", body or {}, format="json")


def test_a_lead_starts_a_run(api_as, lead, project, labelled):
    response = train(api_as, lead, project, {"config": {"epochs": 2}})
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["status"] == "queued" and body["requested_by"] == "lead"
    assert body["config"]["epochs"] == 2 and body["epochs"] == 2
    assert body["model_version"] is None and body["history"] == []


def test_a_second_run_while_one_is_active_is_409_naming_it(api_as, lead, project, labelled):
    first = train(api_as, lead, project).json()
    response = train(api_as, lead, project)
    assert response.status_code == 409
    assert response.json()["run"] == first["id"]


@pytest.mark.parametrize(
    "body, needle",
    [
        ({"config": {"epochs": 0}}, "epochs"),
        ({"config": {"colour": 1}}, "colour"),
        ({"config": "fast"}, "config"),
        ({"config": {"augment": {"hflip": "maybe"}}}, "hflip"),
    ],
)
def test_bad_config_is_400(api_as, lead, project, labelled, body, needle):
    response = train(api_as, lead, project, body)
    assert response.status_code == 400
    assert needle in response.json()["detail"]


def test_too_few_final_labels_is_400_saying_so(api_as, lead, project):
    response = train(api_as, lead, project)
    assert response.status_code == 400
    assert "Too few final labels" in response.json()["detail"]


@pytest.mark.parametrize("who", ["annotator", "reviewer"])
def test_only_leads_train(api_as, request, project, labelled, who):
    assert train(api_as, request.getfixturevalue(who), project).status_code == 403


def test_outsiders_get_404(api_as, outsider, project, labelled, lead):
    run = train(api_as, lead, project).json()
    client = api_as(outsider)
    assert train(api_as, outsider, project).status_code == 404
    assert client.get(f"/api/v1/training-runs/{run['id']}/").status_code == 404
    assert client.get(f"/api/v1/projects/{project.pk}/training-runs/").status_code == 404


def test_runs_are_listed_newest_first_and_readable_by_reviewers(
    api_as, lead, reviewer, annotator, project, labelled
):
    first = train(api_as, lead, project).json()
    runs.training_run_cancel(run=TrainingRun.objects.get(pk=first["id"]))
    second = train(api_as, lead, project).json()
    listed = api_as(reviewer).get(f"/api/v1/projects/{project.pk}/training-runs/").json()
    assert [run["id"] for run in listed] == [second["id"], first["id"]]
    detail = api_as(reviewer).get(f"/api/v1/training-runs/{second['id']}/")
    assert detail.status_code == 200
    assert api_as(annotator).get(f"/api/v1/training-runs/{second['id']}/").status_code == 403


def test_cancel(api_as, lead, reviewer, project, labelled):
    run = train(api_as, lead, project).json()
    url = f"/api/v1/training-runs/{run['id']}/cancel/"
    assert api_as(reviewer).post(url).status_code == 403
    response = api_as(lead).post(url)
    assert response.status_code == 200 and response.json()["status"] == RunStatus.CANCELLED
    assert api_as(lead).post(url).status_code == 409
    assert api_as(lead).post("/api/v1/training-runs/999999/cancel/").status_code == 404


def test_model_versions_list_detail_and_promote(
    api_as, lead, reviewer, project, django_capture_on_commit_callbacks
):
    cat = project.labels.get(name="cat")
    metrics = {
        "accuracy": 0.9,
        "macro_f1": 0.8,
        "ece": 0.05,
        "loss": 0.3,
        "images": 10,
        "per_label": [{"label": cat.pk, "precision": 1, "recall": 1, "f1": 1, "support": 5}],
        "confusion": {"labels": [cat.pk], "matrix": [[5]]},
    }
    old = ModelVersionFactory(project=project, version=1)
    new = ModelVersionFactory(project=project, version=2, is_current=False, metrics=metrics)
    listed = api_as(reviewer).get(f"/api/v1/projects/{project.pk}/model-versions/").json()
    assert [v["version"] for v in listed] == [2, 1]
    detail = api_as(reviewer).get(f"/api/v1/model-versions/{new.pk}/").json()
    assert detail["metrics"]["per_label"][0]["name"] == "cat"
    assert detail["metrics"]["baseline"] is None
    assert detail["prelabel"] == {"total": 0, "done": 0, "finished_at": None}
    url = f"/api/v1/model-versions/{new.pk}/promote/"
    assert api_as(reviewer).post(url).status_code == 403
    with django_capture_on_commit_callbacks(execute=True):
        response = api_as(lead).post(url, {"note": "by hand"}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["is_current"] and body["promoted_by"] == "lead"
    assert body["promotion_note"] == "by hand"
    old.refresh_from_db()
    assert not old.is_current


def test_listing_versions_counts_only_a_pass_in_progress(
    api_as, lead, project, django_assert_num_queries, django_assert_max_num_queries
):
    """Finished pre-label passes report their total without a count: the list's queries
    do not grow with the number of versions."""
    url = f"/api/v1/projects/{project.pk}/model-versions/"
    finished = {"prelabel_total": 7, "prelabel_started_at": timezone.now()}
    ModelVersionFactory(project=project, version=1, **finished, prelabel_done_at=timezone.now())
    api_as(lead).get(url)  # warm caches (session, content types)
    with django_assert_max_num_queries(50) as one:
        api_as(lead).get(url)
    for version in (2, 3, 4):
        ModelVersionFactory(
            project=project,
            version=version,
            is_current=False,
            **finished,
            prelabel_done_at=timezone.now(),
        )
    with django_assert_num_queries(len(one.captured_queries)):
        listed = api_as(lead).get(url).json()
    assert [v["prelabel"]["done"] for v in listed] == [7, 7, 7, 7]


def test_another_projects_version_is_404(api_as, lead):
    other = ModelVersionFactory(project=ProjectFactory(name="Other"))
    assert api_as(lead).get(f"/api/v1/model-versions/{other.pk}/").status_code == 404
    assert api_as(lead).post(f"/api/v1/model-versions/{other.pk}/promote/").status_code == 404


def test_prelabel_needs_a_current_model(api_as, lead, project):
    url = f"/api/v1/projects/{project.pk}/prelabel/"
    assert api_as(lead).post(url).status_code == 409
    model = ModelVersionFactory(project=project)
    response = api_as(lead).post(url)
    assert response.status_code == 202 and response.json()["id"] == model.pk


def test_project_settings_carry_the_model_fields(api_as, lead, project):
    url = f"/api/v1/projects/{project.pk}/"
    changes = {
        "active_learning": "entropy",
        "active_learning_random_share": 0.2,
        "retrain_after": 0,
        "training": {"architecture": "resnet18", "epochs": 5},
        "machine_check_rate": 0.3,
    }
    response = api_as(lead).patch(url, changes, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert {key: body[key] for key in changes} == changes
    bad = api_as(lead).patch(url, {"training": {"epochs": "many"}}, format="json")
    assert bad.status_code == 400 and "epochs" in bad.json()["detail"]
    bad = api_as(lead).patch(url, {"active_learning": "vibes"}, format="json")
    assert bad.status_code == 400


def test_a_version_carries_its_test_figures_named_and_its_comparison(api_as, reviewer, project):
    """The test scorecard comes with each label's name; the baseline says the verdict."""
    cat, dog = project.labels.get(name="cat"), project.labels.get(name="dog")
    y = np.array([0, 1] * 15)
    probabilities = np.eye(2)[y] * 0.7 + 0.15
    card = scorecard(
        y_true=y, probabilities=probabilities, label_ids=[cat.pk, dog.pk], multi_label=False
    )
    paired = paired_comparison(
        y_true=y,
        current=(probabilities[::-1], None),
        candidate=(probabilities, None),
        multi_label=False,
    )
    baseline = {"version": 1, "images": 30, "seen": 0, "split": "test", **paired}
    version = ModelVersionFactory(project=project, metrics={"test": card, "baseline": baseline})
    body = api_as(reviewer).get(f"/api/v1/model-versions/{version.pk}/").json()
    test = body["metrics"]["test"]
    assert [row["name"] for row in test["per_label"]] == ["cat", "dog"]
    assert test["accuracy"] == {"value": 1.0, "interval": card["accuracy"]["interval"],
                                "n": 30, "reason": None}  # fmt: skip
    assert body["metrics"]["baseline"]["verdict"] == "better"
    old = ModelVersionFactory(project=project, is_current=False, metrics={"accuracy": 0.9})
    assert (
        api_as(reviewer).get(f"/api/v1/model-versions/{old.pk}/").json()["metrics"]["test"] is None
    )
