"""A worker without cleanlab skips the label check before its folds, and says so."""

from __future__ import annotations

import logging

import pytest

from labeler.predictions.models import LabelCheck, ModelVersion, TrainingRun
from labeler.projects.models import Role
from tests.conftest import client_for
from tests.factories import ProjectFactory, UserFactory, add_member, annotation_submit
from tests.worker.ml_project import CLASSES, FAST_TRAINING, colour_png, ingest
from worker import label_check

pytestmark = pytest.mark.slow

PURE = [(1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0)]


def test_cleanlab_is_found_where_it_is_installed():
    pytest.importorskip("cleanlab")
    assert not label_check.cleanlab_missing()


@pytest.mark.django_db
def test_without_cleanlab_no_fold_runs_and_the_run_says_why(
    django_capture_on_commit_callbacks, monkeypatch, caplog
):
    def no_folds(*args, **kwargs):
        raise AssertionError("a fold ran without cleanlab")

    monkeypatch.setattr(label_check, "cleanlab_missing", lambda: True)
    monkeypatch.setattr(label_check, "cross_fit", no_folds)
    lead, annotator = UserFactory(username="lead"), UserFactory(username="ann")
    project = ProjectFactory(
        labels=list(CLASSES),
        training={**FAST_TRAINING, "label_check_folds": 4},
        retrain_after=0,
        gold_rate=0.0,
    )
    add_member(project, lead, Role.LEAD)
    add_member(project, annotator)
    for k, name in enumerate(CLASSES):
        for image in ingest(project, [colour_png(PURE[k], 9 * k + i) for i in range(6)], name):
            annotation_submit(
                project=project, annotator=annotator, image_id=image.pk, labels=[name]
            )
    # The worker's loggers do not propagate to the root, where caplog listens; and a real
    # Celery worker started earlier in this process may have configured logging again,
    # disabling the loggers that existed then.
    monkeypatch.setattr(label_check.logger, "handlers", [caplog.handler])
    monkeypatch.setattr(label_check.logger, "disabled", False)
    monkeypatch.setattr(label_check.logger, "level", logging.WARNING)
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(lead).post(f"/api/v1/projects/{project.pk}/train/", {}, format="json")
    assert response.status_code == 202, response.content

    # The model is kept; the check is not, and the metrics, the run and the log say why.
    version = ModelVersion.objects.get(project=project)
    assert version.metrics["label_check"] == {"skipped": label_check.NO_CLEANLAB}
    run = TrainingRun.objects.get(project=project)
    assert run.status == "succeeded" and run.message.endswith(label_check.NO_CLEANLAB)
    assert not LabelCheck.objects.exists()
    warned = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert any("cleanlab is not installed" in r.getMessage() for r in warned)
