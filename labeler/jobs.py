"""Enqueue background work by its task's name (``labeler.task_names``), on commit.

With a broker, tasks go to the queue their route names. With none (the embedded default)
Celery runs them in-process, and where depends on the process: in the web server
(``labeler.wsgi`` calls ``run_in_background``) one background thread runs them in the
order they were sent, so a request that starts a training answers at once, as with a
broker, and a countdown is waited out on a timer; an image's previews (``POOLED_TASKS``)
are rendered on a pool of threads, one a core; the tasks that load torch (training,
pre-labelling: ``CHILD_PROCESS_TASKS``) go to a second thread instead, which runs each in
a process of its own (``worker.run_task``), so that the web process never holds torch and
thumbnails keep coming while a model trains; prediction jobs (``RESIDENT_TASKS``) go to
a thread that hands them to the resident child, where the prediction requests' models are
loaded already. Exports have two threads of their own
(``LANE_TASKS``): one writes archives and large exports in turn, the other small ones, so
a JSON file of a few hundred images is never written after a zip of every photo, nor
after the other work on the first thread. Anywhere else (a management command, the
tests, a script) each task runs at once, inside the call that sends it.

With a broker, a task whose sending fails because the broker is down is kept in the
database (``labeler.outbox``) and sent again by beat's ``outbox_send`` once it is back;
it is never run in-process instead.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import json
import logging
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import kombu.exceptions
import redis.exceptions
from celery.canvas import Signature
from django.conf import settings
from django.db import connections, transaction

from labeler import resident
from labeler.outbox import services as outbox_services
from labeler.task_names import Task
from worker.celery_app import app

logger = logging.getLogger(__name__)

# What sending raises while the broker (or the Redis cache beside it) cannot be reached.
UNAVAILABLE: tuple[type[Exception], ...] = (
    kombu.exceptions.OperationalError,
    redis.exceptions.RedisError,
    ConnectionError,
)


# On the web server's background, these run in a child process each (``worker.run_task``):
# they load torch, and a training would hold the one task thread for minutes.
CHILD_PROCESS_TASKS = frozenset(
    {
        Task.ML_TRAIN,
        Task.PRELABEL_DISPATCH,
        Task.ML_PREDICT,
        Task.ML_PACKAGE,
        Task.EXPLANATION_RENDER,
    }
)
# A prediction job runs in the resident child (``labeler.resident``), where the prediction
# requests run: its model is loaded there already, and nothing starts a process for it.
# One thread hands them over in turn, so a job never waits behind a training.
RESIDENT_TASKS = frozenset({Task.ML_SERVE_JOB})
RESIDENT_TASK_TIMEOUT = 1800.0  # seconds: a job still running then is lost (JOB_STALE)
# A version's drift reference runs its test images through the network: torch too.
CHILD_PROCESS_TASKS |= {Task.ML_DRIFT_REFERENCE}
# These run on a thread a core (Pillow lets go of the GIL while it decodes, resizes and
# encodes): a photo's previews take a tenth of a second, and an upload sends hundreds.
POOLED_TASKS = frozenset(
    {
        Task.IMAGE_PREPARE,
        Task.IMAGES_PREPARE,
        Task.IMAGE_PREPARE_FORMER,
        # Faces found (seconds a photo) and copies made again: image work of the same kind.
        Task.FACES_DETECT,
        Task.IMAGES_DERIVE_AGAIN,
    }
)
# The image threads yield to the requests, as docker-compose.yml's CPU worker does with its
# small CPU share (cpu_shares: 128), so that an upload of hundreds of photos is answered at
# the pace of the requests and the previews follow. Each runs at a niceness 10 above the
# server's (a weight of 110 against the 1024 of the request threads and of the model tasks'
# child processes), and starts its next task once no request has been served for
# QUIET_SECONDS (a client's next request comes within it), or after waiting
# POOLED_YIELD_SECONDS (requests that never stop do not starve them).
POOLED_NICE = 10
POOLED_YIELD_SECONDS = 5.0
QUIET_SECONDS = 0.25
# These run on a thread of their own each, in the order sent (``labeler.exports.lanes``
# decides which an export takes): a zip of every photo takes minutes.
LANE_TASKS = {Task.EXPORT_RUN: "labeler-exports", Task.EXPORT_RUN_SMALL: "labeler-small-exports"}


class _Background:
    """Daemon threads that run in-process tasks, each on fresh connections: one runs most
    tasks in turn, one hands ``CHILD_PROCESS_TASKS`` to a child process each, one hands
    ``RESIDENT_TASKS`` to the resident child, one a core
    runs ``POOLED_TASKS`` side by side, and one for each of ``LANE_TASKS`` runs its own."""

    def __init__(self, on_start: Callable[[], object] | None) -> None:
        self._tasks: queue.Queue[Signature | None] = queue.Queue()
        self._child_tasks: queue.Queue[Signature | None] = queue.Queue()
        self._resident_tasks: queue.Queue[Signature | None] = queue.Queue()
        self._pooled_tasks: queue.Queue[Signature | None] = queue.Queue()
        self._lanes: dict[str, queue.Queue[Signature | None]] = {
            name: queue.Queue() for name in LANE_TASKS
        }
        self._on_start = on_start
        self._pending = 1 if on_start else 0  # sent and not yet ended
        self._idle = threading.Condition()
        self._pool_size = max(2, os.cpu_count() or 1)
        self._threads = [
            threading.Thread(target=self._loop, name="labeler-tasks", daemon=True),
            threading.Thread(target=self._child_loop, name="labeler-model-tasks", daemon=True),
            threading.Thread(
                target=self._resident_loop, name="labeler-prediction-jobs", daemon=True
            ),
        ] + [
            threading.Thread(target=self._pooled_loop, name=f"labeler-image-tasks-{n}", daemon=True)
            for n in range(self._pool_size)
        ]
        for task, lane in self._lanes.items():
            name = LANE_TASKS[task]
            self._threads.append(
                threading.Thread(target=self._lane_loop, args=(lane,), name=name, daemon=True)
            )

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def submit(self, signature: Signature) -> None:
        with self._idle:
            self._pending += 1
        name = str(signature.task)
        if name in CHILD_PROCESS_TASKS:
            self._child_tasks.put(signature)
        elif name in RESIDENT_TASKS:
            self._resident_tasks.put(signature)
        elif name in POOLED_TASKS:
            self._pooled_tasks.put(signature)
        elif name in self._lanes:
            self._lanes[name].put(signature)
        else:
            self._tasks.put(signature)

    def submit_in(self, seconds: float, signature: Signature) -> None:
        timer = threading.Timer(seconds, self.submit, args=(signature,))
        timer.daemon = True
        timer.start()

    def stop(self) -> None:
        self._tasks.put(None)  # each thread ends once it reaches this
        self._child_tasks.put(None)
        self._resident_tasks.put(None)
        for _ in range(self._pool_size):
            self._pooled_tasks.put(None)
        for lane in self._lanes.values():
            lane.put(None)

    def wait(self, timeout: float) -> bool:
        """Whether the thread fell idle in time: every task sent, and every task those sent
        in turn, ended (a task still on its timer is not counted)."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout)

    def _loop(self) -> None:
        if self._on_start is not None:
            self._run(self._on_start)
        while (signature := self._tasks.get()) is not None:
            self._run(signature.apply, str(signature.task))  # raises what the task raised

    def _pooled_loop(self) -> None:
        _thread_nice(POOLED_NICE)
        while (signature := self._pooled_tasks.get()) is not None:
            _served.wait_quiet(POOLED_YIELD_SECONDS, QUIET_SECONDS)
            self._run(signature.apply, str(signature.task))

    def _lane_loop(self, lane: queue.Queue[Signature | None]) -> None:
        while (signature := lane.get()) is not None:
            self._run(signature.apply, str(signature.task))

    def _child_loop(self) -> None:
        while (signature := self._child_tasks.get()) is not None:
            self._run(functools.partial(_run_in_child, signature), str(signature.task))

    def _resident_loop(self) -> None:
        while (signature := self._resident_tasks.get()) is not None:
            self._run(functools.partial(_run_in_resident, signature), str(signature.task))

    def _run(self, call: Callable[[], object], name: str = "on_start") -> None:
        try:
            call()
        except Exception:
            logger.exception("In-process task %s failed", name)
        finally:
            connections.close_all()  # this thread's: a task never inherits a stale one
            with self._idle:
                self._pending -= 1
                self._idle.notify_all()


