"""The model in the loop end to end: train, promote, pre-label, order the queue, suggest.

In-process (tasks eager, as the test settings configure) and with a real Celery worker
process over the real Redis.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection

from labeler import flows, jobs
from labeler.annotations.models import FinalLabel
from labeler.images.models import Image
from labeler.predictions.models import ModelVersion, Prediction, RunStatus, TrainingRun
from tests.conftest import client_for
from tests.factories import UserFactory, image_bytes
from tests.settings import redis_url_of_worker
from tests.worker.conftest import reset_producer_pools
from tests.worker.ml_project import colour_png, ingest, ml_project
from worker.celery_app import app
from worker.ml import data

pytestmark = pytest.mark.slow


@pytest.fixture
def model_dir(settings, tmp_path) -> Path:
    settings.LABELER_MODEL_DIR = tmp_path / "models"
    return settings.LABELER_MODEL_DIR


@pytest.mark.django_db
def test_train_promote_prelabel_and_suggest_the_most_uncertain_image(
    model_dir, django_capture_on_commit_callbacks
):
    """POST train runs the whole loop: a promoted version predicts every unlabelled image,
    the queue is ordered by margin (most uncertain first), and /next/ hands out the most
    uncertain image with the model's suggestion."""
    lead, annotator = UserFactory(username="lead"), UserFactory(username="ann")
    project, unlabelled, _ = ml_project(lead, annotator)
    assert FinalLabel.objects.filter(image__project=project).count() == 0  # refreshed at train

    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(lead).post(f"/api/v1/projects/{project.pk}/train/", {})
    assert response.status_code == 202, response.content

    run = TrainingRun.objects.get(pk=response.json()["id"])
    assert run.status == RunStatus.SUCCEEDED, run.message
    assert run.label_count == 24 and run.test_count == 3
    assert run.train_count + run.validation_count + run.test_count == 24
    assert len(run.history) >= 1 and run.progress == 1.0
    assert run.stage == "Saving the weights and comparing with the current version"
    version = ModelVersion.objects.get(run=run)
    assert version.is_current and version.version == 1
    assert (model_dir / version.weights).is_file()
    assert version.metrics["accuracy"] >= 0.5 and version.metrics["baseline"] is None

    predicted = Prediction.objects.filter(model_version=version)
    assert set(predicted.values_list("image_id", flat=True)) == {i.pk for i in unlabelled}
    version.refresh_from_db()
    assert version.prelabel_total == len(unlabelled) and version.prelabel_done_at is not None

    margin = {p.image_id: _margin(p.probabilities) for p in predicted}
    open_images = Image.objects.filter(project=project, is_complete=False)
    queue = list(open_images.order_by("-priority", "id").values_list("pk", flat=True))
    assert queue == sorted(margin, key=lambda image_id: (margin[image_id], image_id))

    body = client_for(annotator).get(f"/api/v1/projects/{project.pk}/next/").json()
    assert body["image"]["id"] == queue[0]
    assert body["suggestion"]["model_version"] == version.pk
    assert body["suggestion"]["probabilities"] == {
        key: pytest.approx(p)
        for key, p in Prediction.objects.get(
            model_version=version, image_id=queue[0]
        ).probabilities.items()
    }


@pytest.mark.django_db(transaction=True)
def test_in_the_server_a_training_runs_in_a_process_of_its_own(model_dir, media_root):
    """With no broker the server answers POST train at once with a queued run; a child
    process then trains, promotes and pre-labels, as a worker would, while the server's
    task thread goes on: an upload's thumbnail is made before the training has ended (on
    one thread it waited behind the whole training)."""
    lead, annotator = UserFactory(username="lead"), UserFactory(username="ann")
    project, unlabelled, _ = ml_project(lead, annotator)
    assert jobs.run_in_background()
    try:
        response = client_for(lead).post(f"/api/v1/projects/{project.pk}/train/", {})
        assert response.status_code == 202, response.content
        run = TrainingRun.objects.get(pk=response.json()["id"])
        [added] = flows.images_ingest(
            project=project, files=[SimpleUploadedFile("new.png", image_bytes(size=(8, 8)))]
        )
        deadline = time.monotonic() + 60
        while not Image.objects.get(pk=added.image_id).thumbnail and time.monotonic() < deadline:
            time.sleep(0.02)
        run.refresh_from_db()
        assert Image.objects.get(pk=added.image_id).thumbnail
        assert run.status in (RunStatus.QUEUED, RunStatus.RUNNING)  # still training
        assert jobs.wait_for_background(300)
    finally:
        jobs.stop_background()
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED, run.message
    # The child settles "auto" itself: the CPU here, CUDA on a machine with a GPU.
    assert run.device in ("cpu", "cuda")
    version = ModelVersion.objects.get(run=run, is_current=True)
    predicted = Prediction.objects.filter(model_version=version)
    assert {i.pk for i in unlabelled} <= set(predicted.values_list("image_id", flat=True))


def _margin(probabilities: dict[str, float]) -> float:
    """The gap between the two most probable labels: smallest is most uncertain."""
    top = sorted(probabilities.values(), reverse=True)
    return top[0] - top[1]


