"""The load generator: simulated annotators in a few processes, threads inside.

Python's lock lets one thread of a process run at a time, so the annotators are spread
over processes (``per_process`` each) to keep the client off the critical path on two
cores. Every process opens its connections, reports ready and waits; the parent then
takes its CPU snapshot and releases them all at once with a shared deadline. Each
process reports its latencies, errors, the images ``next`` handed to each annotator,
and its own CPU time over the timed window (user + system, every thread).

Nothing here imports Django: the processes are started with ``spawn`` and stay light.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import queue
import resource
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from bench.load_http import Browser, Response

CALLS = ("next", "image", "submit")
FLOOR_ROOT = "/bench-floor"  # the framework's floor: bench.load_floor_site
MAX_CONSECUTIVE_ERRORS = 20  # an annotator that keeps failing stops instead of spinning


@dataclass(frozen=True)
class Login:
    """A logged-in browser session, handed to the process that simulates its user."""

    username: str
    cookies: dict[str, str]
    csrf_token: str


@dataclass(frozen=True)
class Plan:
    """What every process of a level needs to know."""

    base_url: str
    project_id: int
    labels: list[str]
    seconds: float
    max_loops: int  # per annotator
    overlap: int = 1
    database_url: str = ""  # the floor's connections
    label_ids: list[int] = field(default_factory=list)  # the floor's labels
    api_root: str = "/api/v1"  # or FLOOR_ROOT


@dataclass
class Tally:
    """What one process (or a whole level, once merged) measured."""

    latencies: dict[str, list[float]] = field(default_factory=dict)  # ms, per call and "loop"
    errors: dict[str, int] = field(default_factory=dict)
    error_samples: list[str] = field(default_factory=list)
    handed: list[tuple[int, str]] = field(default_factory=list)  # (image id, annotator)
    created: int = 0  # submits answered 201
    acknowledged: int = 0  # submits answered 200 or 201
    exhausted: int = 0  # annotators who were told nothing is left (204)
    gave_up: int = 0  # annotators stopped after MAX_CONSECUTIVE_ERRORS
    reconnects: int = 0
    cpu_seconds: float = 0.0
    started: float = 0.0  # time.monotonic() of the first call
    ended: float = 0.0  # time.monotonic() when the last loop ended

    def timed(self, call: str, milliseconds: float) -> None:
        self.latencies.setdefault(call, []).append(milliseconds)

    def error(self, call: str, reason: str) -> None:
        self.errors[call] = self.errors.get(call, 0) + 1
        if len(self.error_samples) < 5:
            self.error_samples.append(f"{call}: {reason}")

    def merge(self, other: Tally) -> None:
        for call, values in other.latencies.items():
            self.latencies.setdefault(call, []).extend(values)
        for call, count in other.errors.items():
            self.errors[call] = self.errors.get(call, 0) + count
        self.error_samples += other.error_samples[: max(0, 5 - len(self.error_samples))]
        self.handed += other.handed
        for name in ("created", "acknowledged", "exhausted", "gave_up", "reconnects"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.cpu_seconds += other.cpu_seconds
        self.started = min((t for t in (self.started, other.started) if t), default=0.0)
        self.ended = max(self.ended, other.ended)


class Annotator:
    """One simulated annotator: next, the image's bytes, submit, again."""

    def __init__(self, plan: Plan, login: Login) -> None:
        self.plan = plan
        self.username = login.username
        self.browser = Browser(plan.base_url, dict(login.cookies), login.csrf_token)
        self.tally = Tally()
        self._failures = 0

    def run(self, deadline: float) -> None:
        loops = 0
        try:
            while time.monotonic() < deadline and loops < self.plan.max_loops:
                try:
                    outcome = self._loop()
                except (ValueError, KeyError, TypeError) as exc:  # an answer of another shape
                    self.tally.error("loop", f"{type(exc).__name__}: {exc}")
                    outcome = "error"
                if outcome == "done":
                    self.tally.exhausted += 1
                    break
                if outcome == "ok":
                    loops += 1
                    self._failures = 0
                else:
                    self._failures += 1
                    if self._failures >= MAX_CONSECUTIVE_ERRORS:
                        self.tally.gave_up += 1
                        break
        finally:
            self.tally.ended = time.monotonic()
            self.tally.reconnects = self.browser.reconnects
            self.browser.close()

    def _loop(self) -> str:
        """One image labelled: "ok", "done" (nothing left) or "error"."""
        started = time.perf_counter()
        answer = self._call("next", "GET", self._next_url())
        if answer is None:
            return "error"
        if answer.status == 204:
            return "done"
        item, image_url = self._handed(answer)
        self.tally.handed.append((item, self.username))
        picture = self._call("image", "GET", image_url)
        if picture is None:
            return "error"
        if not picture.body:
            self.tally.error("image", "empty body")
            return "error"
        url, body = self._submission(item, self.plan.labels[item % len(self.plan.labels)])
        sent = self._call("submit", "POST", url, body)
        if sent is None:
            return "error"
        self.tally.acknowledged += 1
        self.tally.created += sent.status == 201
        self.tally.timed("loop", (time.perf_counter() - started) * 1000)
        return "ok"

    # What differs between the products one loop drives: where the next item comes from,
    # which item and image it is, and how its label is sent.
    def _project(self) -> str:
        return f"{self.plan.api_root}/projects/{self.plan.project_id}"

    def _next_url(self) -> str:
        return f"{self._project()}/next/"

    def _handed(self, answer: Response) -> tuple[int, str]:
        image = answer.json()["image"]
        return image["id"], image["file_url"]

    def _submission(self, item: int, label: str) -> tuple[str, dict[str, Any]]:
        body = {"image": item, "labels": [label], "time_spent_ms": 1000}
        return f"{self._project()}/annotations/", body

    def _call(self, call: str, method: str, url: str, payload: Any = None) -> Response | None:
        """Send one request and time it; None (counted as an error) unless it succeeded."""
        started = time.perf_counter()
        try:
            if payload is None:
                answer = self.browser.request(method, url)
            else:
                answer = self.browser.post_json(url, payload)
        except Exception as exc:  # any failure of the exchange is the server's error here
            self.tally.error(call, f"{type(exc).__name__}: {exc}")
            return None
        if not 200 <= answer.status < 300:
            self.tally.error(call, f"{answer.status} {answer.body[:200]!r}")
            return None
        self.tally.timed(call, (time.perf_counter() - started) * 1000)
        return answer


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def threads_run(workers: Sequence[Any], ready: Any, start: Any, deadline: Any) -> Tally:
    """Report ready, wait for the start, run every worker on its own thread; merged tally.

    Each worker has ``run(deadline)`` and a ``tally``. The CPU time is this process's
    over the timed window only (connections and logins happen before it).
    """
    ready.put(os.getpid())
    start.wait()
    cpu = _cpu_seconds()
    began = time.monotonic()
    threads = [threading.Thread(target=w.run, args=(deadline.value,)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    total = Tally(started=began)
    for worker in workers:
        total.merge(worker.tally)
    total.cpu_seconds = _cpu_seconds() - cpu
    total.started = began
    return total


def annotators_process(
    plan: Plan,
    logins: list[Any],
    ready: Any,
    start: Any,
    deadline: Any,
    results: Any,
    kind: type[Annotator] = Annotator,
) -> None:
    """A load-generator process: its annotators (of ``kind``: Label Studio's has its
    own), each on a thread with its connection."""
    try:
        annotators = [kind(plan, login) for login in logins]
        for annotator in annotators:
            annotator.browser.connect()
        results.put(threads_run(annotators, ready, start, deadline))
    except BaseException as exc:
        results.put(exc)
        raise


def pool_run(
    target: Callable[..., None],
    plan: Plan,
    chunks: Sequence[Sequence[Any]],
    *,
    on_start: Callable[[], Any],
    total: Tally | None = None,
) -> tuple[Tally, Any]:
    """Run ``target(plan, chunk, ...)`` in one spawned process per chunk, timed together.

    ``on_start`` runs once every process is ready, just before they are released; its
    value is returned with the merged tally (``total``, a new ``Tally`` unless given:
    a subclass merges what its processes report beyond the benchmark's fields).
    """
    context = multiprocessing.get_context("spawn")
    ready, results = context.Queue(), context.Queue()
    start, deadline = context.Event(), context.Value("d", 0.0)
    processes = [
        context.Process(target=target, args=(plan, list(chunk), ready, start, deadline, results))
        for chunk in chunks
    ]
    for process in processes:
        process.start()
    try:
        _gather(ready, processes, timeout=180)
        started = on_start()
        deadline.value = time.monotonic() + plan.seconds
        start.set()
        total = Tally() if total is None else total
        for outcome in _gather(results, processes, timeout=plan.seconds + 600):
            if isinstance(outcome, BaseException):
                raise RuntimeError("a load-generator process failed") from outcome
            total.merge(outcome)
        return total, started
    finally:
        for process in processes:
            process.join(timeout=10)
            if process.is_alive():
                process.kill()
                process.join()


def _gather(channel: Any, processes: list[Any], *, timeout: float) -> list[Any]:
    """One message from each process, failing early if one of them dies without one."""
    deadline = time.monotonic() + timeout
    received: list[Any] = []
    while len(received) < len(processes):
        with contextlib.suppress(queue.Empty):
            received.append(channel.get(timeout=0.5))
            continue
        if any(p.exitcode not in (None, 0) for p in processes):
            raise RuntimeError("a load-generator process died; see its traceback above")
        if time.monotonic() > deadline:
            raise RuntimeError(f"load-generator processes did not answer within {timeout} s")
    return received


def chunked(items: Sequence[Any], per_chunk: int) -> list[list[Any]]:
    """Split items into as few chunks of at most ``per_chunk`` as possible, evenly."""
    count = max(1, -(-len(items) // per_chunk))
    return [list(items[n::count]) for n in range(count)]
