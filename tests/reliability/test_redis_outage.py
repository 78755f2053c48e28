"""Redis stops while annotators work: labelling goes on, and the queued work runs once it is back.

gunicorn and the two Celery workers (``bench.load_stack``) use a private Redis as broker
and cache. It is killed (no persistence: whatever it held is gone, as after a crash)
while two annotators keep labelling and the lead asks for a training and an export; then
started again on the same port. Submits must all be acknowledged and stored, quickly; the
project is marked as due a refresh, the training stays queued and the export's task is
kept in the outbox, and all three happen once beat's periodic tasks are sent again.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
from celery import Celery
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.contrib.auth.models import User
from rest_framework.authtoken.models import Token

from bench.load_http import Browser
from bench.load_stack import GunicornSetup, stack_env, stack_running, static_collect
from labeler.annotations.models import Annotation, FinalLabel
from labeler.exports.models import Export, ExportStatus
from labeler.outbox.models import PendingSend
from labeler.predictions.models import RunStatus, TrainingRun
from labeler.projects.models import Project, Role
from tests.factories import ProjectFactory, add_member
from tests.reliability.conftest import PrivateRedis
from tests.reliability.stack import STATIC_ROOT, Answer, call, served_database_url

# The broker's outage matters where there is a broker: production's PostgreSQL and
# Redis (the embedded SQLite default runs tasks in-process), so the suite's SQLite pass
# leaves this to the PostgreSQL one.
pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("needs_postgres"),
]

IMAGES = 12
BEFORE, DURING = 4, 6  # images both annotators label before and during the outage
OUTAGE_SECONDS = 5
PASSWORD = "outage-lead-password"


def _wait_until(condition: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s")
        time.sleep(0.2)


def _label(base_url: str, token: str, project: Project, count: int) -> list[tuple[str, Answer]]:
    """next -> submit ``count`` times; the label alternates by image id, as a consensus."""
    answers = []
    for _ in range(count):
        handed = call(base_url, f"/api/v1/projects/{project.pk}/next/", token=token)
        answers.append(("next", handed))
        if handed.status != 200:
            continue
        image_id = handed.json()["image"]["id"]
        body = {"image": image_id, "labels": ["cat" if image_id % 2 else "dog"]}
        url = f"/api/v1/projects/{project.pk}/annotations/"
        answers.append(("submit", call(base_url, url, token=token, payload=body)))
    return answers


def _beat(redis: PrivateRedis, task: str) -> None:
    """Send a periodic task as celery beat does (to the default queue, see the settings)."""
    app = Celery(broker=redis.url)
    try:
        app.send_task(task, queue="default")
    finally:
        app.close()


def test_labelling_goes_on_while_redis_is_down_and_queued_work_runs_after(
    private_redis: PrivateRedis, make_images, tmp_path: Path
) -> None:
    """Every submit during the outage answers 2xx within 3 s and is stored; the refresh,
    the training and the export asked for meanwhile run once Redis is back."""
    project = ProjectFactory(name="Outage", overlap=2, retrain_after=0, gold_rate=0.0)
    users = [User.objects.create_user(name) for name in ("ann-a", "ann-b", "lead-l")]
    for user in users[:2]:
        add_member(project, user)
    add_member(project, users[2], Role.LEAD)
    tokens = [Token.objects.create(user=user).key for user in users]
    # The server's own hasher (the tests' settings use a faster one).
    users[2].password = PBKDF2PasswordHasher().encode(PASSWORD, "outage-salt")
    users[2].save()
    make_images(project, IMAGES)
    env = stack_env(
        database_url=served_database_url(), redis_url=private_redis.url, var_dir=tmp_path / "var"
    )
    env["STATIC_ROOT"] = str(STATIC_ROOT)  # pages need the manifest (DEBUG off)
    static_collect(env)
    env.update(
        AGREEMENT_REFRESH_SECONDS="1", LABELER_TRAINING_RESEND_SECONDS="0", LOG_LEVEL="WARNING"
    )
    finals = FinalLabel.objects.filter(image__project=project)
    with stack_running(env, GunicornSetup.parse("gthread:1x4"), tmp_path / "logs") as stack:
        before = [a for token in tokens[:2] for a in _label(stack.base_url, token, project, BEFORE)]
        assert all(a.status in (200, 201) for _, a in before), [a.body for _, a in before]
        _wait_until(lambda: finals.count() == BEFORE, "final labels before the outage")

        page = Browser(stack.base_url)
        page.login("lead-l", PASSWORD, f"/projects/{project.pk}/label/")

        private_redis.stop()
        down = time.monotonic()
        during = []
        for _ in range(DURING):  # paced: the outage lasts OUTAGE_SECONDS
            during += [a for token in tokens[:2] for a in _label(stack.base_url, token, project, 1)]
            time.sleep(OUTAGE_SECONDS / DURING)
        pages = [page.get(f"/projects/{project.pk}/label/"), page.get("/")]
        train_url = f"/api/v1/projects/{project.pk}/train/"
        train = call(stack.base_url, train_url, token=tokens[2], payload={})
        exports_url = f"/api/v1/projects/{project.pk}/exports/"
        export = call(stack.base_url, exports_url, token=tokens[2], payload={"format": "jsonl"})
        outage = time.monotonic() - down
        project.refresh_from_db()
        due = project.agreement_refresh_due
        run = TrainingRun.objects.filter(project=project).first()
        queued_export = Export.objects.filter(project=project).first()
        kept = list(PendingSend.objects.values_list("task", flat=True))
        private_redis.start()

        _beat(private_redis, "worker.tasks.agreement_refresh_overdue")
        _beat(private_redis, "worker.tasks.training_runs_resend")
        _beat(private_redis, "worker.tasks.outbox_send")
        _wait_until(lambda: finals.count() == BEFORE + DURING, "final labels after the outage")
        _wait_until(
            lambda: TrainingRun.objects.get(pk=run.pk).status != RunStatus.QUEUED,
            "the training queued during the outage starting",
        )
        _wait_until(
            lambda: Export.objects.get(pk=queued_export.pk).status == ExportStatus.DONE,
            "the export asked for during the outage written",
        )

    submits = [a for kind, a in during if kind == "submit"]
    assert len(submits) == 2 * DURING
    assert all(a.status in (200, 201) for _, a in during), [a.body[:200] for _, a in during]
    assert max(a.seconds for _, a in during) < 3
    assert [answer.status for answer in pages] == [200, 200]  # sessions work without the cache
    assert Annotation.objects.filter(project=project).count() == 2 * (BEFORE + DURING)
    assert train.status == 202, train.body
    assert run is not None and due
    assert export.status == 202, export.body
    assert queued_export is not None and queued_export.status == ExportStatus.QUEUED
    assert "worker.tasks.export_run_small" in kept  # a small JSON Lines export: its own lane
    assert not PendingSend.objects.filter(task="worker.tasks.export_run_small").exists()
    project.refresh_from_db()
    assert not project.agreement_refresh_due
    print(
        f"\nredis outage: {len(during)} requests ({len(submits)} submits) in a "
        f"{outage:.1f} s outage, all acknowledged in at most "
        f"{max(a.seconds for _, a in during):.2f} s and stored; training queued meanwhile "
        f"started after; kept sends {sorted(set(kept))} sent again and the export written; final "
        f"labels {BEFORE} -> {BEFORE + DURING}"
    )
