"""A training run's life without torch: start, claim, progress, finish, fail, cancel, reap."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from labeler.annotations.models import FinalLabel, FinalLabelMethod
from labeler.errors import Conflict, ValidationFailed
from labeler.flows import agreement_refresh, images_import
from labeler.imports.planning.labels_in import ImportItem
from labeler.imports.planning.plan import import_plan
from labeler.predictions import runs, services
from labeler.predictions.models import ModelVersion, RunReason, RunStatus, TrainingRun
from tests.factories import (
    ProjectFactory,
    UserFactory,
    add_member,
    annotation_submit,
    image_bytes,
)


@pytest.fixture
def project(db):
    return ProjectFactory(name="Pets", retrain_after=0)


def label(project, image, name, method=FinalLabelMethod.ADJUDICATED):
    final = FinalLabel.objects.create(image=image, method=method)
    final.labels.set([project.labels.get(name=name)])


@pytest.fixture
def labelled(project, make_images):
    """Two cats and two dogs decided by people."""
    images = make_images(project, 4)
    for image, name in zip(images, ["cat", "cat", "dog", "dog"], strict=True):
        label(project, image, name)
    return images


def start(project):
    return services.training_start(project=project, overrides={"epochs": 3})


def test_training_needs_two_labels_with_two_images_each(project, make_images):
    """The refusal names what is missing."""
    images = make_images(project, 3)
    for image, name in zip(images, ["cat", "cat", "dog"], strict=True):
        label(project, image, name)
    with pytest.raises(ValidationFailed, match="1 label has at least 2"):
        start(project)
    assert not TrainingRun.objects.exists()


def test_overlap_one_annotations_become_trainable_at_start(project, make_images):
    """With overlap 1 the final labels are refreshed at start: annotations are enough."""
    annotator = UserFactory()
    add_member(project, annotator)
    for image, name in zip(make_images(project, 4), ["cat", "cat", "bird", "bird"], strict=True):
        annotation_submit(project=project, annotator=annotator, image_id=image.pk, labels=[name])
    FinalLabel.objects.all().delete()  # as if no background refresh had run yet
    run = start(project)
    assert run.label_count == 4
    assert FinalLabel.objects.filter(method=FinalLabelMethod.CONSENSUS).count() == 4


def test_a_second_active_run_is_a_conflict_naming_it(project, labelled):
    run = start(project)
    assert run.status == RunStatus.QUEUED and run.config["epochs"] == 3
    with pytest.raises(Conflict) as caught:
        start(project)
    assert caught.value.details == {"run": run.pk}


def test_the_database_refuses_two_active_runs(project, labelled):
    """Even past the service's check, the constraint keeps one active run."""
    run = start(project)
    with pytest.raises(Conflict) as caught:
        runs.training_run_create(project=project, config=run.config, label_count=4)
    assert caught.value.details == {"run": run.pk}


def test_bad_config_overrides_are_refused(project, labelled):
    with pytest.raises(ValidationFailed, match="epochs"):
        services.training_start(project=project, overrides={"epochs": 0})


def test_begin_claims_once_and_splits_stratified(project, labelled):
    run = start(project)
    plan = runs.training_run_begin(run_id=run.pk, device="cpu")
    assert plan is not None and len(plan.split.validation) == 2  # one cat, one dog
    run.refresh_from_db()
    assert (run.status, run.train_count, run.validation_count) == (RunStatus.RUNNING, 2, 2)
    assert runs.training_run_begin(run_id=run.pk, device="cpu") is None  # live: a duplicate


def test_a_running_run_with_a_stale_heartbeat_starts_over(project, labelled, settings):
    run = start(project)
    runs.training_run_begin(run_id=run.pk, device="cpu")
    runs.training_run_progress(run_id=run.pk, log={"epoch": 1, "epochs": 3, "val_loss": 1.0})
    stale = timezone.now() - timedelta(seconds=settings.LABELER_TRAINING_STALE_SECONDS + 1)
    TrainingRun.objects.filter(pk=run.pk).update(heartbeat_at=stale)
    assert runs.training_run_begin(run_id=run.pk, device="cpu") is not None
    run.refresh_from_db()
    assert run.history == [] and run.epoch == 0


