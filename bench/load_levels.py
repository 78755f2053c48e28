"""One level of the load benchmark: a project, a number of annotators, a time limit.

The floor runs first, at the same concurrency, then the simulated annotators against the
server; each starts from a reset project (``_reset_project``, then VACUUM ANALYZE as
autovacuum would), and the second is checked in SQL for what it left, which stays for
the pages a lead opens next. CPU snapshots around each run say where the time went.
"""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any

from bench.load_client import (
    CALLS,
    FLOOR_ROOT,
    Login,
    Plan,
    Tally,
    annotators_process,
    chunked,
    pool_run,
)
from bench.load_cpu import CpuSnapshot, cpu_snapshot, cpu_split
from bench.load_data import BenchProject, _reset_project, level_check, tables_vacuum
from bench.load_floor import floor_process
from bench.load_http import Browser
from bench.load_lead import PageTiming, pages_time
from bench.load_report import level_summary
from labeler.words import counted


def level_run(
    options: argparse.Namespace,
    stack: Any,
    project: BenchProject,
    logins: list[Login],
    concurrency: int,
    label_studio: Any = None,
) -> dict[str, Any]:
    """The HTTP run and (unless skipped) the floor run of one size and concurrency, and
    the same loop against Label Studio when it runs (``bench.load_label_studio``)."""
    plan = Plan(
        base_url=stack.base_url,
        project_id=project.id,
        labels=project.labels,
        seconds=options.seconds,
        max_loops=options.max_loops,
        overlap=options.overlap,
        database_url=options.database_url,
        label_ids=_label_ids(project.id),
    )
    floor = django_floor = None
    chunks = chunked(logins[:concurrency], options.per_process)
    if "floor" not in options.skip:
        users = _user_ids([login.username for login in logins[:concurrency]])
        tally, floor_cpu = _timed(
            stack, project.id, floor_process, plan, chunked(users, options.per_process)
        )
        floor = {**level_summary(tally, calls=(), overlap=options.overlap), "cpu": floor_cpu}
        # The same annotators, client and server, against two bare Django views.
        bare = dataclasses.replace(plan, api_root=FLOOR_ROOT)
        tally, bare_cpu = _timed(stack, project.id, annotators_process, bare, chunks)
        django_floor = {
            **level_summary(tally, calls=CALLS, overlap=options.overlap),
            "cpu": bare_cpu,
        }
        django_floor["server_ms_per_loop"] = server_ms_per_loop(django_floor)
    tally, cpu = _timed(stack, project.id, annotators_process, plan, chunks)
    level: dict[str, Any] = {
        "size": project.size,
        "concurrency": concurrency,
        "gunicorn": str(options.gunicorn),
        "http": level_summary(tally, calls=CALLS, overlap=options.overlap),
        "db": level_check(project.id, options.overlap),
        "cpu": cpu,
        "floor": floor,
        "django_floor": django_floor,
    }
    level["server_ms_per_loop"] = server_ms_per_loop(level["http"] | {"cpu": cpu})
    if label_studio is not None:
        from bench.load_label_studio import level_run as label_studio_level

        level["label_studio"] = label_studio_level(options, label_studio, project.size, concurrency)
    loop_rate = level["http"]["calls"]["loop"]["rate"]
    if floor is not None:
        floor_rate = floor["calls"]["loop"]["rate"]
        level["ours_over_floor"] = loop_rate / floor_rate if floor_rate else 0.0
    print(
        f"{project.size:,} images, {counted(concurrency, 'annotator')}: {loop_rate:.1f} loops/s, "
        f"{level['http']['errors']} errors"
        + (f", floor {floor['calls']['loop']['rate']:.1f} loops/s" if floor else "")
        + (
            f", Label Studio {level['label_studio']['calls']['loop']['rate']:.1f} loops/s"
            if label_studio is not None
            else ""
        ),
        flush=True,
    )
    return level


def server_ms_per_loop(run: dict[str, Any]) -> float:
    """The web server's CPU milliseconds per loop over a run (its gunicorn processes)."""
    loops = run["calls"]["loop"]["count"]
    cpu = run["cpu"]
    return cpu["gunicorn"] * cpu["seconds"] * 1000 / loops if loops else float("nan")


def _timed(
    stack: Any, project_id: int, target: Any, plan: Plan, chunks: list[list[Any]]
) -> tuple[Tally, dict[str, float]]:
    """Reset the project, run the pool, and the CPU split over the run."""
    _reset_project(project_id)
    tables_vacuum()

    def snapshot() -> CpuSnapshot:
        return cpu_snapshot(stack.groups(), _backends())

    tally, start = pool_run(target, plan, chunks, on_start=snapshot)
    return tally, cpu_split(start, snapshot(), tally.cpu_seconds)


def _backends() -> set[int]:
    """PostgreSQL backends of the benchmark's database, other than our own."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return {pid for (pid,) in cursor.fetchall()}


def _label_ids(project_id: int) -> list[int]:
    from labeler.projects.models import Label

    return list(
        Label.objects.filter(project_id=project_id)
        .order_by("position")
        .values_list("pk", flat=True)
    )


def _user_ids(usernames: list[str]) -> list[int]:
    from django.contrib.auth.models import User

    ids = dict(User.objects.filter(username__in=usernames).values_list("username", "pk"))
    return [ids[name] for name in usernames]


def pages_run(lead: Browser, project: BenchProject, loads: int) -> list[PageTiming]:
    """Time the lead's pages on the project as the last level left it, then reset it."""
    try:
        return pages_time(lead, project.id, loads)
    finally:
        _reset_project(project.id)
