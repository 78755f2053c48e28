"""A long-lived process that runs the tasks a caller waits on: ``python -m worker.run_resident``.

With no broker the web server hands prediction requests to one such process
(``labeler.resident``), which keeps models loaded between them. It reads one JSON line
a call (``{"task": NAME, "args": [...]}``) from stdin and writes one answer line to the
stdout it was given; anything else printed goes to stderr, so the answers are never
mixed with logs. It ends at the end of its input.

The parent passes the database it uses (``LABELER_TASK_DATABASE_NAME``), as for
``worker.run_task``.
"""

from __future__ import annotations

import json
import os
import sys
import traceback

from worker.run_task import child_app


def main() -> int:
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1)
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # prints and logs go to stderr
    app = child_app()
    from django.db import close_old_connections

    for line in sys.stdin:
        close_old_connections()
        try:
            call = json.loads(line)
            result = app.tasks[call["task"]].run(*call.get("args", []))
            answer = {"ok": True, "result": result}
        except Exception as exc:
            traceback.print_exc()
            answer = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        answers.write(json.dumps(answer) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
