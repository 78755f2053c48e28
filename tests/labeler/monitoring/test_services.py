"""The drift check as a service and as the scheduled task: what it compares, what it keeps,
when it refuses, and the alarm's one announcement."""

from __future__ import annotations

import logging

import pytest

from labeler.errors import Conflict
from labeler.monitoring import selectors, services
from labeler.monitoring.models import DriftCheck
from tests.factories import ModelVersionFactory, ProjectFactory
from tests.labeler.monitoring.drifted import serve, with_reference
from worker import tasks

pytestmark = pytest.mark.django_db


@pytest.fixture
def drifting():
    project = ProjectFactory(drift_minimum_count=40)
    return project, with_reference(project)


def test_served_predictions_like_the_reference_raise_no_alarm(drifting, caplog):
    project, version = drifting
    serve(project, version, 120)
    with caplog.at_level(logging.WARNING, logger="labeler.monitoring.services"):
        check = services.drift_check_run(project_id=project.pk)
    assert check is not None and not check.alarm
    assert (check.n_recent, check.n_reference, check.false_alarm_rate) == (120, 90, 0.01)
    assert check.rejected == [] and check.reason.startswith("No drift found at a 1.00%")
    assert not caplog.records


def test_shifted_predictions_alarm_and_the_alarm_is_announced_once(
    drifting, caplog, django_capture_on_commit_callbacks
):
    project, version = drifting
    serve(project, version, 120, mix=(0.8, 0.1, 0.1), shift=0.7)
    with (
        caplog.at_level(logging.WARNING, logger="labeler.monitoring.services"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        check = services.drift_check_run(project_id=project.pk)
    assert check is not None and check.alarm
    assert set(check.rejected) == {"embeddings", "labels"}
    assert "the mix of predicted labels changed" in check.reason
    [record] = caplog.records
    assert f"check {check.pk}" in record.getMessage()


def test_only_the_window_and_the_current_version_are_compared(drifting):
    project, version = drifting
    serve(project, version, 60)
    serve(project, version, 200, seed=3, hours_ago=30, shift=2.0)  # before the 24 h window
    serve(project, ModelVersionFactory(project=project, is_current=False), 200, seed=4)
    check = services.drift_check_run(project_id=project.pk)
    assert check is not None and check.n_recent == 60 and not check.alarm


def test_a_check_refuses_without_enough_served_predictions(drifting):
    project, version = drifting
    serve(project, version, 39)
    with pytest.raises(Conflict, match=r"Only 39 predictions served .* needs 40"):
        services.drift_check_run(project_id=project.pk)
    assert not DriftCheck.objects.exists()


def test_a_check_refuses_without_a_current_version():
    project = ProjectFactory()
    with pytest.raises(Conflict, match="no promoted model version"):
        services.drift_check_run(project_id=project.pk)


def test_a_version_without_test_images_says_so(django_capture_on_commit_callbacks):
    project = ProjectFactory(drift_minimum_count=20)
    version = with_reference(project, n=0)
    serve(project, version, 30)
    with pytest.raises(Conflict, match="has no test images"):
        services.drift_check_run(project_id=project.pk)


def test_the_scheduled_task_checks_each_project_with_enough_served_predictions(
    django_capture_on_commit_callbacks,
):
    busy, quiet = ProjectFactory(drift_minimum_count=40), ProjectFactory(drift_minimum_count=40)
    serve(busy, with_reference(busy), 50)
    serve(quiet, with_reference(quiet), 10)
    assert selectors.projects_due_for_drift() == [busy.pk]
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.drift_checks_due() == 1
    assert list(DriftCheck.objects.values_list("project_id", flat=True)) == [busy.pk]


def test_the_page_state_draws_checks_oldest_first(drifting):
    project, version = drifting
    serve(project, version, 50)
    first = services.drift_check_run(project_id=project.pk)
    serve(project, version, 50, seed=9, mix=(0.9, 0.05, 0.05))
    second = services.drift_check_run(project_id=project.pk)
    state = selectors.drift_state(project)
    assert [c["id"] for c in state["series"]] == [first.pk, second.pk]
    assert state["latest"]["id"] == second.pk and state["latest"]["alarm"]
    assert state["rate"] == 0.01
