"""A long-lived process that runs the tasks a caller waits on: ``python -m worker.run_resident``.

With no broker the web server hands prediction requests to one such process
(``labeler.resident``), which keeps models loaded between them. It reads each call from
stdin (``labeler.resident.call_read``: a JSON line, ``{"id": n, "task": NAME, "args":
[...]}``, then the raw bytes its arguments hold), runs each call on a
thread of its own (at most ``THREADS`` at once; the others wait their turn), and writes
one answer line a call, with its ``id``, to the stdout it was given; anything else
printed goes to stderr, so the answers are never mixed with logs. At the end of its
input it finishes the calls it has, writes out the served predictions' log and ends.

The parent passes the database it uses (``LABELER_TASK_DATABASE_NAME``), as for
``worker.run_task``.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import traceback
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from labeler.resident import call_read
from worker.run_task import child_app

THREADS = 32  # calls run at once: more than a web process's threads, so none waits on another


def main() -> int:
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1)
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # prints and logs go to stderr
    app = child_app()
    from django.db import close_old_connections

    from labeler.serving import served_log

    written = threading.Lock()

    def run(call: dict[str, Any]) -> None:
        try:
            close_old_connections()
            result = app.tasks[call["task"]].run(*call.get("args", []))
            line = json.dumps({"id": call.get("id"), "ok": True, "result": result})
        except Exception as exc:
            traceback.print_exc()
            error = f"{type(exc).__name__}: {exc}"
            line = json.dumps({"id": call.get("id"), "ok": False, "error": error})
        finally:
            close_old_connections()  # an idle thread holds no connection past its age
        with written:
            answers.write(line + "\n")

    with ThreadPoolExecutor(max_workers=THREADS, thread_name_prefix="labeler-call") as pool:
        while (call := call_read(sys.stdin.buffer)) is not None:
            pool.submit(run, call)
    served_log.flush(timeout=10)  # within the parent's wait (labeler.resident)
    return 0


if __name__ == "__main__":
    sys.exit(main())