def test_progress_records_epochs_and_stops_on_cancel(project, labelled):
    run = start(project)
    runs.training_run_begin(run_id=run.pk, device="cpu")
    log = {"epoch": 1, "epochs": 3, "train_loss": 0.9, "val_loss": float("nan"), "kept_epoch": 1}
    assert runs.training_run_progress(run_id=run.pk, log=log) is True
    run.refresh_from_db()
    assert run.history[0]["train_loss"] == 0.9 and run.history[0]["val_loss"] is None
    assert run.history[0]["kept_epoch"] == 1
    assert run.progress == pytest.approx(1 / 3)
    assert runs.training_run_stage(run_id=run.pk, stage="Scoring the model") is True
    run.refresh_from_db()
    assert run.stage == "Scoring the model"
    runs.training_run_cancel(run=run)
    assert runs.training_run_progress(run_id=run.pk, log={"epoch": 2, "epochs": 3}) is False
    assert runs.training_run_stage(run_id=run.pk, stage="Saving") is False


def test_cancelling_a_queued_run_ends_it_at_once_and_an_ended_one_conflicts(project, labelled):
    run = runs.training_run_cancel(run=start(project))
    assert run.status == RunStatus.CANCELLED
    with pytest.raises(Conflict):
        runs.training_run_cancel(run=run)


def finish(run, macro_f1=0.8, baseline=None):
    return runs.training_run_finish(
        run_id=run.pk,
        weights=f"project-{run.project_id}/run-{run.pk}.pt",
        weights_sha256="0" * 64,
        metrics={"macro_f1": macro_f1, "accuracy": 0.9, "images": 2},
        validation_image_ids=[1, 2],
        baseline=baseline,
    )


def test_finish_creates_and_promotes_the_first_version_once(project, labelled):
    run = start(project)
    runs.training_run_begin(run_id=run.pk, device="cpu")
    version = finish(run)
    assert version is not None and version.is_current and version.version == 1
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED and run.progress == 1.0
    assert finish(run) is None  # a redelivery records nothing more
    assert ModelVersion.objects.count() == 1


def test_a_run_cancelled_before_finishing_makes_no_version(project, labelled):
    run = start(project)
    runs.training_run_begin(run_id=run.pk, device="cpu")
    runs.training_run_cancel(run=run)
    assert finish(run) is None
    run.refresh_from_db()
    assert run.status == RunStatus.CANCELLED and not ModelVersion.objects.exists()


def test_fail_and_reap(project, labelled, settings):
    run = start(project)
    runs.training_run_begin(run_id=run.pk, device="cpu")
    assert runs.training_runs_reap() == 0
    stale = timezone.now() - timedelta(seconds=settings.LABELER_TRAINING_STALE_SECONDS + 1)
    TrainingRun.objects.filter(pk=run.pk).update(heartbeat_at=stale)
    assert runs.training_runs_reap() == 1
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED and "Worker lost" in run.message
    runs.training_run_fail(run_id=run.pk, message="later")  # ended: no change
    run.refresh_from_db()
    assert "Worker lost" in run.message


def test_a_new_training_fails_a_run_whose_worker_went_quiet_first(project, labelled, settings):
    """With no beat to reap it (the embedded default), a dead run must not block the project."""
    run = start(project)
    runs.training_run_begin(run_id=run.pk, device="cpu")
    with pytest.raises(Conflict):
        start(project)  # its worker is alive: one run at a time
    stale = timezone.now() - timedelta(seconds=settings.LABELER_TRAINING_STALE_SECONDS + 1)
    TrainingRun.objects.filter(pk=run.pk).update(heartbeat_at=stale)
    second = start(project)
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED and "Worker lost" in run.message
    assert second.status == RunStatus.QUEUED


def test_cancelling_a_run_whose_worker_went_quiet_ends_it_at_once(project, labelled, settings):
    run = start(project)
    runs.training_run_begin(run_id=run.pk, device="cpu")
    stale = timezone.now() - timedelta(seconds=settings.LABELER_TRAINING_STALE_SECONDS + 1)
    TrainingRun.objects.filter(pk=run.pk).update(heartbeat_at=stale)
    runs.training_run_cancel(run=run)
    run.refresh_from_db()
    assert run.status == RunStatus.CANCELLED and "stopped answering" in run.message
    assert runs.training_run_active(project) is None


def test_queued_runs_are_sent_again_on_resume(
    project, labelled, django_capture_on_commit_callbacks
):
    """A server that ran tasks in-process lost its queue when it stopped: resume sends the
    queued runs again (not the cancelled or ended ones)."""
    queued = start(project)
    other = ProjectFactory(name="Other", retrain_after=0)
    TrainingRun.objects.create(project=other, status=RunStatus.QUEUED, cancel_requested=True)
    TrainingRun.objects.create(project=other, status=RunStatus.SUCCEEDED)
    with django_capture_on_commit_callbacks() as sent:
        assert runs.training_runs_resume() == 1
    assert [callback.signature.args for callback in sent] == [(queued.pk,)]


