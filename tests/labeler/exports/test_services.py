"""Background exports: queued, written through the task, stored once complete."""

from __future__ import annotations

import json
import re

import pytest
from django.core.files.storage import default_storage
from django.db import connection
from django.test.utils import CaptureQueriesContext

from labeler.exports import services
from labeler.exports.formats import EXPORTERS, ExportFormat
from labeler.exports.models import Export, ExportStatus
from labeler.exports.options import export_options_parse
from labeler.flows import project_delete
from tests.labeler.exports.data import labelled_images

pytestmark = pytest.mark.django_db


@pytest.fixture
def images(project, make_images):
    images = make_images(project, 5)
    labelled_images(project, images, ["cat", "dog"])
    return images


def start(project, lead, capture, **options) -> Export:
    with capture(execute=True):
        export = services.export_start(
            project=project, user=lead, options=export_options_parse(options)
        )
    export.refresh_from_db()
    return export


def test_the_task_writes_the_file_and_reports_progress_per_batch(
    project, lead, images, django_capture_on_commit_callbacks, monkeypatch
):
    monkeypatch.setattr("labeler.exports.selectors.BATCH", 2)
    with CaptureQueriesContext(connection) as queries:
        export = start(project, lead, django_capture_on_commit_callbacks, format="jsonl")
    assert export.status == ExportStatus.DONE
    assert (export.done, export.total, export.progress) == (5, 5, 1.0)
    assert export.file.name == f"exports/{project.pk}/pets-{project.pk}-{export.pk}.jsonl"
    lines = export.file.open("rb").read().decode().splitlines()
    assert [json.loads(line)["id"] for line in lines] == [image.pk for image in images]
    assert export.size_bytes == export.file.size
    progress = [
        q["sql"] for q in queries if re.match(r'UPDATE "exports_export" SET "done"', q["sql"])
    ]
    assert len(progress) == 3  # after each batch of 2 images, not after each image
    assert export.started_at <= export.finished_at


def test_a_failing_export_ends_failed_with_its_reason_and_no_file(
    project, lead, images, django_capture_on_commit_callbacks, monkeypatch
):
    def broken(source):
        yield b"["
        raise OSError("disk full")

    monkeypatch.setitem(EXPORTERS, "json", ExportFormat(broken, "application/json", "json"))
    export = start(project, lead, django_capture_on_commit_callbacks)
    assert export.status == ExportStatus.FAILED
    assert export.error == "OSError: disk full"
    assert not export.file
    assert not default_storage.exists(f"exports/{project.pk}")


def test_a_redelivered_task_for_a_finished_export_does_nothing(
    project, lead, images, django_capture_on_commit_callbacks
):
    export = start(project, lead, django_capture_on_commit_callbacks)
    assert services.export_run(export_id=export.pk) is None
    again = Export.objects.get(pk=export.pk)
    assert (again.file.name, again.finished_at) == (export.file.name, export.finished_at)


def test_an_interrupted_export_runs_again(project, lead, images):
    export = Export.objects.create(
        project=project,
        format="csv",
        options=export_options_parse({"format": "csv"}).as_dict(),
        status=ExportStatus.RUNNING,
        done=3,
    )
    finished = services.export_run(export_id=export.pk)
    assert finished is not None and finished.status == ExportStatus.DONE
    assert finished.done == 5


def test_deleting_an_export_or_its_project_deletes_the_file(
    project, lead, images, django_capture_on_commit_callbacks
):
    export = start(project, lead, django_capture_on_commit_callbacks)
    name = export.file.name
    with django_capture_on_commit_callbacks(execute=True):
        services.export_delete(export=export)
    assert not default_storage.exists(name)
    other = start(project, lead, django_capture_on_commit_callbacks, format="csv")
    with django_capture_on_commit_callbacks(execute=True):
        project_delete(project=project)
    assert not default_storage.exists(other.file.name)


def test_the_task_is_routed_to_the_default_queue(settings):
    from worker.celery_app import app

    route = app.amqp.router.route({}, "worker.tasks.export_run")
    assert route["queue"].name == "default"
