"""In-process tasks: inline by default, on the server's background thread once asked."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
import time
from collections.abc import Iterator

import pytest

from labeler import jobs
from worker.celery_app import app

RECORD = "tests.labeler.test_jobs.record"
FAIL = "tests.labeler.test_jobs.fail"
SIDE_BY_SIDE = "tests.labeler.test_jobs.side_by_side"
BIG_EXPORT = "tests.labeler.test_jobs.big_export"
SMALL_EXPORT = "tests.labeler.test_jobs.small_export"
NICE = "tests.labeler.test_jobs.nice"
NICE_OWN = "tests.labeler.test_jobs.nice_own"
calls: list[tuple[str, object, float]] = []
# Autocommit, as in a request or a command: a task is sent as soon as it is enqueued.
pytestmark = [pytest.mark.embedded, pytest.mark.django_db(transaction=True)]


@app.task(name=RECORD)
def record(value: object) -> None:
    calls.append((threading.current_thread().name, value, time.monotonic()))


_meeting = threading.Barrier(2, timeout=10)


@app.task(name=SIDE_BY_SIDE)
def side_by_side(value: object) -> None:
    _meeting.wait()  # raises BrokenBarrierError unless another runs at the same time
    record(value)


@app.task(name=FAIL)
def fail() -> None:
    raise RuntimeError("this task fails")


@pytest.fixture(autouse=True)
def fresh_calls():
    calls.clear()


@pytest.fixture
def background():
    assert jobs.run_in_background()
    yield
    assert jobs.wait_for_background(10)
    jobs.stop_background()


def test_outside_the_server_tasks_run_inline():
    """A command, a script or a test: the task has run when enqueue returns."""
    jobs.enqueue(RECORD, 1)
    assert [(name, value) for name, value, _ in calls] == [(threading.current_thread().name, 1)]


def test_background_thread_runs_tasks_in_the_order_sent(background):
    for value in range(5):
        jobs.enqueue(RECORD, value)
    assert jobs.wait_for_background(10)
    assert [value for _, value, _ in calls] == [0, 1, 2, 3, 4]
    assert {name for name, _, _ in calls} == {"labeler-tasks"}


def test_a_failing_task_is_logged_and_the_next_one_still_runs(background, caplog):
    with caplog.at_level(logging.ERROR, logger="labeler.jobs"):
        jobs.enqueue(FAIL)
        jobs.enqueue(RECORD, "after")
        assert jobs.wait_for_background(10)
    assert [value for _, value, _ in calls] == ["after"]
    assert f"In-process task {FAIL} failed" in caplog.text
    assert "this task fails" in caplog.text


def test_a_countdown_is_waited_out_on_the_background_thread(background):
    sent = time.monotonic()
    jobs.enqueue_in(0.5, RECORD, "later")
    deadline = time.monotonic() + 10
    while not calls and time.monotonic() < deadline:
        time.sleep(0.02)
    assert [(name, value) for name, value, _ in calls] == [("labeler-tasks", "later")]
    assert calls[0][2] - sent >= 0.5


def test_what_on_start_sends_goes_to_the_thread():
    """Queued runs sent again at start run on the thread too, after on_start itself."""
    assert jobs.run_in_background(on_start=lambda: jobs.enqueue(RECORD, "resent"))
    try:
        assert jobs.wait_for_background(10)
        assert [(name, value) for name, value, _ in calls] == [("labeler-tasks", "resent")]
    finally:
        jobs.stop_background()


def test_on_start_runs_first_on_the_thread():
    seen: list[str] = []
    assert jobs.run_in_background(on_start=lambda: seen.append(threading.current_thread().name))
    try:
        jobs.enqueue(RECORD, "first task")
        assert jobs.wait_for_background(10)
        assert seen == ["labeler-tasks"]
        assert [value for _, value, _ in calls] == ["first task"]
    finally:
        jobs.stop_background()


def test_with_a_broker_workers_run_the_tasks():
    app.conf.task_always_eager = False
    try:
        assert jobs.run_in_background() is False
        assert jobs.wait_for_background(0.1)  # nothing started, nothing to wait for
    finally:
        app.conf.task_always_eager = True


def test_image_tasks_run_side_by_side_on_a_thread_pool(background, monkeypatch):
    """An upload's previews are rendered on several threads at once: two such tasks
    meet at a barrier that one thread alone would never pass."""
    monkeypatch.setattr(jobs, "POOLED_TASKS", jobs.POOLED_TASKS | {SIDE_BY_SIDE})
    _meeting.reset()
    jobs.enqueue(SIDE_BY_SIDE, "a")
    jobs.enqueue(SIDE_BY_SIDE, "b")

    assert jobs.wait_for_background(15)
    assert sorted(value for _, value, _ in calls) == ["a", "b"]
    names = {name for name, _, _ in calls}
    assert len(names) == 2 and all(n.startswith("labeler-image-tasks-") for n in names)


@app.task(name=NICE)
def nice() -> None:
    record(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))


@app.task(name=NICE_OWN)
def nice_own() -> None:
    record(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a thread's own niceness: Linux")
def test_image_tasks_run_at_a_lower_priority_than_requests(background, monkeypatch):
    """An upload's previews take the CPU the requests leave, as the CPU worker's small
    share does under docker-compose: the pool's threads run at a niceness of 10."""
    monkeypatch.setattr(jobs, "POOLED_TASKS", jobs.POOLED_TASKS | {NICE})
    own = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    jobs.enqueue(NICE)
    jobs.enqueue(NICE_OWN)  # the task thread keeps the server's priority

    assert jobs.wait_for_background(15)
    values = {name.startswith("labeler-image-tasks-"): value for name, value, _ in calls}
    assert values == {True: min(19, own + jobs.POOLED_NICE), False: own}