class _Served:
    """The requests this process is serving now (``served``, which wraps the WSGI
    application when the background threads run), and a wait until there are none."""

    def __init__(self) -> None:
        self._count = 0
        self._ended = 0.0  # time.monotonic() when the last request ended
        self._quiet = threading.Condition()

    def wrap(self, application: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(application, updated=())
        def counted(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
            with self._quiet:
                self._count += 1
            try:
                return application(environ, start_response)
            finally:
                with self._quiet:
                    self._count -= 1
                    self._ended = time.monotonic()

        return counted

    def wait_quiet(self, timeout: float, quiet: float) -> bool:
        """Wait until no request has been served for ``quiet`` seconds, at most ``timeout``
        seconds; whether it was quiet."""
        deadline = time.monotonic() + timeout
        with self._quiet:
            while True:
                now = time.monotonic()
                calm = self._ended + quiet - now if not self._count else quiet
                if calm <= 0:
                    return True
                if now >= deadline:
                    return False
                self._quiet.wait(min(calm, deadline - now))


_served = _Served()


def served(application: Callable[..., Any]) -> Callable[..., Any]:
    """``application`` counting the requests it serves, for which the image threads wait."""
    return _served.wrap(application)


def _thread_nice(nice: int) -> None:
    """Lower the calling thread's CPU priority by ``nice`` (to at most 19) on Linux, which
    sets it per thread (the request threads of the same process keep theirs); elsewhere
    nothing: there a thread's id is not a process id, and the call could reach another."""
    if not sys.platform.startswith("linux"):
        return
    thread = threading.get_native_id()
    with contextlib.suppress(OSError):
        now = os.getpriority(os.PRIO_PROCESS, thread)
        os.setpriority(os.PRIO_PROCESS, thread, min(19, now + nice))


def _run_in_child(signature: Signature) -> None:
    """Run the task in a child process (``worker.run_task``) and wait for it to end."""
    command = [
        sys.executable, "-m", "worker.run_task", str(signature.task), json.dumps(signature.args),
    ]  # fmt: skip
    ended = subprocess.run(command, cwd=settings.BASE_DIR, env=_child_env(), check=False)
    if ended.returncode != 0:
        raise RuntimeError(f"its process exited with {ended.returncode}")


def _run_in_resident(signature: Signature) -> None:
    """Run the task in the resident child (``labeler.resident``) and wait for its answer."""
    resident.resident_call(
        str(signature.task), list(signature.args), env=_child_env(), cwd=settings.BASE_DIR,
        timeout=RESIDENT_TASK_TIMEOUT,
    )  # fmt: skip


def _child_env() -> dict[str, str]:
    """This process's environment, with the database and folders it uses now."""
    return {
        **os.environ,
        "LABELER_TASK_DATABASE_NAME": str(connections["default"].settings_dict["NAME"]),
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "LABELER_MODEL_DIR": str(settings.LABELER_MODEL_DIR),
        "LABELER_INPUT_CACHE_DIR": str(settings.LABELER_INPUT_CACHE_DIR),
    }


_background: _Background | None = None
_background_lock = threading.Lock()


def run_in_background(on_start: Callable[[], object] | None = None) -> bool:
    """With no broker, run this process's tasks on a background thread from now on.

    ``on_start`` runs first on that thread (to send again what a stopped server had
    queued). Returns whether that is the mode (False with a broker: workers run tasks).
    """
    global _background
    if not app.conf.task_always_eager:
        return False
    with _background_lock:
        if _background is None:
            _background = _Background(on_start)
            _background.start()  # once it is the runner: what on_start sends goes to it
    return True


def stop_background() -> None:
    """Back to running tasks inline (the thread finishes what it holds, then ends)."""
    global _background
    with _background_lock:
        if _background is not None:
            _background.stop()
        _background = None


def wait_for_background(timeout: float = 60.0) -> bool:
    """Wait until the background threads ran every task sent so far; True if it did in time."""
    runner = _background
    return True if runner is None else runner.wait(timeout)


@functools.cache
def register_tasks() -> None:
    """Import the task modules, once (the first send runs Celery's Django checks)."""
    # Celery's loader imports the modules named in `imports` (worker.tasks).
    app.loader.import_default_modules()


def enqueue(task_name: str, *args: Any, **kwargs: Any) -> None:
    """Send the named task once the current transaction commits (at once outside one).

    If the broker cannot be reached the send is kept in the outbox and sent again by beat.
    """
    register_tasks()
    signature = app.signature(task_name, args=args, kwargs=kwargs)
    # robust: a failure to keep the send (the database down too) is logged, never turned
    # into an error for a committed write.
    transaction.on_commit(_sender(signature, 0.0), robust=True)


def enqueue_in(seconds: float, task_name: str, *args: Any) -> None:
    """Send the named task to run ``seconds`` after the current transaction commits.

    In-process inline there is no worker to wait for it: it runs at once. A send that
    fails for the broker is kept, as ``enqueue``'s, and counts down again when resent.
    """
    register_tasks()
    signature = app.signature(task_name, args=args, countdown=seconds)
    transaction.on_commit(_sender(signature, seconds), robust=True)


def send_now(seconds: float, task_name: str, *args: Any) -> None:
    """Send the named task now (to run ``seconds`` from now), raising what sending raised.

    For callers that keep the intent elsewhere when the broker is down (see
    ``labeler.annotations.changes.labels_changed``); ``enqueue`` keeps such a send in the outbox.
    """
    register_tasks()
    signature = app.signature(task_name, args=args, countdown=seconds or None)
    _sender(signature, seconds, keep=False)()


class CallFailed(RuntimeError):
    """A task the caller waited on did not answer: no worker in time, or it failed."""


def call(task_name: str, *args: Any, timeout: float) -> Any:
    """Run the named task now and return its result, waiting at most ``timeout`` seconds.

    With a broker the task goes to its queue's workers and the result comes back through
    the result backend. With none (the embedded default) it runs in the one resident
    child process (``labeler.resident``), which keeps what it loaded between calls, so
    this process never imports torch. Raises ``CallFailed`` when no answer comes.

    ``bytes`` among the arguments reach the resident child as they are, and a worker as
    base64 text (a broker's message is JSON).
    """
    register_tasks()
    if app.conf.task_always_eager:
        try:
            return resident.resident_call(
                task_name, list(args), env=_child_env(), cwd=settings.BASE_DIR, timeout=timeout
            )
        except resident.ResidentError as exc:
            raise CallFailed(str(exc)) from exc
    try:
        # Expires with the wait: a request answered 503 is not run later for nobody (its
        # answers would enter the served log, and the drift window, as if delivered).
        signature = app.signature(task_name, args=resident.bytes_replaced(args, _base64))
        sent = signature.apply_async(expires=timeout)
        return sent.get(timeout=timeout, disable_sync_subtasks=False)
    except UNAVAILABLE as exc:
        raise CallFailed(f"The task queue cannot be reached: {exc}") from exc
    except Exception as exc:  # Celery's TimeoutError, or what the task raised
        raise CallFailed(f"{type(exc).__name__}: {exc}") from exc


def _base64(blob: bytes) -> str:
    return base64.b64encode(blob).decode()


def outbox_send(*, batch: int = 100) -> int:
    """Send again the tasks kept while the broker was down, oldest first; returns how many.

    Each row is deleted once sent. The first send that fails for the broker ends the run:
    it is still down, and the rest waits for the next run. A row that fails otherwise is
    logged and left for the next run, so it never holds back the rows after it.
    """
    register_tasks()
    sent = after_id = 0
    while pending := outbox_services.outbox_pending(after_id=after_id, count=batch):
        for row in pending:
            after_id = row.pk
            signature = app.signature(
                row.task, args=row.args, kwargs=row.kwargs, options=row.options
            )
            try:
                signature.delay()
            except UNAVAILABLE as exc:
                outbox_services.outbox_failed(pending=row)
                logger.warning("Kept tasks not sent again: the broker is still down (%s)", exc)
                return sent
            except Exception:
                outbox_services.outbox_failed(pending=row)
                logger.exception("Kept task %s (row %s) could not be sent", row.task, row.pk)
                continue
            outbox_services.outbox_sent(pending=row)
            sent += 1
    return sent


def _sender(signature: Signature, seconds: float, *, keep: bool = True) -> Callable[[], None]:
    """The on-commit callback that sends the task (a function: Django logs its name).

    With a broker and ``keep``, a send that fails for the broker is kept in the outbox.
    """

    def send() -> None:
        runner = _background
        if not app.conf.task_always_eager and keep:
            _send_or_keep(signature)
        elif runner is None or not app.conf.task_always_eager:
            signature.delay()  # inline (no broker), or raising for the caller (send_now)
        elif seconds > 0:
            runner.submit_in(seconds, signature)
        else:
            runner.submit(signature)

    send.signature = signature  # type: ignore[attr-defined]  # for tests and debugging
    return send


def _send_or_keep(signature: Signature) -> None:
    """Send to the broker; if it cannot be reached, keep the send for beat to resend."""
    options = dict(signature.options)  # as enqueued: sending may add to them
    try:
        signature.delay()
    except UNAVAILABLE as exc:
        logger.warning("Task %s not sent (%s): kept to send again", signature.task, exc)
        outbox_services.outbox_keep(
            task=str(signature.task),
            args=signature.args,
            kwargs=signature.kwargs,
            options=options,
        )
