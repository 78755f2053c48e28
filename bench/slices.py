"""Time the slice report on a project of 100,000 images in PostgreSQL.

    .venv/bin/python bench/slices.py            # or: make bench-slices
    .venv/bin/python bench/slices.py --rebuild  # regenerate and reload the data

DATABASE_URL picks the database (default: a dedicated ``bench_slices`` database on the
local server, created and migrated here). The ratings come from the agreement benchmark's
generator (``bench.agreement_data``, loaded by COPY); this script gives the images their
metadata (8 cameras, 4 origins, 3 licences, 12 capture months, 13 tags, and two fields of
the project's own: a choice of 5 sites on every image, a number on 4 in 5), lets the
consensus refresh
write their final labels, and stores a model version's outputs on a tenth of them as its
held-out test images. It then times the report cold and cached against the agreement
report on the same project, computed in the same run.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/bench_slices"
CAMERAS = ["Canon EOS 80D", "Nikon D750", "Pixel 7", "iPhone 13", "Sony A7 III", "GoPro 11",
           "Fujifilm X-T4", "Olympus TG-6"]  # fmt: skip
LICENCES = ["CC BY 4.0", "CC BY-SA 4.0", "CC0 1.0"]
ORIGINS = ["ward A", "ward B", "ward C", "archive"]
SITES = [f"site-{i}" for i in range(5)]
TEST_EVERY = 10  # one final-labelled image in ten is a test image


def main(argv: list[str] | None = None) -> int:
    """Prepare the database and the data, time every step, print the table."""
    options = _options(argv)
    from bench.postgres import postgres_configure

    postgres_configure(options.database_url)
    # Models can be imported only once Django is set up, just above.
    from bench.agreement_data import Shape, bench_project, tables_vacuum
    from bench.agreement_steps import Step, print_table

    shape = Shape(n_images=options.images, per_image=3, n_annotators=20, n_labels=10)
    started = time.perf_counter()
    project, loaded = bench_project(shape, rebuild=options.rebuild)
    described = _describe(project, rebuild=loaded)
    if loaded or described:
        tables_vacuum()
    setup = Step(
        "load data" if loaded or described else "check data",
        time.perf_counter() - started,
        f"{shape.n_images:,} images, {shape.n_annotations:,} annotations, metadata, final "
        f"labels and test outputs, {'made now' if loaded or described else 'reused'}",
    )
    print_table([setup, *run_steps(project, repeat=options.repeat)])
    return 0


def run_steps(project: Any, *, repeat: int = 3) -> list[Any]:
    """Time the report's reads, the report cold and cached, and the agreement report."""
    from bench.agreement_steps import Step
    from bench.timing import timed
    from labeler.agreement.selectors import agreement_compute
    from labeler.slices.data import project_data
    from labeler.slices.report import slice_compute, slice_report, slice_report_current

    data_s, data = timed(lambda: project_data(project), repeat)
    cold_s, report = timed(lambda: slice_compute(project), repeat)
    slice_report(project)  # computes and stores the report unless already cached
    current_s, _ = timed(lambda: slice_report_current(project), max(repeat, 5))
    hit_s, _ = timed(lambda: slice_report(project), max(repeat, 5))
    reference_s, _ = timed(lambda: agreement_compute(project), repeat)
    slices = sum(len(d["slices"]) for d in report["dimensions"])
    flags = ", ".join(f"{f['dimension']}={f['name']} ({f['question']})" for f in report["flags"])
    return [
        Step(
            "project_data",
            data_s,
            f"ratings, final labels, kappa terms ({data.ratings.codes.shape[0]:,} images x "
            f"{data.ratings.codes.shape[1]} annotators); part of the report",
        ),
        Step(
            "slice_compute (cold)",
            cold_s,
            f"{slices} slices of {len(report['dimensions'])} dimensions, "
            f"{report['model']['n_test']:,} test images; flags: {flags or 'none'}",
        ),
        Step(
            "slice_report_current (cached)",
            current_s,
            "no label changed: the watermark's queries and a cache hit",
        ),
        Step("slice_report (recent)", hit_s, "a cache hit: what a page view costs"),
        Step(
            "reference: agreement_compute",
            reference_s,
            f"the agreement report, cold, same project; slices / agreement = "
            f"{cold_s / reference_s:.2f}",
        ),
    ]


