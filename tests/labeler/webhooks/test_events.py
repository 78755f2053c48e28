"""Each wired event reaches a real receiver when its cause happens: a training finishing
or failing, a promotion, an export written, the review queue crossing its alert size."""

from __future__ import annotations

import json

import pytest

from labeler import flows
from labeler.agreement.review_requests import review_requests_add, review_requests_resolve
from labeler.exports import services as export_services
from labeler.exports.options import export_options_parse
from labeler.monitoring import services as monitoring
from labeler.predictions import runs
from labeler.predictions.models import RunStatus, TrainingRun
from labeler.predictions.promotion import model_version_promote
from labeler.serving.models import ServedPrediction
from labeler.task_names import Task
from labeler.webhooks import services
from labeler.webhooks.events import EVENT_NAMES
from tests.factories import ModelVersionFactory, ProjectFactory
from tests.labeler.exports.data import labelled_images
from tests.labeler.monitoring.drifted import serve, with_reference

pytestmark = pytest.mark.django_db


@pytest.fixture
def hook(project, lead, receiver):
    hook = services.webhook_create(
        project=project, url=receiver.url, events=list(EVENT_NAMES), created_by=lead
    )
    receiver.secret = hook.secret
    return hook


def heard(receiver) -> list[dict]:
    """The bodies received, each checked against its signature."""
    assert all(got.signed for got in receiver.received)
    return [json.loads(got.body) for got in receiver.received]


def send_webhooks(callbacks) -> None:
    """Run the deliveries among the callbacks a commit would have run (the others, such
    as a promotion's pre-label pass, need torch and a weights file)."""
    for callback in callbacks:
        if getattr(callback, "signature", None) and callback.signature.task == Task.WEBHOOK_DELIVER:
            callback()


def running_run(project) -> TrainingRun:
    return TrainingRun.objects.create(
        project=project,
        status=RunStatus.RUNNING,
        config={"architecture": "small-cnn"},
        label_count=4,
    )


def test_a_training_finishing_is_heard_with_its_version_and_figures(
    project, hook, receiver, django_capture_on_commit_callbacks
):
    run = running_run(project)
    test_figures = {"accuracy": {"value": 0.9, "interval": [0.8, 0.95], "n": 40}}
    with django_capture_on_commit_callbacks() as callbacks:
        version = runs.training_run_finish(
            run_id=run.pk,
            weights="w.pt",
            weights_sha256="0" * 64,
            metrics={"macro_f1": 0.8, "accuracy": 0.85, "test": test_figures},
            validation_image_ids=[],
        )
    send_webhooks(callbacks)
    promoted, finished = heard(receiver)  # the promotion is announced inside the finish
    assert finished["event"] == "training.finished"
    assert finished["data"] == {
        "run_id": run.pk,
        "model_version_id": version.pk,
        "version": 1,
        "architecture": "small-cnn",
        "promoted": True,
        "metrics": {
            "accuracy": {"value": 0.9, "interval": [0.8, 0.95], "n": 40, "split": "test"},
            "macro_f1": {"value": 0.8, "split": "validation"},
        },
        "note": "Promoted: the project had no current model.",
    }
    assert promoted["event"] == "model.promoted"
    assert promoted["data"]["automatic"] is True and promoted["data"]["previous_version"] is None


def test_a_training_failing_is_heard_with_its_reason(
    project, hook, receiver, django_capture_on_commit_callbacks
):
    run = running_run(project)
    with django_capture_on_commit_callbacks(execute=True):
        runs.training_run_fail(run_id=run.pk, message="CUDA out of memory.")
    (failed,) = heard(receiver)
    assert failed["event"] == "training.failed"
    assert failed["data"] == {"run_id": run.pk, "reason": "CUDA out of memory."}
    assert failed["project"]["id"] == project.pk and failed["time"].endswith("Z")


def test_a_lead_promoting_a_version_is_heard(
    project, lead, hook, receiver, django_capture_on_commit_callbacks
):
    ModelVersionFactory(project=project, version=1, is_current=True)
    second = ModelVersionFactory(project=project, version=2, is_current=False)
    with django_capture_on_commit_callbacks() as callbacks:
        model_version_promote(model_version=second, promoted_by=lead)
    send_webhooks(callbacks)
    (promoted,) = heard(receiver)
    assert promoted["data"] == {
        "model_version_id": second.pk,
        "version": 2,
        "previous_version": 1,
        "automatic": False,
        "note": f"Promoted by {lead.username}.",
    }


