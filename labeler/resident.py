"""A long-lived child process that runs tasks a caller waits on, with no broker.

With no broker (the embedded default) the web process must never import torch, yet a
prediction request must not pay for starting a process and loading a model each time.
So the first request starts one child (``python -m worker.run_resident``), which keeps
its models loaded between requests, and hands it each call as one line of JSON on its
stdin (``{"id": n, "task": ..., "args": [...], "blobs": [size, ...]}``, ``call_frame``)
followed by the raw bytes the arguments held: each ``bytes`` value among them travels as
it is, marked ``{"$bytes": i}`` in the line, never as base64 inside the JSON (an image
of a prediction request: encoding and parsing 64 of them cost both processes more than
the rest of the transfer). The child answers each call with one line on its stdout
(``{"id": n, "ok": true, "result": ...}`` or ``{"id": n, "ok": false, "error":
"..."}``).

Calls run side by side: the child runs each on a thread of its own and answers in
whatever order they end, so concurrent prediction requests meet in the child's batcher
(``worker.ml.engine``) and run through the model together.

Robustness:

- A reader thread hands each answer to the call of its number, so no answer is ever
  read by the wrong caller.
- A child that died (killed, out of memory, crashed) is found on the next call (its pipe
  broken or its stdout ended) and started again; every call it was running fails
  (``ResidentError``); a call that finds its child gone before it was handed the request
  is retried once on the new child.
- A call that gets no answer within its timeout kills the child (it may be stuck) and
  raises ``ResidentTimeout``; the next call starts a fresh one.
- The child is started with the environment the caller gives (the database, the media
  and model folders); a call with another environment (a test switching databases)
  starts another child in its place.
- At exit the child's stdin is closed, which ends its loop once its calls are answered.
"""

from __future__ import annotations

import atexit
import itertools
import json
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

COMMAND = [sys.executable, "-m", "worker.run_resident"]
BLOB = "$bytes"  # the mark of an argument's bytes sent after the call's line