@pytest.mark.django_db
def test_a_second_run_is_compared_with_the_current_model(
    model_dir, django_capture_on_commit_callbacks
):
    """The next version is measured against the current one on the same test images.

    Both runs train on the same labels, so a repeatable training gets the same figures
    and changes nothing (v1 stays current: tests/worker/test_model_figures.py); one that
    is not bit-for-bit repeatable is promoted or not on the comparison."""
    lead, annotator = UserFactory(username="lead"), UserFactory(username="ann")
    project, _, _ = ml_project(lead, annotator)
    client = client_for(lead)
    for _ in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            assert client.post(f"/api/v1/projects/{project.pk}/train/", {}).status_code == 202
    second = ModelVersion.objects.get(project=project, version=2)
    baseline = second.metrics["baseline"]
    assert baseline["version"] == 1
    assert baseline["macro_f1"] is not None and baseline["images"] > 0
    assert second.promotion_note.startswith(("Promoted", "Not promoted", "Nothing changed"))
    assert f"v1 on {baseline['images']} test images neither was trained on" in (
        second.promotion_note
    )
    assert baseline["verdict"] in ("better", "same", "worse") and 0 <= baseline["p_value"] <= 1
    assert ModelVersion.objects.filter(project=project, is_current=True).count() == 1


@pytest.mark.django_db
def test_new_uploads_are_prelabelled_from_the_inputs_kept_with_their_thumbnails(
    model_dir, django_capture_on_commit_callbacks, monkeypatch
):
    """Images uploaded to a project with a current model are predicted without decoding
    their files again: the thumbnail task kept the model's inputs from its own read."""
    lead, annotator = UserFactory(username="lead"), UserFactory(username="ann")
    project, _, _ = ml_project(lead, annotator)
    with django_capture_on_commit_callbacks(execute=True):
        assert client_for(lead).post(f"/api/v1/projects/{project.pk}/train/", {}).status_code == 202
    version = ModelVersion.objects.get(project=project, is_current=True)
    decoded: list[str] = []
    decode = data._decode

    def counting(name, *args, **kwargs):
        decoded.append(name)
        return decode(name, *args, **kwargs)

    monkeypatch.setattr(data, "_decode", counting)
    contents = [colour_png((1.0, 0.0, 0.0), seed=500 + i) for i in range(3)]
    with django_capture_on_commit_callbacks(execute=True):
        new = ingest(project, contents, "new")
    predicted = Prediction.objects.filter(model_version=version, image__in=new)
    assert predicted.count() == 3
    assert all(p.probabilities for p in predicted)
    assert decoded == []


REDIS_URL = os.environ.get("REDIS_URL", "")
# A Redis database of its own, so no other test's worker takes these tasks (nor we theirs).
BROKER_URL = redis_url_of_worker(offset=1)


@pytest.fixture
def celery_process(transactional_db, model_dir, media_root, tmp_path):
    """A real worker (gpu, serve and default queues) on the test database and Redis: two
    processes with torch on one thread each, as on a CPU-only machine, and tasks of two
    images, so a pass's chunks are shared between the processes."""
    if not REDIS_URL:
        pytest.skip("needs Redis: set REDIS_URL=redis://127.0.0.1:6379/0")
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: set DATABASE_URL=postgres://...")
    db = connection.settings_dict
    url = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "labeler.settings",
        "DEBUG": "1",
        "SECRET_KEY": settings.SECRET_KEY,
        "DATABASE_URL": url,
        "CELERY_BROKER_URL": BROKER_URL,
        "MEDIA_ROOT": str(media_root),
        "LABELER_MODEL_DIR": str(model_dir),
        "LABELER_DEVICE": "cpu",
        "LABELER_TORCH_THREADS": "1",
        "LABELER_PRELABEL_CHUNK": "2",
        "AGREEMENT_REFRESH_SECONDS": "1",
        "LABELER_DUPLICATE_DISTANCE": str(settings.LABELER_DUPLICATE_DISTANCE),  # as here
    }
    log = open(tmp_path / "worker.log", "w")  # noqa: SIM115 - closed below
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "worker.celery_app", "worker",
         "-Q", "gpu,serve,default", "--pool", "prefork", "--concurrency", "2", "--loglevel", "INFO",
         "--without-gossip", "--without-mingle"],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        yield worker
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        log.close()
        print((tmp_path / "worker.log").read_text()[-4000:])


@pytest.mark.redis
@pytest.mark.postgres
def test_a_real_worker_trains_promotes_and_prelabels(celery_process, settings, tmp_path):
    """Over Redis, a worker trains the run, promotes it and pre-labels the images, the
    pass in several tasks stored by its processes side by side, each image counted once."""
    app.conf.update(broker_url=BROKER_URL, task_always_eager=False)
    reset_producer_pools()
    try:
        lead, annotator = UserFactory(username="lead"), UserFactory(username="ann")
        project, unlabelled, _ = ml_project(lead, annotator)
        response = client_for(lead).post(f"/api/v1/projects/{project.pk}/train/", {})
        assert response.status_code == 202, response.content
        run = TrainingRun.objects.get(pk=response.json()["id"])
        deadline = time.monotonic() + 120
        version = None
        while time.monotonic() < deadline:
            run.refresh_from_db()
            version = ModelVersion.objects.filter(run=run, prelabel_done_at__isnull=False).first()
            if version is not None or run.status in (RunStatus.FAILED, RunStatus.CANCELLED):
                break
            time.sleep(0.5)
        assert run.status == RunStatus.SUCCEEDED, run.message
        assert version is not None and version.is_current
        assert Prediction.objects.filter(model_version=version).count() == len(unlabelled)
        assert version.prelabel_done == version.prelabel_total == len(unlabelled)
        # The pass went out as one task per chunk of two, for the pool's processes.
        log = (tmp_path / "worker.log").read_text()
        received = re.findall(r"Task worker\.tasks\.ml_predict\[\S+\] received", log)
        assert len(received) == -(-len(unlabelled) // 2), log[-4000:]
    finally:
        app.conf.update(broker_url=settings.CELERY_BROKER_URL, task_always_eager=True)
        reset_producer_pools()
