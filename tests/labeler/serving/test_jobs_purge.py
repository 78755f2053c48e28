"""The prediction jobs' purge: lost jobs failed, and uploads no job holds deleted."""

from __future__ import annotations

import os
import time
from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone

from labeler.serving import services
from labeler.serving.models import JobStatus, PredictionJob
from tests.factories import ProjectFactory

pytestmark = pytest.mark.django_db


def stored(name: str, hours_old: float = 0) -> str:
    name = default_storage.save(name, ContentFile(b"image bytes"))
    if hours_old:
        when = time.time() - hours_old * 3600
        os.utime(default_storage.path(name), (when, when))
    return name


def job(project, status: str, minutes_old: int, files: list[str]) -> PredictionJob:
    made = PredictionJob.objects.create(
        project=project,
        status=status,
        inputs=[{"uploaded": True, "file": name} for name in files],
    )
    PredictionJob.objects.filter(pk=made.pk).update(
        created_at=timezone.now() - timedelta(minutes=minutes_old)
    )
    return made


def test_a_job_lost_with_its_worker_is_failed_and_its_uploads_deleted():
    project = ProjectFactory()
    lost_file = stored("serving/jobs/901/0-lost")
    lost = job(project, JobStatus.RUNNING, 45, [lost_file])
    waiting = job(project, JobStatus.QUEUED, 5, [stored("serving/jobs/902/0-new")])

    services.prediction_jobs_purge()

    lost.refresh_from_db()
    assert (lost.status, lost.message) == (JobStatus.FAILED, services.JOB_LOST)
    assert not default_storage.exists(lost_file)
    waiting.refresh_from_db()
    assert waiting.status == JobStatus.QUEUED
    assert default_storage.exists(waiting.inputs[0]["file"])


def test_uploads_of_a_request_rolled_back_are_deleted_once_old():
    project = ProjectFactory()
    orphan = stored("serving/jobs/777/0-orphan", hours_old=2)
    in_flight = stored("serving/jobs/778/0-in-flight")  # its request may not have committed yet
    held = job(project, JobStatus.QUEUED, 1, [])
    kept = stored(f"serving/jobs/{held.pk}/0-kept", hours_old=2)

    services.prediction_jobs_purge()

    assert not default_storage.exists(orphan)
    assert default_storage.exists(in_flight)
    assert default_storage.exists(kept)


def test_the_purge_with_no_uploads_at_all_does_nothing():
    assert services.prediction_jobs_purge() == 0
