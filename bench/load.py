"""Load benchmark: annotators at scale against the application as production runs it.

    .venv/bin/python bench/load.py                     # or: make bench-load
    .venv/bin/python bench/load.py --sizes 1000,100000 --concurrency 1,8,32 --seconds 10
    .venv/bin/python bench/load.py --gunicorn gthread:3x8 --json var/bench_load/run.json

Starts gunicorn (DEBUG off) and the two Celery workers on a private PostgreSQL database
and Redis database, prepares projects of each size (COPY, reused while their size
matches), logs simulated annotators in through the login form and runs them at each
concurrency: next, the image's file, submit, again. The same levels run as bare SQL (the
floor) for scale. A lead then imports images over REST, exports a labelled project in
the background and opens the pages of the largest project, where an annotator and the
lead also label and review a page in grid mode through Chromium (bench/load_grid.py).
Everything started is stopped at the end, also on errors and Ctrl-C. See
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import signal
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/labeler_bench_load"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/6"
DEFAULT_GUNICORN = "gthread:4x4"
STEPS = ("floor", "import", "export", "pages", "grid")


def main(argv: list[str] | None = None) -> int:
    """Prepare, start the stack, run every level and lead task, print the tables."""
    options = _options(argv)
    # A plain `kill` must stop the servers too: turn SIGTERM into an exception.
    signal.signal(signal.SIGTERM, _terminate)
    from bench.postgres import postgres_configure

    # The application's own settings, whatever the caller's (pytest sets the tests' ones).
    os.environ["DJANGO_SETTINGS_MODULE"] = "labeler.settings"
    os.environ["MEDIA_ROOT"] = str(options.var_dir / "media")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    postgres_configure(options.database_url)
    from bench.load_stack import redis_flush, stack_env, stack_running, static_collect

    redis_flush(options.redis_url)
    prepared = _prepare(options)
    env = stack_env(
        database_url=options.database_url, redis_url=options.redis_url, var_dir=options.var_dir
    )
    static_collect(env)
    # The application's settings, with the framework's floor beside its URLs.
    settings = "bench.load_floor_settings"
    with (
        stack_running(env, options.gunicorn, options.var_dir / "logs", settings=settings) as stack,
        _label_studio(options) as label_studio,
    ):
        results = _run(options, stack, prepared, label_studio)
    _print(results)
    if options.json:
        options.json.parent.mkdir(parents=True, exist_ok=True)
        options.json.write_text(json.dumps(results, indent=1, default=_jsonable))
    return 0


def _jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    return str(value)


def _terminate(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)


def _options(argv: list[str] | None) -> argparse.Namespace:
    from bench.load_stack import GunicornSetup

    def numbers(text: str) -> list[int]:
        return [int(part) for part in text.split(",") if part.strip()]

    parser = argparse.ArgumentParser(description="Annotators at scale, against gunicorn.")
    add = parser.add_argument
    add("--sizes", type=numbers, default=[1_000, 100_000, 1_000_000], help="images per project")
    add("--concurrency", type=numbers, default=[1, 8, 32], help="simulated annotators")
    add("--seconds", type=float, default=10.0, help="length of each level (and floor level)")
    add("--max-loops", type=int, default=100_000, help="loops per annotator at most")
    add("--overlap", type=int, default=1, help="annotators per image")
    add("--per-process", type=int, default=8, help="annotators per load-generator process")
    add("--gunicorn", type=GunicornSetup.parse, default=GunicornSetup.parse(DEFAULT_GUNICORN),
        help=f"gthread:WORKERSxTHREADS or sync:WORKERS (default {DEFAULT_GUNICORN})")  # fmt: skip
    add("--import-images", type=int, default=10_000, help="images to import over REST")
    add("--import-batch", type=int, default=100, help="images per upload request")
    add("--export-images", type=int, default=100_000, help="size of the project to export")
    add("--page-loads", type=int, default=5, help="loads of each page")
    add("--skip", type=lambda t: t.split(","), default=[], help=f"any of {','.join(STEPS)}")
    add("--database-url", default=os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL)
    add("--redis-url", default=DEFAULT_REDIS_URL, help="a Redis database of its own: flushed")
    add("--var-dir", type=Path, default=ROOT / "var" / "bench_load", help="media, static, logs")
    add("--json", type=Path, help="write the raw results here")
    add("--label-studio", action="store_true",
        help="also run each level against Label Studio (bench.load_label_studio)")  # fmt: skip
    options = parser.parse_args(argv)
    unknown = set(options.skip) - set(STEPS)
    if unknown:
        parser.error(f"--skip takes {', '.join(STEPS)}, not {', '.join(sorted(unknown))}")
    options.var_dir = options.var_dir.resolve()
    return options


def _prepare(options: argparse.Namespace) -> dict[str, Any]:
    """Users and projects, each project reset; the export project may be one of the sizes."""
    from bench.load_data import bench_project, project_prepare, users_prepare

    annotators = users_prepare(max(options.concurrency))
    media = options.var_dir / "media"

    def prepare(size: int) -> Any:
        project = project_prepare(size, overlap=options.overlap, annotators=annotators, media=media)
        return bench_project(project)

    projects = {size: prepare(size) for size in options.sizes}
    export = None
    if "export" not in options.skip:
        export = projects.get(options.export_images) or prepare(options.export_images)
    return {"annotators": annotators, "projects": projects, "export": export}


def _label_studio(options: argparse.Namespace) -> Any:
    """Label Studio served beside ours (``--label-studio``), else nothing."""
    if not options.label_studio:
        return contextlib.nullcontext()
    from bench.load_label_studio import label_studio_running

    return label_studio_running(
        database_url=options.database_url,
        gunicorn=options.gunicorn,
        var_dir=options.var_dir,
        annotators=max(options.concurrency),
    )


def _run(
    options: argparse.Namespace, stack: Any, prepared: dict[str, Any], label_studio: Any
) -> dict[str, Any]:
    """Log everyone in, run each size's levels (against Label Studio too, when it runs),
    then the lead's tasks."""
    from bench.load_data import _reset_project, import_project, label_everything
    from bench.load_grid import grid_run
    from bench.load_lead import export_run, images_generate, images_import
    from bench.load_levels import level_run, pages_run

    projects = prepared["projects"]
    landing = f"/projects/{projects[min(projects)].id}/label/"
    started = time.perf_counter()
    logins, lead = _logins(stack.base_url, prepared["annotators"], landing)
    print(f"logged in {len(logins) + 1} users in {time.perf_counter() - started:.1f} s")
    results: dict[str, Any] = {
        "options": {k: str(v) if isinstance(v, Path) else v for k, v in vars(options).items()},
        "levels": [],
        "pages": [],
        "pages_size": max(projects),
        "grid": None,
        "import": None,
        "export": None,
    }
    for size in options.sizes:
        project = projects[size]
        for concurrency in options.concurrency:
            level = level_run(options, stack, project, logins, concurrency, label_studio)
            results["levels"].append(level)
        if size == max(projects) and "pages" not in options.skip:
            results["pages"] = pages_run(lead, project, options.page_loads)
        if size == max(projects) and "grid" not in options.skip:
            annotator = prepared["annotators"][0]
            results["grid"] = grid_run(stack.base_url, project, annotator, lead, options.var_dir)
        _reset_project(project.id)
    if "import" not in options.skip:
        target = import_project(prepared["annotators"], options.var_dir / "media")
        results["import"] = images_import(
            lead, target.pk, images_generate(options.import_images), options.import_batch
        )
    export = prepared["export"]
    if export is not None:
        label_everything(export.id)
        results["export"] = export_run(lead, export.id, export.size)
        _reset_project(export.id)
    return results