def _describe(project: Any, *, rebuild: bool) -> bool:
    """Give the images metadata, final labels and a scored model version, unless they have
    them; returns whether it did."""
    from django.db import connection

    from labeler.agreement.final_labels import final_labels_refresh
    from labeler.images.models import Image

    if not rebuild and Image.objects.filter(project=project, camera="").count() == 0:
        return False
    site, age = _fields(project)
    with connection.cursor() as cursor:
        _metadata_write(cursor, project.pk)
        _field_values_write(cursor, project.pk, site=site.pk, age=age.pk)
    # The ratings came by COPY, which leaves no label history for a refresh to notice.
    final_labels_refresh(project=project)
    _model_store(project)
    return True


def _metadata_write(cursor: Any, project_id: int) -> None:
    """Cameras, licences and capture months by image id; tags on some images. The camera
    "Olympus TG-6" is the one the model will fail on (see ``_model_store``)."""
    cursor.execute(
        """
        UPDATE images_image SET
            camera = (%s::text[])[1 + id %% 8],
            origin = (%s::text[])[1 + id %% 4],
            licence = (%s::text[])[1 + id %% 3],
            captured_at = timestamp with time zone '2025-01-15 12:00+00'
                          + make_interval(months => (id %% 12)::int)
        WHERE project_id = %s
        """,
        [CAMERAS, ORIGINS, LICENCES, project_id],
    )
    cursor.execute("DELETE FROM images_imagetag WHERE image_id IN "
                   "(SELECT id FROM images_image WHERE project_id = %s)", [project_id])  # fmt: skip
    cursor.execute(
        """
        INSERT INTO images_imagetag (image_id, name)
        SELECT id, 'batch-' || (id %% 12) FROM images_image WHERE project_id = %s AND id %% 3 = 0
        UNION ALL
        SELECT id, 'night' FROM images_image WHERE project_id = %s AND id %% 5 = 0
        """,
        [project_id, project_id],
    )


def _fields(project: Any) -> tuple[Any, Any]:
    """The project's two fields, declared through the images layer unless they exist."""
    from labeler.images.catalogue.metadata_fields import field_create
    from labeler.images.models import MetadataField

    found = {field.name: field for field in MetadataField.objects.filter(project=project)}
    site = found.get("site") or field_create(
        project=project, name="site", kind="choice", choices=SITES
    )
    age = found.get("age") or field_create(project=project, name="age", kind="number")
    return site, age


def _field_values_write(cursor: Any, project_id: int, *, site: int, age: int) -> None:
    """A site on every image (by id), an age on four images in five."""
    cursor.execute("DELETE FROM images_fieldvalue WHERE field_id IN (%s, %s)", [site, age])
    cursor.execute(
        """
        INSERT INTO images_fieldvalue (field_id, image_id, text, number, date)
        SELECT %s, id, (%s::text[])[1 + id %% 5], NULL::double precision, NULL::date
        FROM images_image WHERE project_id = %s
        UNION ALL
        SELECT %s, id, NULL, (id %% 90)::float, NULL::date
        FROM images_image WHERE project_id = %s AND id %% 5 <> 0
        """,
        [site, SITES, project_id, age, project_id],
    )


def _model_store(project: Any) -> None:
    """A current model version scored on every tenth final-labelled image: right 85% of
    the time, 60% on one camera's images."""
    import numpy as np

    from labeler.predictions.dataset import training_set
    from labeler.predictions.models import ModelVersion
    from labeler.predictions.test_outputs import TestOutputs, outputs_row

    data = training_set(project)
    rows = np.arange(0, len(data), TEST_EVERY)
    cameras = dict(project.images.filter(pk__in=[data.image_ids[r] for r in rows])
                   .values_list("pk", "camera"))  # fmt: skip
    column = {label_id: j for j, label_id in enumerate(data.label_ids)}
    rng = np.random.default_rng(0)
    truth = np.array([column[data.targets[r][0]] for r in rows])
    failing = np.array([cameras[data.image_ids[r]] == CAMERAS[-1] for r in rows])
    right = rng.random(rows.size) < np.where(failing, 0.6, 0.85)
    k = len(data.label_ids)
    guess = np.where(right, truth, (truth + 1 + rng.integers(0, k - 1, rows.size)) % k)
    probabilities = np.full((rows.size, k), 0.02)
    probabilities[np.arange(rows.size), guess] = 0.82
    ModelVersion.objects.filter(project=project).delete()
    version = ModelVersion.objects.create(project=project, version=1, is_current=True)
    outputs = TestOutputs(
        image_ids=[data.image_ids[r] for r in rows],
        y_true=truth,
        probabilities=probabilities,
        label_ids=data.label_ids,
        multi_label=False,
        thresholds=None,
    )
    outputs_row(version, outputs).save()


def _options(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Time the slice report on PostgreSQL.")
    parser.add_argument("--rebuild", action="store_true", help="regenerate and reload the data")
    parser.add_argument("--images", type=int, default=100_000, help="images (default 100000)")
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
