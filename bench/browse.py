"""Time the data browser's first page under each single filter, on a million images.

    make bench-browse                                  # 1,000,000 images, PostgreSQL
    .venv/bin/python bench/browse.py --images 200000   # a smaller project

The project (``bench.browse_data``) is made once in its own database and reused. For each
filter (and each sort) the first page of ``GET /api/v1/projects/{id}/images/`` is asked
for as its lead, through Django's whole request path (authentication, the filters, the
keyset page, the serializer) in this process: the server's time, no network. Each is the
median of ``--repeat`` runs after one warm-up; the table prints it beside the 300 ms goal
and the query alone (filter and page, no serializer).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.timing import timed

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/bench_browse"
GOAL_MS = 300.0
PAGE_SIZE = 100

FILTERS = [
    ("(no filter)", ""),
    ("status=not_started", "status=not_started"),
    ("status=in_progress", "status=in_progress"),
    ("status=complete", "status=complete"),
    ("status=skipped", "status=skipped"),
    ("status=gold", "status=gold"),
    ("status=in_review", "status=in_review"),
    ("final_label=bird", "final_label=bird"),
    ("final_method=gold", "final_method=gold"),
    ("final_label=none", "final_label=none"),
    ("annotator=ann3", "annotator=bench-browse-ann3"),
    ("label=fish", "label=fish"),
    ("labels_min=3", "labels_min=3"),
    ("labels_max=0", "labels_max=0"),
    ("agreement=unanimous", "agreement=unanimous"),
    ("agreement=split", "agreement=split"),
    ("agreement=tie", "agreement=tie"),
    ("confidence_min=0.95", "confidence_min=0.95"),
    ("confidence_max=0.55", "confidence_max=0.55"),
    ("predicted=dog", "predicted=dog"),
    ("model_confidence_min=0.95", "model_confidence_min=0.95"),
    ("model_confidence_max=0.45", "model_confidence_max=0.45"),
    ("model_disagrees=true", "model_disagrees=true"),
    ("model_disagrees=false", "model_disagrees=false"),
    ("suggestion=shown", "suggestion=shown"),
    ("suggestion=accepted", "suggestion=accepted"),
    ("suggestion=changed", "suggestion=changed"),
    ("suggestion=not_shown", "suggestion=not_shown"),
    ("uploaded_after=2026-06-01", "uploaded_after=2026-06-01"),
    ("uploaded_before=2026-01-02", "uploaded_before=2026-01-02"),
    ("name=photo_09999 (rare)", "name=photo_09999"),
    # Metadata: capture time, origin, a box on the map, the project's fields.
    ("captured_after=2024-06-01", "captured_after=2024-06-01"),
    (
        "captured in one hour (rare)",
        "captured_after=2024-03-01T00:00:00Z&captured_before=2024-03-01T01:00:00Z",
    ),
    ("origin=dataset-b", "origin=dataset-b"),
    ("origin=rare-site (rare)", "origin=rare-site"),
    ("bbox=-30,-90,30,90 (wide)", "bbox=-30,-90,30,90"),
    ("bbox=10,10,10.5,10.5 (rare)", "bbox=10,10,10.5,10.5"),
    ("field=site:site-3", "field=site:site-3"),
    ("field=site:rare (rare)", "field=site:rare"),
    ("field=note:note 35 (text)", "field=note:note 35"),
    ("field_min=score:990", "field_min=score:990"),
    ("field_min/max=score:500..501", "field_min=score:500&field_max=score:501"),
    ("field=visit:2024-02-29", "field=visit:2024-02-29"),
    ("field_min=visit:2024-12-25", "field_min=visit:2024-12-25"),
    ("field_contains=note:note 49", "field_contains=note:note 49"),
    ("site, score and origin", "field=site:site-1&field_min=score:900&origin=dataset-b"),
    ("test_split=test", "test_split=test"),
    ("test_split=development", "test_split=development"),
    ("test_split=none", "test_split=none"),
    ("sort=-created_at", "sort=-created_at"),
    ("sort=name", "sort=name"),
    ("sort=-priority", "sort=-priority"),
    ("sort=confidence", "sort=confidence"),
    ("sort=-confidence", "sort=-confidence"),
    ("sort=model_confidence", "sort=model_confidence"),
    ("sort=-model_confidence", "sort=-model_confidence"),
]

# Filters that match no image and cannot use an index: without a budget each walks the
# whole project. They answer within LABELER_FILTER_BUDGET_MS, a page or a 503 that says
# what to add, never seconds more.
NOTHING = [
    ("name=no-such-photo", "name=no-such-photo"),
    ("camera=zz", "camera=zz"),
    ("tag=junk", "tag=junk"),
    ("field_contains=note:zz", "field_contains=note:zz"),
    ("field=site:rare&origin=dataset-a", "field=site:rare&origin=dataset-a"),
    ("agreement=split&labels_max=0", "agreement=split&labels_max=0"),
    ("model_disagrees=true&labels_max=0", "model_disagrees=true&labels_max=0"),
    ("agreement=split&status=not_started", "agreement=split&status=not_started"),
]
TIGHT_BUDGET_MS = 250  # a second pass: what a filter past its budget answers, and when


def main(argv: list[str] | None = None) -> int:
    options = _options(argv)
    # Every page is asked for by one lead: the per-user throttle of filtered listings
    # would answer 429 to the benchmark itself.
    os.environ["LABELER_FILTER_THROTTLE_RATE"] = "1000000/min"
    from bench.postgres import postgres_configure

    # The pages are rendered by Django's test client from the source folders' static files:
    # DEBUG off would ask for the collected files' manifest.
    os.environ.setdefault("DEBUG", "1")

    postgres_configure(options.database_url)
    _jit_off()
    # Django is set up only now, on the chosen database.
    from bench.browse_data import LEAD, project_prepare

    project = project_prepare(options.images)
    from django.contrib.auth.models import User
    from django.test import Client

    client = Client()
    client.force_login(User.objects.get(username=LEAD))
    print(
        f"First page ({PAGE_SIZE} images) of GET /api/v1/projects/{project.pk}/images/ on "
        f"{options.images:,} images, median of {options.repeat} (ms); goal {GOAL_MS:.0f} ms"
    )
    print(f"{'filter':<30} {'server':>8} {'query':>8} {'rows':>5} {'x goal':>7}  verdict")
    slow = 0
    cases = [
        case for case in FILTERS if not options.only or any(o in case[0] for o in options.only)
    ]
    for name, query in cases:
        server, rows = _request_time(client, project, query, options.repeat)
        alone = _query_time(project, query, options.repeat)
        ratio = server / GOAL_MS
        slow += ratio > 1
        verdict = "ok" if ratio <= 1 else "SLOW"
        print(f"{name:<30} {server:>8.1f} {alone:>8.1f} {rows:>5} {ratio:>7.2f}  {verdict}")
    print(f"{len(cases) - slow} of {len(cases)} within {GOAL_MS:.0f} ms")
    if not options.only:
        from django.test import override_settings

        _nothing_report(client, project, options.repeat)
        with override_settings(LABELER_FILTER_BUDGET_MS=TIGHT_BUDGET_MS):
            _nothing_report(client, project, options.repeat)
    return 0


def _nothing_report(client: Any, project: Any, repeat: int) -> None:
    """Filters that match nothing: the answer's time and status under the time budget."""
    from labeler.browse.budget import budget_ms

    limit = budget_ms()
    print(f"\nFilters matching no image, median of {repeat} (ms); budget {limit} ms")
    print(f"{'filter':<36} {'server':>8} {'status':>6} {'x budget':>9}")
    for name, query in NOTHING:
        url = f"/api/v1/projects/{project.pk}/images/?page_size={PAGE_SIZE}&{query}"
        ask = lambda url=url: client.get(url, HTTP_HOST="localhost")  # noqa: E731
        ask()
        seconds, response = timed(ask, repeat)
        if response.status_code not in (200, 503):
            raise SystemExit(f"{url}: {response.status_code} {response.content[:300]!r}")
        ratio = seconds * 1000 / limit if limit else 0.0
        print(f"{name:<36} {seconds * 1000:>8.1f} {response.status_code:>6} {ratio:>9.2f}")