def _logins(base_url: str, annotators: list[str], landing: str) -> tuple[list[Any], Any]:
    """Every annotator's session (as the load processes need it) and the lead's browser.

    Logins run four at a time: each costs the server a password hash.
    """
    from bench.load_client import Login
    from bench.load_data import LEAD, PASSWORD
    from bench.load_http import Browser

    def login(username: str) -> Browser:
        browser = Browser(base_url)
        browser.login(username, PASSWORD, landing)
        browser.close()
        return browser

    with ThreadPoolExecutor(4) as pool:
        browsers = list(pool.map(login, [LEAD, *annotators]))
    logins = [
        Login(name, dict(browser.cookies), browser.csrf_token)
        for name, browser in zip(annotators, browsers[1:], strict=True)
    ]
    return logins, browsers[0]


def _print(results: dict[str, Any]) -> None:
    from bench.load_grid import print_grid
    from bench.load_report import (
        print_lead_tasks,
        print_level,
        print_machine,
        print_pages,
        print_summary,
        print_targets,
    )

    for level in results["levels"]:
        print_level(level)
    print_summary(results["levels"])
    if results["pages"]:
        print_pages(results["pages"], results["pages_size"])
    if results["grid"]:
        print_grid(results["grid"])
    print_lead_tasks(results["import"], results["export"])
    print_targets(results["levels"], results["pages"])
    print_machine()


if __name__ == "__main__":
    # Run as a script, the repository root is not on the path: put it there.
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
