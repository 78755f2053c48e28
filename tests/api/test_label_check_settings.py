"""The label check's training settings: bad values are 400s naming the setting."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize(
    "training, needle",
    [
        ({"label_check_folds": 1}, "label_check_folds"),
        ({"label_check_folds": -1}, "label_check_folds"),
        ({"label_check_folds": 21}, "label_check_folds"),
        ({"label_check_folds": "5"}, "label_check_folds"),
        ({"label_check_folds": True}, "label_check_folds"),
        ({"label_check_epochs": 0}, "label_check_epochs"),
        ({"label_check_epochs": "few"}, "label_check_epochs"),
    ],
)
def test_bad_label_check_settings_are_400(api_as, lead, project, training, needle):
    url = f"/api/v1/projects/{project.pk}/"
    response = api_as(lead).patch(url, {"training": training}, format="json")
    assert response.status_code == 400, response.content
    assert needle in response.json()["detail"]
    train = api_as(lead).post(
        f"/api/v1/projects/{project.pk}/train/", {"config": training}, format="json"
    )
    assert train.status_code == 400 and needle in train.json()["detail"]


def test_good_label_check_settings_are_kept(api_as, lead, project):
    url = f"/api/v1/projects/{project.pk}/"
    changes = {"training": {"label_check_folds": 10, "label_check_epochs": 8}}
    response = api_as(lead).patch(url, changes, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["training"] == changes["training"]
    off = api_as(lead).patch(url, {"training": {"label_check_folds": 0}}, format="json")
    assert off.status_code == 200
