"""The soak's simulated annotators: the load benchmark's, with the habits of real people.

Each annotator loops next -> submit over HTTP with its API token. On top of that, at
random: a submit is sent twice (a client retrying after a timeout), a label given
earlier is changed (an edit of a past image), and a few annotators walk away holding a
lease (next, then never submit). Every answer counts; the ledger keeps, per image, the
labels of the last submit the server acknowledged, to be compared with the database.

Nothing here imports Django: the processes are spawned by ``bench.load_client.pool_run``.
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass, field
from typing import Any

from bench.load_client import MAX_CONSECUTIVE_ERRORS, Plan, Tally, threads_run
from bench.load_http import Browser, Response

RETRY_SHARE = 0.15  # submits sent twice
EDIT_SHARE = 0.1  # loops that change an earlier label instead
ABANDON_AFTER = 5  # an abandoning annotator leaves holding its lease after this many loops


@dataclass(frozen=True)
class SoakLogin:
    """An annotator's name and API token, and whether they walk away holding a lease."""

    username: str
    token: str
    abandons: bool = False


@dataclass
class SoakTally(Tally):
    """The benchmark's tally, plus what the database must hold afterwards."""

    # (annotator, image id) -> label of the last acknowledged submit
    ledger: dict[tuple[str, int], str] = field(default_factory=dict)
    abandoned: list[tuple[str, int]] = field(default_factory=list)  # leases left held
    statuses: dict[str, int] = field(default_factory=dict)  # "call status" -> answers
    retries: int = 0
    edits: int = 0

    def merge(self, other: Tally) -> None:
        super().merge(other)
        if isinstance(other, SoakTally):
            self.ledger.update(other.ledger)
            self.abandoned += other.abandoned
            for key, count in other.statuses.items():
                self.statuses[key] = self.statuses.get(key, 0) + count
            self.retries += other.retries
            self.edits += other.edits


class SoakAnnotator:
    """One annotator: next, submit (sometimes twice), sometimes an edit, maybe walking away."""

    def __init__(self, plan: Plan, login: SoakLogin) -> None:
        self.plan = plan
        self.login = login
        self.browser = Browser(plan.base_url)
        self.headers = {"Authorization": f"Token {login.token}"}
        self.tally = SoakTally()
        self.random = random.Random(login.username)
        self.mine: list[int] = []  # images this annotator labelled

    def run(self, deadline: float) -> None:
        loops = failures = 0
        try:
            while time.monotonic() < deadline:
                if self.login.abandons and loops >= ABANDON_AFTER:
                    self._abandon()
                    return
                if self.mine and self.random.random() < EDIT_SHARE:
                    outcome = self._edit()
                else:
                    outcome = self._label()
                if outcome == "done":
                    self.tally.exhausted += 1
                    return
                loops += outcome == "ok"
                failures = 0 if outcome == "ok" else failures + 1
                if failures >= MAX_CONSECUTIVE_ERRORS:
                    self.tally.gave_up += 1
                    return
        finally:
            self.tally.ended = time.monotonic()
            self.browser.close()

    def _label(self) -> str:
        """Next, then submit (twice now and then); "ok", "done" or "error"."""
        answer = self._call("next", "GET", self._url("next/"))
        if answer is None:
            return "error"
        if answer.status == 204:
            return "done"
        image_id = answer.json()["image"]["id"]
        label = self.random.choice(self.plan.labels)
        retried = self.random.random() < RETRY_SHARE
        self.tally.retries += retried
        for _ in range(2 if retried else 1):
            if not self._submit(image_id, label):
                return "error"
        self.mine.append(image_id)
        return "ok"

    def _edit(self) -> str:
        """Change the label of an image labelled before."""
        image_id = self.random.choice(self.mine)
        current = self.tally.ledger[(self.login.username, image_id)]
        label = self.random.choice([name for name in self.plan.labels if name != current])
        self.tally.edits += 1
        return "ok" if self._submit(image_id, label, call="edit") else "error"

    def _abandon(self) -> None:
        """Take an image and leave without labelling it (a closed tab)."""
        answer = self._call("next", "GET", self._url("next/"))
        if answer is not None and answer.status == 200:
            self.tally.abandoned.append((self.login.username, answer.json()["image"]["id"]))

    def _submit(self, image_id: int, label: str, call: str = "submit") -> bool:
        body = {"image": image_id, "labels": [label], "time_spent_ms": 800}
        answer = self._call(call, "POST", self._url("annotations/"), body)
        if answer is None:
            return False
        self.tally.acknowledged += 1
        self.tally.created += answer.status == 201
        self.tally.ledger[(self.login.username, image_id)] = label
        return True

    def _url(self, tail: str) -> str:
        return f"/api/v1/projects/{self.plan.project_id}/{tail}"

    def _call(self, call: str, method: str, url: str, payload: Any = None) -> Response | None:
        """Send one request; None (counted by status) unless it succeeded."""
        started = time.perf_counter()
        try:
            if payload is None:
                answer = self.browser.request(method, url, headers=self.headers)
            else:
                answer = self.browser.request(
                    method,
                    url,
                    json.dumps(payload).encode(),
                    {**self.headers, "Content-Type": "application/json"},
                )
        except Exception as exc:  # a failed exchange is the server's error here
            self.tally.error(call, f"{type(exc).__name__}: {exc}")
            self._count(call, "exception")
            return None
        self._count(call, str(answer.status))
        if not 200 <= answer.status < 300:
            self.tally.error(call, f"{answer.status} {answer.body[:200]!r}")
            return None
        self.tally.timed(call, (time.perf_counter() - started) * 1000)
        return answer

    def _count(self, call: str, outcome: str) -> None:
        key = f"{call} {outcome}"
        self.tally.statuses[key] = self.tally.statuses.get(key, 0) + 1


def soak_process(
    plan: Plan, logins: list[SoakLogin], ready: Any, start: Any, deadline: Any, results: Any
) -> None:
    """A load-generator process for ``pool_run``: its annotators, one thread each."""
    try:
        annotators = [SoakAnnotator(plan, login) for login in logins]
        for annotator in annotators:
            annotator.browser.connect()
        merged = threads_run(annotators, ready, start, deadline)
        total = SoakTally()
        total.merge(merged)
        for annotator in annotators:
            total.merge(_extras(annotator.tally))
        results.put(total)
    except BaseException as exc:
        results.put(exc)
        raise


def _extras(tally: SoakTally) -> SoakTally:
    """The soak's own fields of a tally (its benchmark fields were merged already)."""
    return SoakTally(
        ledger=tally.ledger,
        abandoned=tally.abandoned,
        statuses=tally.statuses,
        retries=tally.retries,
        edits=tally.edits,
    )
