"""The import benchmark, run tiny so that it keeps working: its export is read as Label
Studio's is, and the script imports it flat, per person, again and into a fuller project
on a PostgreSQL database of its own (``labeler_bench_imports_test``)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from bench.imports_data import ANNOTATORS, label_studio_export
from labeler.imports.reading.sources import LABEL_STUDIO, RECORDS_READERS

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
DATABASE = "labeler_bench_imports_test"


def test_the_export_reads_as_a_label_studio_export_with_what_it_planted() -> None:
    """Read by the Label Studio reader, the generated export gives each annotator's
    annotations with their e-mail, dates and lead time, the ground truth as gold
    decisions and each cancelled annotation as a record not used, as many as planted."""
    tasks, expected = label_studio_export(2000, seed=3)
    records = RECORDS_READERS[LABEL_STUDIO](json.dumps(tasks))
    assert records.tasks == len(records.images) == expected.images == 2000
    assert records.annotation_count() == expected.annotations
    assert records.decision_count() == expected.decisions
    assert [s.reason for s in records.skipped] == ["cancelled in Label Studio (skipped by the "
                                                    "annotator)"] * expected.cancelled  # fmt: skip
    assert {p.email for p in records.people()} == {a["email"] for a in ANNOTATORS}
    # About 10% disagree, 1% cancelled, 1% ground truth: each is there, none is the rule.
    assert 150 < expected.disagreements < 250
    assert 5 < expected.cancelled < 40 and 5 < expected.decisions < 40
    first = next(iter(records.images.values())).annotations[0]
    assert first.created_at is not None and first.lead_time_ms and first.lead_time_ms > 1000
    assert label_studio_export(50, seed=3) == label_studio_export(50, seed=3)


def _database_url() -> str:
    configured = os.environ.get("DATABASE_URL", "")
    if not configured.startswith(("postgres://", "postgresql://")):
        pytest.skip("needs PostgreSQL: set DATABASE_URL=postgres://...")
    return urlunsplit(urlsplit(configured)._replace(path=f"/{DATABASE}"))


@pytest.mark.postgres
def test_a_tiny_run_imports_every_way_with_the_counts_the_export_holds(tmp_path: Path) -> None:
    """Every run's counts match the export (the exit code says so), each row of the table
    is filled and its ratio is against the flat import of the same run."""
    env = {key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"}
    done = subprocess.run(
        [sys.executable, "bench/imports.py", "--images", "30", "--existing", "500",
         f"--database-url={_database_url()}", f"--var-dir={tmp_path}"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "Every run's counts match the export." in done.stdout
    rows = {
        name.strip(): figures.split()
        for name, figures in re.findall(
            r"^(\D+?(?:into \d[\d,]* images)?)\s+(30 +\d[\d,]* +\d[\d,]* .+)$",
            done.stdout,
            re.M,
        )
    }
    assert sorted(rows) == [
        "flat CSV (reference)",
        "per person",
        "per person into 500 images",
        "per person, again",
    ], done.stdout
    # x flat, x flat a label, then x bare: the flat import against its own bare insert.
    assert rows["flat CSV (reference)"][-3:-1] == ["1.00", "1.00"]
    assert all(float(rows[name][-1]) > 0 for name in ("flat CSV (reference)", "per person"))
    assert rows["per person, again"][1:3] == ["0", "0"]  # nothing written the second time
    assert rows["per person"][1] == rows["per person into 500 images"][1] != "0"
    # 30 new images, prepared five to a task.
    assert re.search(r"^Sent and not run .*\b6 images_prepare", done.stdout, re.M)
