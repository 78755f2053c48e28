"""Time the agreement report on a million annotations in PostgreSQL.

    .venv/bin/python bench/agreement.py            # or: .venv/bin/python -m bench.agreement
    .venv/bin/python bench/agreement.py --rebuild  # regenerate and reload the data

DATABASE_URL picks the database (default: a dedicated ``bench_agreement`` database on the
local server, created and migrated here). The synthetic project (``bench.agreement_data``)
is loaded once with COPY and reused while its counts match; ``bench.agreement_steps`` times
the report against the scikit-learn reference and prints the table.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/bench_agreement"


def main(argv: list[str] | None = None) -> int:
    """Prepare the database and the data, time every step, print the table."""
    options = _options(argv)
    from bench.postgres import postgres_configure

    postgres_configure(options.database_url)
    # Models can be imported only once Django is set up, just above.
    from bench.agreement_data import Shape, bench_project, tables_vacuum
    from bench.agreement_steps import Step, print_table, run_steps

    shape = Shape(n_images=options.images, per_image=options.per_image)
    started = time.perf_counter()
    project, loaded = bench_project(shape, rebuild=options.rebuild)
    if loaded:
        tables_vacuum()  # as autovacuum would, so fresh data reads like settled data
    setup = Step(
        "load data (COPY)" if loaded else "check data",
        time.perf_counter() - started,
        f"{shape.n_annotations:,} annotations, {'generated and loaded' if loaded else 'reused'}",
    )
    print_table([setup, *run_steps(project, repeat=options.repeat)])
    return 0


def _options(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Time the agreement report on PostgreSQL.")
    parser.add_argument("--rebuild", action="store_true", help="regenerate and reload the data")
    parser.add_argument("--images", type=int, default=200_000, help="images (default 200000)")
    parser.add_argument("--per-image", type=int, default=5, help="annotators per image (5)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per timed step (median)")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL,
        help=f"PostgreSQL URL (default: DATABASE_URL, else {DEFAULT_DATABASE_URL})",
    )
    return parser.parse_args(argv)


if __name__ == "__main__":
    # Run as a script, the repository root is not on the path: put it there.
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    sys.exit(main())