def _jit_off() -> None:
    """As docker-compose runs PostgreSQL: JIT compiling a page's query costs more than it
    saves (a second and more, for plans of many subqueries)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SET jit = off")


def _request_time(client: Any, project: Any, query: str, repeat: int) -> tuple[float, int]:
    url = f"/api/v1/projects/{project.pk}/images/?page_size={PAGE_SIZE}&{query}"

    def ask() -> Any:
        response = client.get(url, HTTP_HOST="localhost")
        if response.status_code != 200:
            raise SystemExit(f"{url}: {response.status_code} {response.content[:300]!r}")
        return response

    ask()  # warm: caches (review candidates), the connection, the plan
    seconds, response = timed(ask, repeat)
    return seconds * 1000, len(response.json()["results"])


def _query_time(project: Any, query: str, repeat: int) -> float:
    from django.contrib.auth.models import User
    from django.http import QueryDict

    from bench.browse_data import LEAD
    from labeler.browse.filters import images_filtered, param_values
    from labeler.browse.sorts import images_page

    lead = User.objects.get(username=LEAD)
    params = QueryDict(query)
    sort = (param_values(params, "sort") or ["id"])[-1]

    def page() -> Any:
        images = images_filtered(project, params, user=lead)
        return images_page(images, sort=sort, cursor=None, size=PAGE_SIZE)

    seconds, _ = timed(page, repeat)
    return seconds * 1000


def _options(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Time the data browser's first pages.")
    parser.add_argument("--images", type=int, default=1_000_000, help="images (1000000)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per filter (median)")
    parser.add_argument(
        "--only", nargs="+", metavar="TEXT", help="only the filters whose name holds a TEXT"
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_BROWSE_DATABASE_URL") or DEFAULT_DATABASE_URL,
        help=f"PostgreSQL URL (default: BENCH_BROWSE_DATABASE_URL, else {DEFAULT_DATABASE_URL})",
    )
    return parser.parse_args(argv)


if __name__ == "__main__":
    raise SystemExit(main())