def test_refresh_starts_a_run_once_enough_new_labels_came_in(project, labelled):
    project.retrain_after = 4
    project.save()
    run = runs.training_refresh_if_due(project=project)
    assert run is not None and run.reason == RunReason.REFRESH
    assert runs.training_refresh_if_due(project=project) is None  # one is active
    runs.training_run_cancel(run=run)
    assert runs.training_refresh_if_due(project=project) is None  # no new labels since


def test_refresh_never_runs_with_retrain_after_zero(project, labelled):
    assert runs.training_refresh_if_due(project=project) is None


def test_the_background_agreement_refresh_starts_a_due_retraining(project, make_images):
    """Labels arriving make the refresh that follows them start a run by itself."""
    project.retrain_after = 4
    project.save()
    annotator = UserFactory()
    add_member(project, annotator)
    for image, name in zip(make_images(project, 4), ["cat", "cat", "dog", "dog"], strict=True):
        annotation_submit(project=project, annotator=annotator, image_id=image.pk, labels=[name])
    agreement_refresh(project=project)
    (run,) = TrainingRun.objects.filter(project=project)
    assert (run.reason, run.status, run.label_count) == (RunReason.REFRESH, RunStatus.QUEUED, 4)


def settled(project) -> None:
    """As if the import's settle time had passed."""
    type(project).objects.filter(pk=project.pk).update(
        import_settles_at=timezone.now() - timedelta(seconds=1)
    )


def test_retraining_waits_until_an_import_settles(
    project, lead, settings, django_capture_on_commit_callbacks
):
    """Found with a four-class dataset: a run started mid-import at 200 labels and its
    model, promoted, had never seen one class. Batches of one import now count as one."""
    settings.LABELER_IMPORT_SETTLE_SECONDS = 60
    project.retrain_after = 4
    project.save()
    names = ["cat", "cat", "dog", "dog"]
    items = [ImportItem(f"{i}.png", image_bytes(), [name]) for i, name in enumerate(names)]
    with django_capture_on_commit_callbacks(execute=True):
        images_import(plan=import_plan(project=project, items=items), actor=lead)  # 1st batch

    assert FinalLabel.objects.filter(image__project=project).count() == 4
    assert not TrainingRun.objects.exists()  # the refreshes it sent (inline here) waited

    settled(project)
    agreement_refresh(project=project)  # the refresh sent for after the settle time
    (run,) = TrainingRun.objects.filter(project=project)
    assert (run.reason, run.label_count) == (RunReason.REFRESH, 4)


def test_retraining_waits_while_a_label_given_to_images_has_no_final_label(
    project, labelled, make_images
):
    project.retrain_after = 4
    project.save()
    settled(project)
    annotator = UserFactory()
    add_member(project, annotator)
    project.overlap = 2  # one annotation is no consensus yet
    project.save()
    (bird,) = make_images(project, 1)
    annotation_submit(project=project, annotator=annotator, image_id=bird.pk, labels=["bird"])

    assert runs.training_refresh_if_due(project=project) is None
    with pytest.raises(Conflict, match="No final label yet for bird"):
        runs._labels_covered_check(project, runs.training_set(project))

    label(project, bird, "bird")
    label(project, make_images(project, 1)[0], "bird")
    run = runs.training_refresh_if_due(project=project)
    assert run is not None and run.label_count == 6


def test_a_heartbeat_between_epochs_keeps_a_run_from_being_reaped(project, labelled, settings):
    """A long epoch beats between batches: the run is not taken for a lost worker."""
    run = start(project)
    runs.training_run_begin(run_id=run.pk, device="cpu")
    stale = timezone.now() - timedelta(seconds=settings.LABELER_TRAINING_STALE_SECONDS + 1)
    TrainingRun.objects.filter(pk=run.pk).update(heartbeat_at=stale)

    assert runs.training_run_heartbeat(run_id=run.pk) is True
    assert runs.training_runs_reap() == 0
    run.refresh_from_db()
    assert run.status == RunStatus.RUNNING and run.heartbeat_at > stale and run.epoch == 0

    runs.training_run_cancel(run=run)
    assert runs.training_run_heartbeat(run_id=run.pk) is False  # the worker stops


def test_a_heartbeat_of_a_run_no_longer_running_says_stop(project, labelled, settings):
    run = start(project)
    runs.training_run_begin(run_id=run.pk, device="cpu")
    runs.training_run_fail(run_id=run.pk, message="reaped")
    assert runs.training_run_heartbeat(run_id=run.pk) is False
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED
