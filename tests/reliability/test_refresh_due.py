"""A refresh that cannot be scheduled (the cache is down) is kept as due, and run by beat."""

from __future__ import annotations

import pytest
from django.core.cache import caches

from bench.load_stack import free_port
from labeler.annotations.models import FinalLabel
from labeler.flows import agreement_refresh_overdue
from tests.factories import ProjectFactory, UserFactory, add_member, annotation_submit

pytestmark = pytest.mark.django_db


def test_labels_given_while_the_cache_is_down_are_refreshed_by_the_overdue_task(
    settings, make_images, django_capture_on_commit_callbacks
) -> None:
    """Submits succeed with no Redis listening; the project is marked due, and the overdue
    task (once the cache is back) writes its final labels and clears the mark."""
    project = ProjectFactory(overlap=1, retrain_after=0)
    user = UserFactory()
    add_member(project, user)
    images = make_images(project, 2)
    cache_up = settings.CACHES
    settings.CACHES = {
        "default": {
            "BACKEND": "labeler.http.redis_cache.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/0",  # nothing listens there
            "OPTIONS": {"socket_connect_timeout": 1},
        }
    }
    for image in images:
        with django_capture_on_commit_callbacks(execute=True):
            annotation_submit(project=project, annotator=user, image_id=image.pk, labels=["cat"])
    project.refresh_from_db()
    assert project.agreement_refresh_due
    assert not FinalLabel.objects.filter(image__project=project).exists()

    caches["default"].close()
    settings.CACHES = cache_up  # back, as beat's next run finds it
    assert agreement_refresh_overdue() == 1
    project.refresh_from_db()
    assert not project.agreement_refresh_due
    assert FinalLabel.objects.filter(image__project=project).count() == 2
    assert agreement_refresh_overdue() == 0


def test_many_labels_in_one_commit_wait_for_the_down_cache_once(
    settings, make_images, monkeypatch, django_capture_on_commit_callbacks
) -> None:
    """An import's labels each schedule the refresh after the commit: with the cache down,
    the first finds it down and marks the project due; the others do not wait out the
    cache's timeout again."""
    from django.db import transaction

    from labeler.annotations.submit import annotation_record

    project = ProjectFactory(overlap=3, retrain_after=0)
    user = UserFactory()
    add_member(project, user)
    images = make_images(project, 4)
    settings.CACHES = {
        "default": {
            "BACKEND": "labeler.http.redis_cache.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/0",  # nothing listens there
            "OPTIONS": {"socket_connect_timeout": 1},
        }
    }
    attempts: list[int] = []
    add = caches["default"].add

    def counted_add(*args, **kwargs):
        attempts.append(1)
        return add(*args, **kwargs)

    monkeypatch.setattr(caches["default"], "add", counted_add)
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        for image in images:
            annotation_record(project=project, annotator=user, image_id=image.pk, labels=["cat"])
    assert len(attempts) == 1
    project.refresh_from_db()
    assert project.agreement_refresh_due
    caches["default"].close()