def test_an_export_written_is_heard_with_its_download_path(
    project, lead, hook, receiver, make_images, django_capture_on_commit_callbacks
):
    labelled_images(project, make_images(project, 3), ["cat", "dog"])
    with django_capture_on_commit_callbacks(execute=True):
        export = export_services.export_start(
            project=project, user=lead, options=export_options_parse({"format": "csv"})
        )
    (ready,) = heard(receiver)
    assert ready["event"] == "export.ready"
    export.refresh_from_db()
    assert ready["data"] == {
        "export_id": export.pk,
        "format": "csv",
        "images": 3,
        "size_bytes": export.size_bytes,
        "download_path": f"/api/v1/exports/{export.pk}/download/",
    }


def test_the_review_queue_is_announced_once_per_crossing_upward(
    project, hook, receiver, make_images, django_capture_on_commit_callbacks
):
    project.review_queue_alert_size = 2
    project.save(update_fields=["review_queue_alert_size"])
    images = [image.pk for image in make_images(project, 5)]

    def grow_to(count: int) -> None:
        review_requests_add(project, images[:count], reason="lead")
        with django_capture_on_commit_callbacks(execute=True):
            flows.agreement_refresh(project=project)

    grow_to(2)  # at the size: nothing
    assert receiver.received == []
    grow_to(3)  # past it: announced
    grow_to(4)  # still past it: not again
    (above,) = heard(receiver)
    assert above["event"] == "review_queue.above"
    assert above["data"] == {"size": 3, "threshold": 2}
    review_requests_resolve(project, images[1:4])
    with django_capture_on_commit_callbacks(execute=True):
        flows.agreement_refresh(project=project)  # back to 1: below again
    grow_to(5)
    assert [body["data"]["size"] for body in heard(receiver)] == [3, 5]


def test_a_drift_alarm_is_heard_with_its_check_and_tests(
    lead, receiver, django_capture_on_commit_callbacks
):
    project = ProjectFactory(drift_minimum_count=40)
    version = with_reference(project)
    hook = services.webhook_create(
        project=project, url=receiver.url, events=["drift.alarm"], created_by=lead
    )
    receiver.secret = hook.secret
    serve(project, version, 120, mix=(0.8, 0.1, 0.1), shift=0.7)
    with django_capture_on_commit_callbacks() as callbacks:
        check = monitoring.drift_check_run(project_id=project.pk)
    send_webhooks(callbacks)
    [alarm] = heard(receiver)
    assert check is not None and check.alarm
    assert alarm["event"] == "drift.alarm"
    data = alarm["data"]
    assert (data["check_id"], data["version"], data["model_version_id"]) == (
        check.pk,
        version.version,
        version.pk,
    )
    assert data["tests"]["labels"]["p_value"] == check.labels_p
    assert set(data["window"]) == {"start", "end"}


def test_one_drift_episode_is_heard_once_and_the_next_one_again(
    lead, receiver, django_capture_on_commit_callbacks
):
    """The hourly checks of one episode overlap: webhooks hear the episode's first alarm,
    not each check's, and a new episode after a check without drift."""
    project = ProjectFactory(drift_minimum_count=40)
    version = with_reference(project)
    hook = services.webhook_create(
        project=project, url=receiver.url, events=["drift.alarm"], created_by=lead
    )
    receiver.secret = hook.secret

    def check():
        with django_capture_on_commit_callbacks() as callbacks:
            found = monitoring.drift_check_run(project_id=project.pk)
        send_webhooks(callbacks)
        return found

    serve(project, version, 120, mix=(0.8, 0.1, 0.1), shift=0.7)
    first, second = check(), check()
    assert first.alarm and second.alarm
    assert [body["data"]["check_id"] for body in heard(receiver)] == [first.pk]
    ServedPrediction.objects.all().delete()
    serve(project, version, 120, seed=7)
    assert not check().alarm
    ServedPrediction.objects.all().delete()
    serve(project, version, 120, mix=(0.8, 0.1, 0.1), shift=0.7, seed=8)
    third = check()
    assert third.alarm
    assert [body["data"]["check_id"] for body in heard(receiver)] == [first.pk, third.pk]
