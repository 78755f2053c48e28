"""The prediction API with a broker: a real Celery worker process (prefork, over the real
Redis as broker and result backend, on the PostgreSQL test database) runs the model; the
web side waits on the result for a small request and polls a job for a large one."""

from __future__ import annotations

import re
import time

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile

from labeler.projects.models import Role
from labeler.serving.models import JobStatus, PredictionJob
from labeler.serving.tokens import predict_token_issue
from tests.conftest import client_for
from tests.factories import ProjectFactory, UserFactory, add_member, image_bytes
from tests.serving_model import served_logged, served_version
from tests.worker.conftest import reset_producer_pools

# The real worker of the model-loop tests (its Redis database, its environment).
from tests.worker.test_ml_tasks import BROKER_URL, celery_process, model_dir  # noqa: F401
from worker.celery_app import app

pytestmark = pytest.mark.slow


BROKER_KEYS = ("broker_url", "result_backend", "task_always_eager")


def use_broker(url: str | None, *, eager: bool) -> dict[str, object]:
    """Send tasks to ``url`` and read results from it; returns the settings it replaced."""
    saved = {key: app.conf[key] for key in BROKER_KEYS}
    broker_set(dict(zip(BROKER_KEYS, (url, url, eager), strict=True)))
    return saved


def broker_set(values: dict[str, object]) -> None:
    app.conf.update(values)
    app._local.__dict__.pop("backend", None)  # the result backend is cached per thread
    reset_producer_pools()


def png(seed: int) -> SimpleUploadedFile:
    return SimpleUploadedFile(f"photo-{seed}.png", image_bytes(seed=seed), "image/png")


@pytest.mark.redis
@pytest.mark.postgres
def test_a_real_worker_answers_at_once_and_runs_a_job(celery_process, settings, tmp_path):  # noqa: F811
    """A request of two images is answered by the worker through the result backend; one
    of three (over the limit of two) is a job the worker runs; both are logged, with the
    same probabilities for the same image."""
    settings.LABELER_PREDICT_SYNC_MAX = 2
    lead = UserFactory(username="lead")
    project = ProjectFactory(name="Colours", labels=["red", "green", "blue"])
    add_member(project, lead, Role.LEAD)
    version = served_version(project)
    key = predict_token_issue(project=project, name="line", created_by=lead).key
    url = f"/api/v1/projects/{project.pk}/predict/"
    saved = use_broker(BROKER_URL, eager=False)
    try:
        answered = client_for(lead).post(url, {"files": [png(1), png(2)]}, format="multipart")
        assert answered.status_code == 200, answered.content
        body = answered.json()
        assert body["version"]["id"] == version.pk
        assert [p["name"] for p in body["predictions"]] == ["photo-1.png", "photo-2.png"]
        for prediction in body["predictions"]:
            assert sum(p["probability"] for p in prediction["probabilities"]) == pytest.approx(
                1, abs=1e-5
            )

        client = client_for(lead)
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
        queued = client.post(url, {"files": [png(1), png(3), png(4)]}, format="multipart")
        assert queued.status_code == 202, queued.content
        job_url = queued.json()["url"].split("testserver", 1)[-1]
        deadline, polled = time.monotonic() + 90, {}
        while time.monotonic() < deadline:
            polled = client.get(job_url).json()
            if polled["status"] in (JobStatus.DONE, JobStatus.FAILED):
                break
            time.sleep(0.3)
        assert polled["status"] == JobStatus.DONE, polled
        assert [p["name"] for p in polled["predictions"]] == [
            "photo-1.png",
            "photo-3.png",
            "photo-4.png",
        ]
        # The same image (photo-1) through either path: the same answer.
        assert polled["predictions"][0]["probabilities"] == body["predictions"][0]["probabilities"]
    finally:
        broker_set(saved)  # as it was: a memory:// backend would fail every later result
    log = (tmp_path / "worker.log").read_text()  # the worker process ran both, not this one
    assert re.search(r"Task worker\.tasks\.ml_serve_predict\[\S+\] succeeded", log), log[-3000:]
    assert re.search(r"Task worker\.tasks\.ml_serve_job\[\S+\] succeeded", log), log[-3000:]
    rows = served_logged(5, project=project)
    assert rows.filter(caller=lead, token=None).count() == 2
    assert rows.filter(caller=None, token__name="line").count() == 3
    kept = PredictionJob.objects.get().inputs
    assert len(kept) == 3 and not any(default_storage.exists(item["file"]) for item in kept)
