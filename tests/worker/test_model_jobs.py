"""The worker's training glue: how a new model is compared with the current one."""

from __future__ import annotations

import numpy as np
import pytest
from django.core.files.storage import default_storage

from labeler.annotations.models import FinalLabel
from labeler.images.models import Image
from labeler.images.pixels.model_inputs import input_cache
from labeler.predictions.models import ModelVersion, Prediction
from labeler.predictions.selectors import version_test_outputs
from labeler.predictions.test_outputs import TestOutputs
from tests.conftest import client_for
from tests.factories import UserFactory
from tests.worker.ml_project import ml_project
from worker import model_jobs as jobs
from worker.ml import weights

pytestmark = pytest.mark.slow


@pytest.mark.django_db
def test_the_current_model_is_compared_only_on_images_it_did_not_see(
    django_capture_on_commit_callbacks,
):
    """A new model's test images that the current version trained or validated on (a test
    set drawn after it, in a project older than its test split) are left out of the
    comparison: they would flatter it. On the rest both models are scored, paired."""
    lead, annotator = UserFactory(username="lead"), UserFactory(username="ann")
    project, _, _ = ml_project(lead, annotator)
    with django_capture_on_commit_callbacks(execute=True):
        assert client_for(lead).post(f"/api/v1/projects/{project.pk}/train/", {}).status_code == 202
    first = ModelVersion.objects.get(project=project, version=1)
    trained = weights.load(jobs.weights_path(first.weights), "cpu").trained_on.tolist()
    held = list(first.validation_image_ids)
    tested = version_test_outputs(first)
    finals = FinalLabel.objects.filter(image__project=project)
    assert tested is not None and trained and held
    assert set(trained) | set(held) | set(tested.image_ids) == set(
        finals.values_list("image_id", flat=True)
    )
    label_ids = tested.label_ids
    label_of = dict(finals.values_list("image_id", "labels"))
    # A new model's test set: the current one's, plus two images it trained on and one it
    # was validated on; the new model is right on every one.
    ids = [*tested.image_ids, *trained[:2], held[0]]
    y = np.array([label_ids.index(label_of[i]) for i in ids])
    perfect = TestOutputs(ids, y, np.eye(len(label_ids))[y], label_ids, False, None)
    baseline = jobs._baseline(project, perfect, "cpu")
    assert baseline["version"] == 1 and baseline["seen"] == 3
    assert baseline["images"] == len(tested) and baseline["split"] == "test"
    assert baseline["candidate_accuracy"] == baseline["candidate_macro_f1"] == 1.0
    # On its own test images the current version scores what it scored when trained.
    own = first.metrics["test"]["accuracy"]["value"]
    assert baseline["accuracy"] == pytest.approx(own, abs=1 / len(tested))
    # A perfect model is alone right wherever the current one is wrong, never the reverse.
    wrong = round((1 - baseline["accuracy"]) * len(tested))
    assert (baseline["only_current_right"], baseline["only_candidate_right"]) == (0, wrong)

    seen = TestOutputs(trained[:3], y[:3], np.eye(len(label_ids))[y[:3]], label_ids, False, None)
    only_seen = jobs._baseline(project, seen, "cpu")
    assert only_seen == {"version": 1, "images": 0, "seen": 3, "split": "test"}

    # Other labels, or weights that cannot be read: not compared, and the reason kept.
    other = TestOutputs(ids, y, np.eye(len(label_ids))[y], label_ids[::-1], False, None)
    assert jobs._baseline(project, other, "cpu")["unmeasured"] == "its labels differ"
    jobs.weights_path(first.weights).write_bytes(b"not a weights file")
    jobs._load.cache_clear()
    unread = jobs._baseline(project, perfect, "cpu")
    assert unread["unmeasured"] == "its weights could not be read" and unread["images"] == 0


@pytest.mark.django_db
def test_training_and_pre_labelling_keep_the_decoded_inputs(
    settings, django_capture_on_commit_callbacks
):
    """Every image a run or a pass decoded is kept at the model's input size; a later pass
    predicts from the kept inputs, even an image whose file has meanwhile gone."""
    lead, annotator = UserFactory(username="lead"), UserFactory(username="ann")
    project, unlabelled, _ = ml_project(lead, annotator)
    with django_capture_on_commit_callbacks(execute=True):
        assert client_for(lead).post(f"/api/v1/projects/{project.pk}/train/", {}).status_code == 202
    version = ModelVersion.objects.get(project=project, is_current=True)
    cache = input_cache()
    assert cache is not None
    kept = {name.partition("/")[2] for name in cache.kept()}
    assert kept == set(Image.objects.filter(project=project).values_list("sha256", flat=True))

    gone = unlabelled[0]
    default_storage.delete(gone.file.name)
    Prediction.objects.filter(model_version=version).delete()
    assert jobs.predict(version.pk, [image.pk for image in unlabelled]) == len(unlabelled)
    assert Prediction.objects.get(model_version=version, image=gone).probabilities


@pytest.mark.django_db
def test_a_training_beats_while_it_decodes_and_between_batches(
    settings, monkeypatch, django_capture_on_commit_callbacks
):
    """The worker's heartbeat is written within epochs, not only after each one."""
    from labeler.predictions import runs
    from labeler.predictions.models import RunStatus, TrainingRun

    settings.LABELER_TRAINING_HEARTBEAT_SECONDS = 0
    beats: list[int] = []
    heartbeat = runs.training_run_heartbeat
    monkeypatch.setattr(
        runs, "training_run_heartbeat", lambda **kw: beats.append(1) or heartbeat(**kw)
    )
    lead, annotator = UserFactory(username="lead"), UserFactory(username="ann")
    project, _, _ = ml_project(lead, annotator)
    with django_capture_on_commit_callbacks(execute=True):
        assert client_for(lead).post(f"/api/v1/projects/{project.pk}/train/", {}).status_code == 202
    run = TrainingRun.objects.get(project=project)
    assert run.status == RunStatus.SUCCEEDED, run.message
    assert len(beats) > run.epoch  # more beats than epochs: within them
