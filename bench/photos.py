"""Photos ingested over REST, beside a bare loop that reads, hashes and copies the same files.

    .venv/bin/python bench/photos.py                   # or: make bench-photos
    .venv/bin/python bench/photos.py --count 400 --clients 3 --batch 10
    .venv/bin/python bench/photos.py --embedded      # the embedded default, as make run serves it

Phone-sized photos (4032 x 3024 JPEG, about 3.4 MB each, ``bench/photo_files.py``) are
uploaded through the REST API, ``--batch`` to a request, by ``--clients`` clients at
once, to gunicorn as docker-compose runs it (sync workers, DEBUG off) with the Celery
workers on Redis (the CPU worker with a small CPU share, as there: its session at
niceness 9, a weight near compose's ``cpu_shares: 128``), on a PostgreSQL database of
its own. With ``--embedded``, to the embedded default instead, as ``make run`` serves it
on this machine: Django's threaded server (``manage.py runserver --noreload``, DEBUG on),
a SQLite file of its own, no broker, the previews made on the server's own threads. The
upload answers once each file is stored and hashed; the CPU worker (or those threads)
then decodes each photo once for its thumbnail, its display copy and its model input.
The table gives:

- the reference: a bare Python loop, in this process, that reads each file, hashes it
  (SHA-256) and writes a copy, one after another;
- the upload: photos a second from the first request sent to the last answer, and its
  ratio to the reference (the goal: at least 0.5);
- the previews: seconds from the first request until every photo has its thumbnail,
  display copy and model input, and their ratio to the upload's seconds (goal: at most
  1.5), with the CPU seconds the worker spent a photo, which say how many cores keep up.

Then the cost of blurring faces, in this process, against deriving the copies with
blurring off (``bench/faces.py``).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import signal
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/labeler_bench_photos"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/8"
LEAD = "bench-photos-lead"
UPLOAD_GOAL = 0.5  # of the bare loop's photos a second
PREVIEWS_GOAL = 1.5  # times the upload's seconds
MB = 1_000_000
WORKER_NICE = 9  # a weight of 137 to 1024: docker-compose.yml's cpu_shares 128 for the CPU worker


def main(argv: list[str] | None = None) -> int:
    """Build the photos, time the bare loop, start the stack, upload, wait, print."""
    options = _options(argv)
    signal.signal(signal.SIGTERM, _terminate)  # a plain kill stops the servers too
    from bench.photo_files import photos_write
    from bench.postgres import postgres_configure

    for earlier in ("media", "cache", "copies"):  # stored files of an earlier run
        shutil.rmtree(options.var_dir / earlier, ignore_errors=True)
    paths = photos_write(options.var_dir / "files", options.count)
    reference = _reference(paths, options.var_dir / "copies")
    os.environ["DJANGO_SETTINGS_MODULE"] = "labeler.settings"
    os.environ["MEDIA_ROOT"] = str(options.var_dir / "media")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    if options.embedded:
        results = _embedded_run(options, paths)
        _print(options, reference, results)
        return 0
    postgres_configure(options.database_url)
    from bench.load_stack import (
        GunicornSetup,
        redis_flush,
        stack_env,
        stack_running,
        static_collect,
    )

    redis_flush(options.redis_url)
    project_id, token = _project()
    env = stack_env(
        database_url=options.database_url, redis_url=options.redis_url, var_dir=options.var_dir
    )
    env["LABELER_INPUT_CACHE_DIR"] = str(options.var_dir / "cache" / "inputs")
    static_collect(env)
    gunicorn = GunicornSetup.parse(options.gunicorn)
    logs = options.var_dir / "logs"
    with stack_running(env, gunicorn, logs, worker_nice=WORKER_NICE) as stack:
        results = _run(stack, options, project_id, token, paths)
    _print(options, reference, results)
    from bench.faces import faces_table

    faces_table()  # what blurring faces adds to a photo's copies (bench/faces.py)
    return 0


def _terminate(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)


def _options(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Photos ingested over REST.")
    add = parser.add_argument
    add("--count", type=int, default=200, help="photos to upload (default 200)")
    add("--batch", type=int, default=10, help="photos a request (default 10)")
    add("--clients", type=int, default=3, help="requests at once (default 3)")
    add("--gunicorn", default="sync:3", help="sync:WORKERS or gthread:WORKERSxTHREADS")
    add("--embedded", action="store_true", help="the embedded default: runserver, SQLite")
    add("--database-url", default=os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL)
    add("--redis-url", default=DEFAULT_REDIS_URL, help="a Redis database of its own: flushed")
    add("--var-dir", type=Path, default=ROOT / "var" / "bench_photos", help="cleared: files, logs")
    options = parser.parse_args(argv)
    if options.embedded and options.var_dir == ROOT / "var" / "bench_photos":
        options.var_dir = ROOT / "var" / "bench_photos_embedded"
    options.var_dir = options.var_dir.resolve()
    if options.var_dir == (ROOT / "var").resolve():
        parser.error("--var-dir: a folder of the benchmark's own (its database is removed)")
    return options


def _embedded_run(options: argparse.Namespace, paths: list[Path]) -> dict[str, Any]:
    """The embedded default on a fresh SQLite file: migrated and given the project here,
    then served as ``make run`` serves it on a loopback address (``labeler.first_run``
    execs ``manage.py runserver --noreload`` with DEBUG on), the previews on its threads."""
    import django
    from django.core.management import call_command

    from bench.load_stack import Stack, free_port, stack_running_process
    from labeler.first_run import server_command

    for name in ("CELERY_BROKER_URL", "REDIS_URL", "DATABASE_URL"):
        os.environ.pop(name, None)
    var_dir = options.var_dir
    for earlier in var_dir.glob("labeler.sqlite3*"):
        earlier.unlink()
    os.environ.update(LABELER_VAR_DIR=str(var_dir), DEBUG="1")
    os.environ["LABELER_INPUT_CACHE_DIR"] = str(var_dir / "cache" / "inputs")
    django.setup()
    call_command("migrate", interactive=False, verbosity=0)
    project_id, token = _project()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "LABELER_SITE_URL": url, "PYTHONUNBUFFERED": "1"}
    env.pop("DJANGO_SETTINGS_MODULE")  # manage.py sets it, as for make run
    command = server_command("127.0.0.1", port)  # what make run execs
    stack = Stack(url, env, var_dir / "logs")
    with stack_running_process(stack, "runserver", command) as stack:
        return _run(stack, options, project_id, token, paths, web="runserver", worker=None)


REFERENCE_RUNS = 5


def _reference(paths: list[Path], copies: Path) -> dict[str, float]:
    """The bare loop: read, hash and copy each file in turn (after one read to warm the
    page cache, as the upload's files are warm when its clients read them), the median
    of ``REFERENCE_RUNS`` runs: one run's time varied by 2x with the disk's write-back."""
    for path in paths:
        path.read_bytes()
    times = []
    for _ in range(REFERENCE_RUNS):
        copies.mkdir(parents=True)
        started = time.perf_counter()
        total = 0
        for path in paths:
            data = path.read_bytes()
            hashlib.sha256(data).hexdigest()
            (copies / path.name).write_bytes(data)
            total += len(data)
        times.append(time.perf_counter() - started)
        shutil.rmtree(copies)
    times.sort()
    return {
        "seconds": times[len(times) // 2],
        "fastest": times[0],
        "slowest": times[-1],
        "bytes": total,
    }


def _project() -> tuple[int, str]:
    """A fresh project led by the benchmark's lead, and the lead's API token."""
    from django.contrib.auth.models import User
    from rest_framework.authtoken.models import Token

    from labeler.projects.models import Project
    from labeler.projects.services import project_create

    lead, _ = User.objects.get_or_create(username=LEAD)
    Project.objects.filter(created_by=lead).delete()
    labels = ["beach", "city", "forest", "snow"]
    project = project_create(creator=lead, name="Photos benchmark", labels=labels)
    token, _ = Token.objects.get_or_create(user=lead)
    return project.pk, token.key


def _run(
    stack: Any,
    options: argparse.Namespace,
    project_id: int,
    token: str,
    paths: list[Path],
    *,
    web: str = "gunicorn",
    worker: str | None = "celery-cpu",
) -> dict[str, Any]:
    """Upload every photo, then wait for every photo's previews; the times and CPU."""
    import requests

    from labeler.client import MultipartBody

    url = f"{stack.base_url}/api/v1/projects/{project_id}/images/"
    headers = {"Authorization": f"Token {token}"}
    batches = [paths[at : at + options.batch] for at in range(0, len(paths), options.batch)]
    statuses: dict[str, int] = {}

    def upload(batch: list[Path]) -> None:
        body = MultipartBody(files=[("files", path) for path in batch])
        arguments = body.request_arguments()
        arguments["headers"].update(headers)
        answer = requests.post(url, timeout=600, **arguments)
        if answer.status_code != 201:
            raise RuntimeError(f"an upload answered {answer.status_code}: {answer.text[:300]}")
        for result in answer.json()["results"]:
            statuses[result["status"]] = statuses.get(result["status"], 0) + 1

    workers = _worker_pids(stack, worker) if worker else []
    web_pids = _worker_pids(stack, web)
    cpu_before, web_before = _cpu_seconds(workers), _cpu_seconds(web_pids)
    started = time.perf_counter()
    with ThreadPoolExecutor(options.clients) as pool:
        list(pool.map(upload, batches))
    uploaded = time.perf_counter() - started
    web_cpu = _cpu_seconds(web_pids) - web_before
    ready = _previews_wait(project_id, count=len(paths), started=started)
    return {
        "upload_seconds": uploaded,
        "ready_seconds": ready,
        "statuses": statuses,
        "worker_cpu": _cpu_seconds(workers) - cpu_before if worker else None,
        "web_cpu": web_cpu,
        "web_cpu_all": _cpu_seconds(_worker_pids(stack, web)) - web_before,
    }


def _previews_wait(project_id: int, *, count: int, started: float, timeout: float = 1800) -> float:
    """Seconds from ``started`` until every photo has its thumbnail (set last, once its
    display copy and model input are made) or a noted problem."""
    from labeler.images.models import Image

    images = Image.objects.filter(project_id=project_id)
    while images.exclude(thumbnail="", problem="").count() < count:
        if time.perf_counter() - started > timeout:
            raise RuntimeError(f"previews not made within {timeout} s")
        time.sleep(0.2)
    problems = images.exclude(problem="").count()
    if problems:
        raise RuntimeError(f"{problems} photos could not be decoded")
    return time.perf_counter() - started


def _worker_pids(stack: Any, name: str) -> list[int]:
    """A server's processes: its main process and its pool (gunicorn's, Celery's)."""
    pid = stack.processes[name].pid
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [pid, *map(int, children)]


def _cpu_seconds(pids: list[int]) -> float:
    """User and system CPU seconds the processes have used so far."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


def _print(
    options: argparse.Namespace, reference: dict[str, float], results: dict[str, Any]
) -> None:
    count = options.count
    size = reference["bytes"] / count / MB
    bare_rate = count / reference["seconds"]
    upload_rate = count / results["upload_seconds"]
    served = f"gunicorn {options.gunicorn}"
    if options.embedded:
        served = "embedded default (runserver, SQLite)"
    print(
        f"\n{count} photos of 4032 x 3024, {size:.1f} MB each; {served}, "
        f"{options.clients} clients, {options.batch} photos a request; "
        f"{os.cpu_count()} cores; answers: {results['statuses']}\n"
    )
    print(f"{'':<44} {'seconds':>8} {'photos/s':>9} {'MB/s':>7} {'ratio':>6} {'goal':>6}")
    rows = [
        ("bare loop: read, hash, copy (median)", reference["seconds"], bare_rate, None, ""),
        ("upload over REST, stored and hashed", results["upload_seconds"], upload_rate,
         upload_rate / bare_rate, f">={UPLOAD_GOAL}"),
    ]  # fmt: skip
    for name, seconds, rate, ratio, goal in rows:
        shown = f"{ratio:.2f}" if ratio is not None else ""
        print(f"{name:<44} {seconds:>8.1f} {rate:>9.1f} {rate * size:>7.0f} {shown:>6} {goal:>6}")
    ready = results["ready_seconds"]
    print(
        f"{'previews and model inputs all ready':<44} {ready:>8.1f} {count / ready:>9.1f} "
        f"{'':>7} {ready / results['upload_seconds']:>6.2f} {'<=' + str(PREVIEWS_GOAL):>6}"
    )
    print(
        f"\nThe bare loop: median of {REFERENCE_RUNS} runs, {count / reference['slowest']:.0f} "
        f"to {count / reference['fastest']:.0f} photos/s."
    )
    if options.embedded:
        print(
            f"The server used {results['web_cpu'] / count * 1000:.0f} ms of CPU a photo while "
            "uploading (the requests, and the previews its threads made meanwhile), "
            f"{results['web_cpu_all'] / count * 1000:.0f} ms until every preview was ready."
        )
        return
    print(
        f"gunicorn used {results['web_cpu'] / count * 1000:.0f} ms of CPU a photo while "
        "uploading (multipart parsing, header check, hash, store, rows)."
    )
    cpu = results["worker_cpu"] / count
    print(
        f"The CPU worker used {cpu * 1000:.0f} ms of CPU a photo (thumbnail, display copy and "
        f"model input from one reduced decode): {cpu * upload_rate:.1f} cores keep up with "
        "uploads at this rate."
    )


if __name__ == "__main__":
    # Run as a script, the repository root is not on the path: put it there.
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
