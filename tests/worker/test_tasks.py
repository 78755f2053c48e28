"""Tasks run by a real Celery worker over the real Redis broker, and in-process without one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from labeler.annotations.models import FinalLabel
from labeler.exports.options import export_options_parse
from labeler.exports.services import export_start
from labeler.flows import images_ingest
from labeler.images.models import Image
from tests.factories import ProjectFactory, image_bytes
from worker.celery_app import app


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_upload_thumbnail_is_made_by_a_worker_over_redis(redis_worker):
    """Uploading enqueues the thumbnail on commit; a worker on Redis renders and stores it."""
    project = ProjectFactory()
    [result] = images_ingest(project=project, files=[SimpleUploadedFile("a.png", image_bytes())])
    deadline = time.monotonic() + 20
    image = Image.objects.get(pk=result.image_id)
    while not image.thumbnail and time.monotonic() < deadline:
        time.sleep(0.1)
        image.refresh_from_db()
    assert image.thumbnail.name.startswith(f"thumbnails/{project.pk}/")
    assert image.thumbnail.read(3) == b"\xff\xd8\xff"  # a JPEG


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_a_background_export_is_written_by_a_worker_over_redis(redis_worker, lead):
    """POST-ing an export queues it on commit; a worker on Redis writes its file."""
    project = ProjectFactory(labels=["cat", "dog"])
    results = images_ingest(
        project=project, files=[SimpleUploadedFile(f"{i}.png", image_bytes()) for i in range(4)]
    )
    cat = project.labels.get(name="cat")
    for result in results:
        final = FinalLabel.objects.create(image_id=result.image_id, method="consensus")
        final.labels.set([cat])
    export = export_start(
        project=project, user=lead, options=export_options_parse({"format": "jsonl"})
    )
    deadline = time.monotonic() + 20
    while export.status not in ("done", "failed") and time.monotonic() < deadline:
        time.sleep(0.1)
        export.refresh_from_db()
    assert (export.status, export.done, export.total) == ("done", 4, 4)
    lines = export.file.read().decode().splitlines()
    assert [json.loads(line)["final_labels"] for line in lines] == [["cat"]] * 4


@pytest.mark.django_db
def test_without_broker_tasks_run_in_process(django_capture_on_commit_callbacks):
    """With no broker configured the thumbnail is made in the same process, on commit."""
    assert app.conf.task_always_eager
    project = ProjectFactory()
    with django_capture_on_commit_callbacks(execute=True):
        [result] = images_ingest(
            project=project, files=[SimpleUploadedFile("a.png", image_bytes())]
        )
    assert Image.objects.get(pk=result.image_id).thumbnail


@pytest.mark.slow
def test_web_process_and_tasks_module_do_not_import_torch():
    """Loading the URLs (every view) and the tasks module leaves torch and OpenCV (the
    face detector's, ``labeler/images/pixels/face_finding.py``) out of the process, and
    the libraries that take most of a second each to import and that only some requests
    use (scikit-learn, scipy.stats, statsmodels and pandas, boto3): they are imported where
    they are used, so that every process that loads the URLs starts without them."""
    heavy = (
        "torch",
        "torchvision",
        "cv2",
        "sklearn",
        "scipy.stats",
        "statsmodels",
        "pandas",
        "boto3",
    )
    code = (
        "import django, sys; django.setup();"
        "from django.urls import get_resolver; get_resolver().url_patterns;"
        "import api.urls, worker.tasks;"
        f"heavy = [m for m in {heavy!r} if m in sys.modules];"
        "print(heavy); sys.exit(1 if heavy else 0)"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.slow
def test_the_serving_path_imports_no_heat_maps_nor_training_figures():
    """A process's first prediction imports the serving path (``worker.serving``): torch
    and ONNX Runtime, and not what only heat maps (Grad-CAM, which brings matplotlib and
    torch's compiler) or a training run's figures (scikit-learn) need, which took seconds
    more of that first answer. A heat map's request imports them when it comes."""
    code = (
        "import django, sys; django.setup(); import worker.serving;"
        "assert 'torch' in sys.modules;"
        "heavy = [m for m in ('pytorch_grad_cam', 'matplotlib', 'sympy', 'sklearn', "
        "'scipy.stats', 'pandas') if m in sys.modules];"
        "print(heavy); sys.exit(1 if heavy else 0)"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.django_db
def test_an_image_that_fails_to_prepare_never_stops_the_others(monkeypatch, caplog):
    """images_prepare prepares each image in turn: one that raises is logged, the images
    after it are prepared all the same, and its error is raised at the end (so an OSError
    retries the task)."""
    from labeler import flows
    from worker import tasks

    prepared: list[int] = []

    def prepare(*, image_id: int) -> None:
        if image_id == 2:
            raise RuntimeError("image 2 is broken")
        prepared.append(image_id)

    monkeypatch.setattr(flows, "image_prepare", prepare)
    with pytest.raises(RuntimeError, match="image 2 is broken"):
        tasks.images_prepare.run([1, 2, 3])
    assert prepared == [1, 3]
    assert "Preparing image 2 failed" in caplog.text
