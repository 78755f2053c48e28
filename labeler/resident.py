"""A long-lived child process that runs tasks a caller waits on, with no broker.

With no broker (the embedded default) the web process must never import torch, yet a
prediction request must not pay for starting a process and loading a model each time.
So the first request starts one child (``python -m worker.run_resident``), which keeps
its models loaded between requests, and hands it each call as one line of JSON on its
stdin; the child answers with one line on its stdout (``{"ok": true, "result": ...}`` or
``{"ok": false, "error": "..."}``).

Robustness:

- One call at a time: a lock is held from the request's write to its answer's read, so
  concurrent web threads queue in order, and no answer is ever read by the wrong caller.
- A child that died (killed, out of memory, crashed) is found on the next call (its pipe
  broken or its stdout ended) and started again; a call that finds its child gone before
  it was handed the request is retried once on the new child.
- A call that gets no answer within its timeout kills the child (it may be stuck) and
  raises ``ResidentTimeout``; the next call starts a fresh one.
- The child is started with the environment the caller gives (the database, the media
  and model folders); a call with another environment (a test switching databases)
  starts another child in its place.
- At exit the child's stdin is closed, which ends its loop.
"""

from __future__ import annotations

import atexit
import json
import os
import select
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

COMMAND = [sys.executable, "-m", "worker.run_resident"]


class ResidentError(RuntimeError):
    """The child could not answer: it failed on the task, or died while running it."""


class ResidentTimeout(ResidentError):
    """The child gave no answer in time (it was stopped)."""


class _Resident:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.process: subprocess.Popen[bytes] | None = None
        self.env: dict[str, str] = {}

    def call(self, task: str, args: list[Any], *, env: dict[str, str], cwd: Path,
             timeout: float) -> Any:  # fmt: skip
        line = (json.dumps({"task": task, "args": args}) + "\n").encode()
        with self.lock:
            for attempt in (1, 2):
                process = self._running(env, cwd)
                try:
                    assert process.stdin is not None
                    process.stdin.write(line)
                    process.stdin.flush()
                except OSError as exc:  # a broken pipe: it died between calls
                    self._stop()
                    if attempt == 2:
                        raise ResidentError("The prediction process could not start.") from exc
                    continue
                return self._answer(process, timeout)
        raise AssertionError("unreachable")

    def _running(self, env: dict[str, str], cwd: Path) -> subprocess.Popen[bytes]:
        if self.process is not None and (self.process.poll() is not None or env != self.env):
            self._stop()
        if self.process is None:
            self.process = subprocess.Popen(
                COMMAND, cwd=cwd, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                bufsize=0,
            )  # fmt: skip
            self.env = env
        return self.process

    def _answer(self, process: subprocess.Popen[bytes], timeout: float) -> Any:
        assert process.stdout is not None
        descriptor = process.stdout.fileno()
        received = b""
        deadline = time.monotonic() + timeout
        while not received.endswith(b"\n"):
            left = deadline - time.monotonic()
            ready, _, _ = select.select([descriptor], [], [], max(0.0, left))
            if not ready:
                self._stop()
                raise ResidentTimeout(f"The prediction process gave no answer in {timeout:g} s.")
            chunk = os.read(descriptor, 1 << 20)
            if not chunk:
                self._stop()
                raise ResidentError("The prediction process ended while answering.")
            received += chunk
        answer = json.loads(received)
        if not answer.get("ok"):
            raise ResidentError(str(answer.get("error", "The task failed.")))
        return answer["result"]

    def _stop(self) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        if process.poll() is None:
            process.kill()
        process.wait()
        for stream in (process.stdin, process.stdout):
            if stream is not None:
                stream.close()

    def close(self) -> None:
        with self.lock:
            process, self.process = self.process, None
            if process is not None and process.stdin is not None:
                process.stdin.close()  # its loop ends at end of input
                try:
                    process.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            if process is not None and process.stdout is not None:
                process.stdout.close()


_resident = _Resident()
atexit.register(_resident.close)


def resident_call(
    task: str, args: list[Any], *, env: dict[str, str], cwd: Path, timeout: float
) -> Any:
    """Run the named task in the resident child and return its result (see the module)."""
    return _resident.call(task, args, env=env, cwd=cwd, timeout=timeout)


def resident_stop() -> None:
    """Stop the resident child (the next call starts a new one)."""
    _resident.close()
