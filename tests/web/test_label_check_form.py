"""The project settings form: the label check's folds."""

from __future__ import annotations

import pytest

from tests.web.test_model_pages import client_as, input_value, settings_post, settings_url

pytestmark = pytest.mark.django_db


def test_the_folds_show_save_and_go_back_to_the_default(project, lead):
    html = client_as(lead).get(settings_url(project)).content.decode()
    assert input_value(html, "training_label_check_folds") == "5"
    data = settings_post(project, training_label_check_folds="3")
    assert client_as(lead).post(settings_url(project), data).status_code == 302
    project.refresh_from_db()
    assert project.training["label_check_folds"] == 3
    data = settings_post(project, training_label_check_folds="5")
    assert client_as(lead).post(settings_url(project), data).status_code == 302
    project.refresh_from_db()
    assert "label_check_folds" not in project.training


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("1", "must be 0 (off) or an integer from 2 to 20"),
        ("21", "Check labels with 2 to 20 folds, or 0 for no check."),
        ("many", "whole number"),
    ],
)
def test_bad_folds_are_shown_by_their_field(project, lead, value, message):
    data = settings_post(project, training_label_check_folds=value)
    response = client_as(lead).post(settings_url(project), data)
    assert response.status_code == 400
    html = response.content.decode()
    start = html.index('id="label-check-error"')
    assert message in html[start : html.index("</p>", start)]
    project.refresh_from_db()
    assert "label_check_folds" not in project.training
