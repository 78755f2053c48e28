"""Final labels and agreement caches are refreshed in the background, once per burst of writes."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from celery.signals import before_task_publish, task_prerun
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from labeler.agreement.services import image_decide
from labeler.annotations.models import FinalLabel
from labeler.annotations.services import annotation_withdraw
from labeler.cache_keys import agreement_refresh_scheduled as refresh_key
from labeler.task_names import Task
from tests.factories import ProjectFactory, annotation_submit
from worker.celery_app import app
from worker.tasks import agreement_refresh

pytestmark = pytest.mark.django_db


@pytest.fixture
def runs() -> Iterator[list[int]]:
    """Project ids of the refresh tasks run in this process, in order."""
    seen: list[int] = []

    def record(sender=None, args=(), **_: object) -> None:
        if sender is not None and sender.name == Task.AGREEMENT_REFRESH:
            seen.append(args[0])

    task_prerun.connect(record, weak=False)
    yield seen
    task_prerun.disconnect(record)


@pytest.fixture
def sent() -> Iterator[list[dict]]:
    """Refresh tasks sent to a broker (memory), with their headers; eager execution is off."""
    published: list[dict] = []

    def record(sender=None, headers=None, **_: object) -> None:
        if sender == Task.AGREEMENT_REFRESH:
            published.append(headers or {})

    app.conf.task_always_eager = False
    before_task_publish.connect(record, weak=False)
    yield published
    before_task_publish.disconnect(record)
    app.conf.task_always_eager = True
    with app.connection_for_write() as connection:
        connection.default_channel.queue_purge("default")


def label(project, user, image, name, capture):
    with capture(execute=True):
        annotation_submit(project=project, annotator=user, image_id=image.pk, labels=[name])


def test_labels_given_refresh_the_final_labels_through_the_task(
    project, annotator, annotator2, make_images, settings, runs, django_capture_on_commit_callbacks
):
    """No debounce window: each committed label runs the task, which writes the final label."""
    settings.AGREEMENT_REFRESH_SECONDS = 0
    (image,) = make_images(project, 1)
    label(project, annotator, image, "dog", django_capture_on_commit_callbacks)
    assert not FinalLabel.objects.exists()  # one of two annotators so far
    label(project, annotator2, image, "dog", django_capture_on_commit_callbacks)
    assert runs == [project.pk, project.pk]
    final = FinalLabel.objects.get()
    assert (final.image_id, final.method, list(final.labels.values_list("name", flat=True))) == (
        image.pk,
        "consensus",
        ["dog"],
    )
    with django_capture_on_commit_callbacks(execute=True):
        annotation_withdraw(
            project=project, annotator=annotator2, annotation_id=image.annotations.last().pk
        )
    assert runs == [project.pk] * 3 and not FinalLabel.objects.exists()


def test_in_process_a_burst_runs_one_refresh(
    project, annotator, annotator2, make_images, runs, django_capture_on_commit_callbacks
):
    """Without a broker the first write of a burst refreshes at once, the rest ride on it."""
    images = make_images(project, 3)
    for image in images:
        for user in (annotator, annotator2):
            label(project, user, image, "cat", django_capture_on_commit_callbacks)
    assert runs == [project.pk]
    assert cache.get(refresh_key(project.pk)) == 1


def test_with_a_broker_a_burst_sends_one_task_that_sees_every_label(
    project, annotator, annotator2, lead, make_images, sent, django_capture_on_commit_callbacks
):
    """Five labels and a decision in a burst: one task, due after the window; run, it sees all."""
    images = make_images(project, 3)
    before = timezone.now()
    for image in images[:2]:
        for user in (annotator, annotator2):
            label(project, user, image, "bird", django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        image_decide(
            project=project, image_id=images[2].pk, labels=["cat"], decided_by=lead, method="gold"
        )
    assert len(sent) == 1
    eta = datetime.fromisoformat(sent[0]["eta"])
    assert before + timedelta(seconds=10) < eta < timezone.now() + timedelta(seconds=12)
    assert not FinalLabel.objects.filter(method="consensus").exists()

    agreement_refresh(project.pk)  # as the worker runs it when it is due
    finals = dict(FinalLabel.objects.values_list("image_id", "method"))
    assert finals == {images[0].pk: "consensus", images[1].pk: "consensus", images[2].pk: "gold"}

    cache.delete(refresh_key(project.pk))  # the window is over
    label(project, annotator, images[2], "cat", django_capture_on_commit_callbacks)
    assert len(sent) == 2


def test_a_rolled_back_write_schedules_nothing(
    project, annotator, make_images, runs, django_capture_on_commit_callbacks
):
    """A label whose transaction rolls back leaves no refresh and no debounce key behind."""
    (image,) = make_images(project, 1)
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        annotation_submit(project=project, annotator=annotator, image_id=image.pk, labels=["cat"])
        transaction.set_rollback(True)
    assert runs == [] and cache.get(refresh_key(project.pk)) is None


def test_the_task_ignores_a_project_that_is_gone(runs):
    """A refresh due after its project was deleted does nothing."""
    project = ProjectFactory()
    project_id = project.pk
    project.delete()
    agreement_refresh.delay(project_id)
    assert runs == [project_id]


def test_the_task_is_routed_to_the_default_queue():
    """The refresh is CPU work: the default queue, not the GPU one."""
    assert app.amqp.router.route({}, Task.AGREEMENT_REFRESH)["queue"].name == "default"


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_a_worker_over_redis_refreshes_final_labels_after_labels_arrive(
    redis_worker, settings, project, annotator, annotator2, make_images
):
    """Labels submitted in the web process; a worker on Redis writes the consensus label."""
    settings.AGREEMENT_REFRESH_SECONDS = 1
    [image] = make_images(project, 1)
    for user in (annotator, annotator2):
        annotation_submit(project=project, annotator=user, image_id=image.pk, labels=["cat"])
    deadline = time.monotonic() + 20
    while not FinalLabel.objects.filter(image=image).exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    final = FinalLabel.objects.get(image=image)
    assert final.method == "consensus"
    assert [label.name for label in final.labels.all()] == ["cat"]