@contextlib.contextmanager
def _request_held() -> Iterator[list[float]]:
    """A request served through ``jobs.served`` for the block's length; what it yields
    holds, once the block is over, when the request's application returned."""
    ended: list[float] = []
    entered, release = threading.Event(), threading.Event()

    def application(environ: dict[str, object], start_response: object) -> list[bytes]:
        entered.set()
        assert release.wait(10)
        ended.append(time.monotonic())
        return [b"answered"]

    def serve() -> None:
        assert jobs.served(application)({}, lambda *_: None) == [b"answered"]

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        assert entered.wait(10)
        yield ended
    finally:
        release.set()
        thread.join()


def test_image_tasks_wait_until_no_request_is_being_served(background, monkeypatch):
    """A photo's previews start once the requests have been quiet for QUIET_SECONDS: an
    upload of many photos is answered first, the previews follow."""
    monkeypatch.setattr(jobs, "POOLED_TASKS", jobs.POOLED_TASKS | {RECORD})
    monkeypatch.setattr(jobs, "QUIET_SECONDS", 0.3)
    with _request_held() as ended:
        jobs.enqueue(RECORD, "previews")
        time.sleep(0.5)
        assert calls == [], "the image task ran during the request"

    assert jobs.wait_for_background(10)
    [(_, value, ran)] = calls
    assert value == "previews" and ran - ended[0] >= 0.3


def test_requests_that_never_stop_do_not_starve_the_image_tasks(background, monkeypatch):
    """After POOLED_YIELD_SECONDS an image task runs even while a request is served."""
    monkeypatch.setattr(jobs, "POOLED_TASKS", jobs.POOLED_TASKS | {RECORD})
    monkeypatch.setattr(jobs, "POOLED_YIELD_SECONDS", 0.3)
    with _request_held():
        jobs.enqueue(RECORD, "previews")
        assert jobs.wait_for_background(5)
        assert [value for _, value, _ in calls] == ["previews"]


_zip_may_end = threading.Event()


@app.task(name=BIG_EXPORT)
def big_export() -> None:
    # Ends only once the small export has run: on one thread it would wait out its timeout.
    assert _zip_may_end.wait(10), "the small export never ran while this one was running"
    record("zip")


@app.task(name=SMALL_EXPORT)
def small_export() -> None:
    record("json")
    _zip_may_end.set()


def test_a_small_export_does_not_wait_behind_a_zip(monkeypatch):
    """Exports have lanes of their own: a JSON export sent after a long zip ends first."""
    lanes = {BIG_EXPORT: "labeler-exports", SMALL_EXPORT: "labeler-small-exports"}
    monkeypatch.setattr(jobs, "LANE_TASKS", lanes)
    _zip_may_end.clear()
    assert jobs.run_in_background()
    try:
        jobs.enqueue(BIG_EXPORT)
        jobs.enqueue(SMALL_EXPORT)
        assert jobs.wait_for_background(15)
    finally:
        jobs.stop_background()
    assert [(name, value) for name, value, _ in calls] == [
        ("labeler-small-exports", "json"),
        ("labeler-exports", "zip"),
    ]


def test_the_export_tasks_have_their_lanes():
    from labeler.exports.lanes import export_lane
    from labeler.task_names import Task

    assert jobs.LANE_TASKS.keys() == {Task.EXPORT_RUN, Task.EXPORT_RUN_SMALL}
    assert len(set(jobs.LANE_TASKS.values())) == 2
    assert export_lane(format="json", total=49) == Task.EXPORT_RUN_SMALL
    assert export_lane(format="coco", total=49) == Task.EXPORT_RUN_SMALL
    assert export_lane(format="imagefolder", total=49) == Task.EXPORT_RUN
    assert export_lane(format="label-studio-zip", total=1) == Task.EXPORT_RUN