def bytes_replaced(value: Any, replace: Callable[[bytes], Any]) -> Any:
    """``value`` (JSON's dicts, lists and scalars, and bytes) with each bytes value
    replaced by what ``replace`` makes of it."""
    if isinstance(value, bytes):
        return replace(value)
    if isinstance(value, dict):
        return {key: bytes_replaced(item, replace) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [bytes_replaced(item, replace) for item in value]
    return value


def call_frame(number: int, task: str, args: list[Any]) -> list[bytes]:
    """A call as the child reads it (``call_read``): its line, then its arguments' bytes."""
    blobs: list[bytes] = []

    def mark(blob: bytes) -> dict[str, int]:
        blobs.append(blob)
        return {BLOB: len(blobs) - 1}

    marked = bytes_replaced(args, mark)
    head = {"id": number, "task": task, "args": marked, "blobs": [len(b) for b in blobs]}
    return [(json.dumps(head) + "\n").encode(), *blobs]


def call_read(stream: IO[bytes]) -> dict[str, Any] | None:
    """The next call on ``stream`` (``call_frame``'s), its bytes back in its arguments;
    None once the stream ends (or ends inside a call's bytes)."""
    while line := stream.readline():
        try:
            call = json.loads(line)
        except ValueError:
            continue
        if not isinstance(call, dict):
            continue
        sizes = call.pop("blobs", None) or []
        blobs = [stream.read(size) for size in sizes]
        if any(len(blob) != size for blob, size in zip(blobs, sizes, strict=True)):
            return None
        call["args"] = _blobs_restored(call.get("args", []), blobs)
        return call
    return None


def _blobs_restored(value: Any, blobs: list[bytes]) -> Any:
    if isinstance(value, dict):
        if len(value) == 1 and isinstance(value.get(BLOB), int):
            return blobs[value[BLOB]]
        return {key: _blobs_restored(item, blobs) for key, item in value.items()}
    if isinstance(value, list):
        return [_blobs_restored(item, blobs) for item in value]
    return value


class ResidentError(RuntimeError):
    """The child could not answer: it failed on the task, or died while running it."""


class ResidentTimeout(ResidentError):
    """The child gave no answer in time (it was stopped)."""


class _Call:
    def __init__(self) -> None:
        self.done = threading.Event()
        self.answer: dict[str, Any] | None = None  # still None once done: the child ended


class _Child:
    """One child process, its calls in flight and the thread that reads its answers."""

    def __init__(self, env: dict[str, str], cwd: Path) -> None:
        self.env = env
        self.process = subprocess.Popen(
            COMMAND, cwd=cwd, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE
        )
        self.calls: dict[int, _Call] = {}
        self.lock = threading.Lock()  # the calls in flight; one write to stdin at a time
        self.ended = False
        self.reader = threading.Thread(target=self._read, name="labeler-resident", daemon=True)
        self.reader.start()

    def alive(self, env: dict[str, str]) -> bool:
        return not self.ended and self.process.poll() is None and env == self.env

    def send(self, number: int, frame: list[bytes]) -> _Call:
        call = _Call()
        with self.lock:
            if self.ended:
                raise BrokenPipeError("The prediction process ended.")
            self.calls[number] = call
            try:
                assert self.process.stdin is not None
                self.process.stdin.writelines(frame)
                self.process.stdin.flush()
            except OSError:
                del self.calls[number]
                raise
        return call

    def forget(self, number: int) -> None:
        with self.lock:
            self.calls.pop(number, None)

    def _read(self) -> None:
        assert self.process.stdout is not None
        try:
            for line in self.process.stdout:
                try:
                    answer = json.loads(line)
                except ValueError:
                    continue
                with self.lock:
                    call = self.calls.pop(answer.get("id"), None)
                if call is not None:
                    call.answer = answer
                    call.done.set()
        except (OSError, ValueError):  # its stdout closed under the loop
            pass
        self._end()

    def _end(self) -> None:
        with self.lock:
            self.ended = True
            calls, self.calls = list(self.calls.values()), {}
        for call in calls:  # their answer stays None: the child ended while running them
            call.done.set()

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        self.reader.join(timeout=5)
        self._end()
        self._close_streams()

    def close(self, timeout: float = 15.0) -> None:
        """Close its input (it ends once its calls are answered and its log written:
        ``worker.run_resident``), then wait for it."""
        with self.lock:
            try:
                if self.process.stdin is not None:
                    self.process.stdin.close()
            except OSError:
                pass
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.reader.join(timeout=timeout)
        self._end()
        self._close_streams()

    def _close_streams(self) -> None:
        for stream in (self.process.stdin, self.process.stdout):
            try:
                if stream is not None:
                    stream.close()
            except OSError:
                pass


class _Resident:
    def __init__(self) -> None:
        self.lock = threading.Lock()  # starting and stopping the child
        self.child: _Child | None = None
        self.numbers = itertools.count(1)

    def call(self, task: str, args: list[Any], *, env: dict[str, str], cwd: Path,
             timeout: float) -> Any:  # fmt: skip
        number = next(self.numbers)
        frame = call_frame(number, task, args)
        for attempt in (1, 2):
            child = self._running(env, cwd)
            try:
                call = child.send(number, frame)
            except OSError as exc:  # a broken pipe: it died between calls
                self._stop(child)
                if attempt == 2:
                    raise ResidentError("The prediction process could not start.") from exc
                continue
            if not call.done.wait(timeout):
                child.forget(number)
                self._stop(child)
                raise ResidentTimeout(f"The prediction process gave no answer in {timeout:g} s.")
            answer = call.answer
            if answer is None:
                self._stop(child)
                raise ResidentError("The prediction process ended while answering.")
            if not answer.get("ok"):
                raise ResidentError(str(answer.get("error", "The task failed.")))
            return answer["result"]
        raise AssertionError("unreachable")

    def _running(self, env: dict[str, str], cwd: Path) -> _Child:
        with self.lock:
            child = self.child
            if child is not None and not child.alive(env):
                self.child = None
                child.kill()
            if self.child is None:
                self.child = _Child(env, cwd)
            return self.child

    def _stop(self, child: _Child) -> None:
        with self.lock:
            if self.child is child:
                self.child = None
        child.kill()

    def close(self) -> None:
        with self.lock:
            child, self.child = self.child, None
        if child is not None:
            child.close()


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
