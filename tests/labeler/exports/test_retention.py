"""Old exports are deleted, rows and files, by age and by count; never a queued or running one."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone

from labeler.exports import services
from labeler.exports.models import Export, ExportStatus
from labeler.exports.options import export_options_parse
from labeler.exports.retention import exports_purge
from tests.factories import ProjectFactory
from tests.labeler.exports.data import labelled_images

pytestmark = pytest.mark.django_db


def ended(project, *, days_ago: float = 0, status: str = ExportStatus.DONE) -> Export:
    finished = timezone.now() - timedelta(days=days_ago)
    export = Export.objects.create(
        project=project, format="json", status=status, finished_at=finished
    )
    if status == ExportStatus.DONE:
        export.file.save(f"e{export.pk}.json", ContentFile(b"{}"))
    return export


def active(project, status: str, *, days_ago: float = 100) -> Export:
    export = Export.objects.create(project=project, format="json", status=status)
    Export.objects.filter(pk=export.pk).update(created_at=timezone.now() - timedelta(days=days_ago))
    return export


def purge(capture) -> int:
    with capture(execute=True):
        return exports_purge()


def test_exports_older_than_the_days_kept_go_with_their_files(
    project, settings, django_capture_on_commit_callbacks
):
    settings.LABELER_EXPORT_KEEP_DAYS, settings.LABELER_EXPORT_KEEP_LAST = 7, 0
    old, failed_old = ended(project, days_ago=8), ended(project, days_ago=9, status="failed")
    recent = ended(project, days_ago=6)
    assert purge(django_capture_on_commit_callbacks) == 2
    assert list(Export.objects.values_list("pk", flat=True)) == [recent.pk]
    assert not default_storage.exists(old.file.name)
    assert default_storage.exists(recent.file.name)
    assert not Export.objects.filter(pk=failed_old.pk).exists()


def test_only_the_newest_of_each_project_are_kept(
    project, settings, django_capture_on_commit_callbacks
):
    settings.LABELER_EXPORT_KEEP_DAYS, settings.LABELER_EXPORT_KEEP_LAST = 0, 2
    other = ProjectFactory()
    mine = [ended(project) for _ in range(4)]
    theirs = [ended(other) for _ in range(2)]
    assert purge(django_capture_on_commit_callbacks) == 2
    kept = set(Export.objects.values_list("pk", flat=True))
    assert kept == {mine[2].pk, mine[3].pk, *(e.pk for e in theirs)}
    assert not default_storage.exists(mine[0].file.name)
    assert not default_storage.exists(mine[1].file.name)


def test_queued_and_running_exports_are_never_deleted(
    project, settings, django_capture_on_commit_callbacks
):
    settings.LABELER_EXPORT_KEEP_DAYS, settings.LABELER_EXPORT_KEEP_LAST = 1, 1
    waiting = [active(project, ExportStatus.QUEUED), active(project, ExportStatus.RUNNING)]
    newest = ended(project)
    assert purge(django_capture_on_commit_callbacks) == 0
    assert set(Export.objects.values_list("pk", flat=True)) == {*(e.pk for e in waiting), newest.pk}


def test_zero_keeps_everything(project, settings, django_capture_on_commit_callbacks):
    settings.LABELER_EXPORT_KEEP_DAYS, settings.LABELER_EXPORT_KEEP_LAST = 0, 0
    ended(project, days_ago=1000)
    assert purge(django_capture_on_commit_callbacks) == 0
    assert Export.objects.count() == 1


def test_an_export_that_ends_cleans_up_without_beat(
    project, lead, make_images, settings, django_capture_on_commit_callbacks
):
    """The embedded default runs no beat: each export that ends deletes what is past keeping."""
    settings.LABELER_EXPORT_KEEP_DAYS, settings.LABELER_EXPORT_KEEP_LAST = 7, 0
    labelled_images(project, make_images(project, 2), ["cat"])
    old = ended(project, days_ago=30)
    with django_capture_on_commit_callbacks(execute=True):
        new = services.export_start(
            project=project, user=lead, options=export_options_parse({"format": "csv"})
        )
    assert list(Export.objects.values_list("pk", flat=True)) == [new.pk]
    assert not default_storage.exists(old.file.name)


def test_beat_runs_the_cleanup_hourly(settings):
    from labeler.task_names import Task

    [entry] = [e for e in settings.CELERY_BEAT_SCHEDULE.values() if e["task"] == Task.EXPORTS_PURGE]
    assert entry["schedule"] == 3600.0


def test_a_projects_own_days_override_the_servers(
    project, settings, django_capture_on_commit_callbacks
):
    """export_keep_days set: that project's exports keep to it, longer or shorter than the
    server's; null: the server's days."""
    settings.LABELER_EXPORT_KEEP_DAYS, settings.LABELER_EXPORT_KEEP_LAST = 7, 0
    longer, shorter = ProjectFactory(export_keep_days=30), ProjectFactory(export_keep_days=2)
    kept_longer, gone_longer = ended(longer, days_ago=20), ended(longer, days_ago=31)
    kept_shorter, gone_shorter = ended(shorter, days_ago=1), ended(shorter, days_ago=3)
    kept_server, gone_server = ended(project, days_ago=6), ended(project, days_ago=8)
    assert purge(django_capture_on_commit_callbacks) == 3
    assert set(Export.objects.values_list("pk", flat=True)) == {
        kept_longer.pk, kept_shorter.pk, kept_server.pk
    }  # fmt: skip
    for gone in (gone_longer, gone_shorter, gone_server):
        assert not default_storage.exists(gone.file.name)
    assert default_storage.exists(kept_longer.file.name)


def test_the_beat_task_purges_by_the_projects_days(
    project, settings, django_capture_on_commit_callbacks
):
    """The scheduled task (beat, hourly) runs the same purge; the server's rule off, a
    project's own days still apply."""
    from worker.tasks import exports_purge as task

    assert settings.CELERY_BEAT_SCHEDULE["purge-old-exports"]["task"] == task.name
    settings.LABELER_EXPORT_KEEP_DAYS, settings.LABELER_EXPORT_KEEP_LAST = 0, 0
    own = ProjectFactory(export_keep_days=5)
    young, old = ended(own, days_ago=4), ended(own, days_ago=6)
    server_rule_off = ended(project, days_ago=400)
    with django_capture_on_commit_callbacks(execute=True):
        assert task() == 1
    assert set(Export.objects.values_list("pk", flat=True)) == {young.pk, server_rule_off.pk}
    assert not default_storage.exists(old.file.name)
