"""Time importing every person's labels from a Label Studio export, against a flat import.

    .venv/bin/python bench/imports.py                      # or: make bench-imports
    .venv/bin/python bench/imports.py --images 20000 --existing 1000000
    .venv/bin/python bench/imports.py --images 500 --existing 0 --profile var/imports.prof

An archive of ``--images`` small real PNG and JPEG files and a Label Studio JSON export
of them (``bench.imports_data``: three annotators by e-mail, disagreements, cancelled
annotations, ground truth, dates and lead times) is imported as the archive endpoint
imports it (``archive_read``, ``archive_import_plan``, ``labeler.flows.images_import``), on a
PostgreSQL database of its own (DATABASE_URL, else ``labeler_bench_imports`` on the
local server, created and migrated here). Two of the three annotators are members of
the project, matched by e-mail; the third gets an account of their own.

Measured, each after a small warm-up import, with its wall time, images and labels
written per second, and the process's peak resident memory (VmHWM, reset before each):

- **flat** (the reference): the same images in an archive with a CSV of one final label
  per image (``labels_format=csv``, ``labels_as=final``), into a new project;
- **per person**: the Label Studio archive into a new project (one annotation per person
  and image, a gold decision per ground truth, a record not applied per cancellation);
- **again**: the same archive into the same project (every image a duplicate, every
  annotation already recorded: nothing written);
- **into N images**: the Label Studio archive into a project that already holds
  ``--existing`` images (rows loaded by COPY, ``bench.load_data``; reused between runs,
  the imported images removed after), to show that finding duplicates and writing
  annotations do not slow down with the project's size.

The background work an import sends (each new image's previews, one final-labels
refresh) is counted, not run, as a broker would queue it; the refresh of the per-person
project is then timed on its own. Each run's counts are checked against what the export
holds; the exit code says whether all matched (2: the export would be over the size a
labels file may have, ``MAX_LABELS_FILE_BYTES``: about 12,000 images).
"""

from __future__ import annotations

import argparse
import cProfile
import dataclasses
import os
import pstats
import re
import shutil
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/labeler_bench_imports"
DEFAULT_IMAGES, DEFAULT_EXISTING, WARM_UP = 5000, 200_000, 40
LEAD = "bench-imports-lead"
PROJECTS = "Imports benchmark: "
LABEL_STUDIO, CSV = "label-studio", "csv"


@dataclass
class Run:
    """One timed import: what it wrote, how long it took, its memory and its sends."""

    name: str
    images: int
    plan_seconds: float
    seconds: float
    summary: Any
    rss_kib: int
    peak_kib: int
    sends: Counter[str] = field(default_factory=Counter)
    paces: list[float] = field(default_factory=list)  # when each file was asked for
    problems: list[str] = field(default_factory=list)
    bare_seconds: float | None = None  # the same rows bulk-inserted into the same tables

    @property
    def bare_ratio(self) -> float | None:
        """The import's pace as a share of the bare bulk insert's (goal: 0.5)."""
        return self.bare_seconds / self.seconds if self.bare_seconds else None

    def tenth_ms(self, last: bool) -> float:
        """Milliseconds per file over the first (or last) tenth of the files."""
        tenth = max(1, len(self.paces) // 10)
        span = self.paces[-tenth - 1 :] if last else self.paces[: tenth + 1]
        return (span[-1] - span[0]) / max(1, len(span) - 1) * 1000

    @property
    def written(self) -> int:
        """Labels written: annotations and decisions (an unchanged one is not written)."""
        return self.summary.annotations_written + self.summary.decisions_written


def main(argv: list[str] | None = None) -> int:
    """Build the archives, run the imports, print the table; 1 when a count was wrong."""
    options = _options(argv)
    from bench.imports_data import archives_write
    from bench.postgres import postgres_configure

    os.environ["MEDIA_ROOT"] = str(options.var_dir / "media")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    postgres_configure(options.database_url)
    from labeler.imports.reading.loader import MAX_LABELS_FILE_BYTES

    started = time.perf_counter()
    per_person, flat, expected = archives_write(options.var_dir / "data", options.images)
    warm_person, warm_flat, _ = archives_write(options.var_dir / "warm-up", WARM_UP, seed=1)
    print(f"archives of {options.images:,} images written in "
          f"{time.perf_counter() - started:.1f} s", flush=True)  # fmt: skip
    if expected.export_bytes > MAX_LABELS_FILE_BYTES:
        print(
            f"The export of {options.images:,} images is {expected.export_bytes:,} bytes, "
            f"over the {MAX_LABELS_FILE_BYTES:,} a labels file may hold: ask for fewer."
        )
        return 2
    lead = _people_prepare(options)
    _run(_project_new("warm-up flat", lead, options), warm_flat, CSV, "warm-up", lead)
    _run(_project_new("warm-up", lead, options), warm_person, LABEL_STUDIO, "warm-up", lead)
    profiled = {options.profile_run: options.profile}
    flat_project = _project_new("flat", lead, options)
    with _profiled(profiled.get("flat")):
        runs = [_run(flat_project, flat, CSV, "flat CSV (reference)", lead)]
    runs[0].bare_seconds = _bare_insert(flat_project, _project_new("bare flat", lead, options))
    project = _project_new("per person", lead, options)
    with _profiled(profiled.get("per-person")):
        runs.append(_run(project, per_person, LABEL_STUDIO, "per person", lead))
    runs[-1].bare_seconds = _bare_insert(project, _project_new("bare insert", lead, options))
    with _profiled(profiled.get("again")):
        runs.append(_run(project, per_person, LABEL_STUDIO, "per person, again", lead))
    refresh = _refresh_time(project)
    if options.existing:
        runs.append(_existing_run(options, per_person, lead))
    for run in runs:
        run.problems = _checks(run, expected)
    _print(options, runs, refresh)
    return 1 if any(run.problems for run in runs) else 0


def _options(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Time per-person imports against flat ones.")
    add = parser.add_argument
    add("--images", type=int, default=DEFAULT_IMAGES, help="images in the archive")
    add("--existing", type=int, default=DEFAULT_EXISTING,
        help="images already in the project of the last run (1000000 for the million; "
             "0 leaves that run out)")  # fmt: skip
    add("--database-url", default=os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL,
        help=f"PostgreSQL URL (default: DATABASE_URL, else {DEFAULT_DATABASE_URL})")  # fmt: skip
    add("--var-dir", type=Path, default=ROOT / "var" / "bench_imports", help="archives, media")
    add("--profile", type=Path, help="profile one run (cProfile) into this file")
    add("--profile-run", choices=("flat", "per-person", "again"), default="per-person",
        help="the run --profile profiles (default: per-person)")  # fmt: skip
    options = parser.parse_args(argv)
    if options.images < 1 or options.existing < 0:
        parser.error("--images must be at least 1 and --existing at least 0")
    options.var_dir = options.var_dir.resolve()
    return options


def _people_prepare(options: argparse.Namespace) -> Any:
    """The lead, and accounts for the first two annotators of the export (the third has
    none); the accounts earlier runs' imports made are deleted, so each run makes its own."""
    from django.contrib.auth.models import User

    from bench.imports_data import ANNOTATORS
    from bench.load_data import rows_delete

    for old in _projects():
        _project_delete(old, options)
    emails = [person["email"] for person in ANNOTATORS]
    made = User.objects.filter(is_active=False, email__in=emails).values_list("pk", flat=True)
    if made:
        rows_delete(User, "SELECT unnest(%s)", [list(made)])
    lead, _ = User.objects.get_or_create(username=LEAD)
    for person in ANNOTATORS[:2]:
        User.objects.update_or_create(
            username=person["email"].split("@")[0],
            defaults={"email": person["email"], "is_active": True},
        )
    return lead


def _projects() -> list[Any]:
    from labeler.projects.models import Project

    return list(Project.objects.filter(name__startswith=PROJECTS))


def _project_delete(project: Any, options: argparse.Namespace) -> None:
    from bench.load_data import project_delete

    project_delete(project.pk)
    for folder in ("images", "thumbnails"):
        shutil.rmtree(options.var_dir / "media" / folder / str(project.pk), ignore_errors=True)


def _project_new(name: str, lead: Any, options: argparse.Namespace) -> Any:
    """A new project of the export's labels, led by ``lead``, with the two members."""
    from bench.imports_data import LABELS
    from labeler.projects.services import project_create

    project = project_create(
        creator=lead, name=PROJECTS + name, labels=LABELS, overlap=3, retrain_after=0
    )
    _members_add(project)
    return project


def _members_add(project: Any) -> None:
    from django.contrib.auth.models import User

    from bench.imports_data import ANNOTATORS
    from labeler.projects.models import Role
    from labeler.projects.services import membership_set

    for person in ANNOTATORS[:2]:
        user = User.objects.get(email=person["email"], is_active=True)
        membership_set(project=project, user=user, role=Role.ANNOTATOR)


@contextmanager
def _sends_counted() -> Iterator[Counter[str]]:
    """The tasks the import sends, counted by name and not run (a broker would queue them)."""
    from unittest import mock

    from labeler import jobs

    sent: Counter[str] = Counter()

    def enqueue(task_name: str, *args: Any, **kwargs: Any) -> None:
        sent[task_name.rsplit(".", 1)[-1]] += 1

    def enqueue_in(seconds: float, task_name: str, *args: Any) -> None:
        enqueue(task_name)

    with (
        mock.patch.object(jobs, "enqueue", enqueue),
        mock.patch.object(jobs, "enqueue_in", enqueue_in),
        mock.patch.object(jobs, "send_now", enqueue_in),
    ):
        yield sent


def _run(project: Any, archive_path: Path, labels_format: str, name: str, lead: Any) -> Run:
    """Import the archive into the project as the archive endpoint does, timed."""
    from labeler.flows import images_import
    from labeler.images.models import Image
    from labeler.imports.planning.archive import archive_import_plan
    from labeler.imports.planning.plan import ImportOptions
    from labeler.imports.reading.archive import archive_read

    images = Image.objects.filter(project=project).count()
    paces: list[float] = []
    rss = _memory_reset()
    with _sends_counted() as sends, archive_path.open("rb") as archive:
        started = time.perf_counter()
        contents = archive_read(archive, labels_format=labels_format)
        plan = archive_import_plan(
            project=project, archive=archive, contents=contents, options=ImportOptions()
        )
        planned = time.perf_counter()
        summary = images_import(
            plan=dataclasses.replace(plan, items=_paced(plan.items, paces)), actor=lead
        )
        ended = time.perf_counter()
    paces.append(ended)
    if images:
        name = f"{name} into {images:,} images" if "again" not in name else name
    print(f"{name}: {ended - started:.1f} s", flush=True)
    return Run(
        name=name,
        images=summary.created + summary.duplicates,
        plan_seconds=planned - started,
        seconds=ended - started,
        summary=summary,
        rss_kib=rss,
        peak_kib=_status_kib("VmHWM"),
        sends=sends,
        paces=paces,
    )


def _paced(items: Iterator[Any], paces: list[float]) -> Iterator[Any]:
    """The items, noting when each was asked for (the one before it was then done)."""
    for item in items:
        paces.append(time.perf_counter())
        yield item


def _existing_run(options: argparse.Namespace, archive_path: Path, lead: Any) -> Run:
    """The per-person import into the project of ``--existing`` images; the images it
    created are deleted again (with their files), so the next run finds it as it was."""
    from django.db.models import Max

    from bench.load_data import project_prepare, rows_delete
    from labeler.images.models import Image
    from labeler.projects.models import Membership, Role

    project = project_prepare(
        options.existing, overlap=3, annotators=[], media=options.var_dir / "media"
    )
    Membership.objects.get_or_create(project=project, user=lead, defaults={"role": Role.LEAD})
    _members_add(project)
    last = Image.objects.filter(project=project).aggregate(last=Max("pk"))["last"] or 0
    source = next(old for old in _projects() if old.name == PROJECTS + "per person")

    def added_delete() -> list[str]:
        added = Image.objects.filter(project=project, pk__gt=last)
        files = [name for pair in added.values_list("file", "thumbnail") for name in pair if name]
        rows_delete(Image, "SELECT id FROM images_image WHERE project_id = %s AND id > %s",
                    [project.pk, last])  # fmt: skip
        return files

    try:
        run = _run(project, archive_path, LABEL_STUDIO, "per person", lead)
        for name in added_delete():
            (options.var_dir / "media" / name).unlink(missing_ok=True)
        run.bare_seconds = _bare_insert(source, project)
        return run
    finally:
        for name in added_delete():
            (options.var_dir / "media" / name).unlink(missing_ok=True)


BARE_BATCH = 1_000


def _bare_insert(source: Any, target: Any) -> float:
    """Seconds to bulk-insert the rows the import wrote into ``source`` again, into
    ``target``, in one transaction: the images, the annotations with their labels and
    revisions (the history trigger writes each revision's label change, as for the
    import), the final labels with theirs; ``bulk_create`` of 1,000 rows a statement, no
    check and no service, the ids mapped. Read and mapped beforehand, untimed. The files
    are not written again (the rows name the source's); the audit entries, the new
    accounts and their memberships (a few rows) are left out."""
    from django.db import transaction

    from labeler.annotations.models import Annotation, AnnotationRevision, FinalLabel
    from labeler.images.models import Image
    from labeler.projects.models import Label

    names = dict(Label.objects.filter(project=source).values_list("pk", "name"))
    to_label = {
        old: new
        for old, new in (
            (pk, Label.objects.get(project=target, name=name).pk) for pk, name in names.items()
        )
    }
    images = list(Image.objects.filter(project=source).order_by("pk"))
    annotations = list(Annotation.objects.filter(project=source).order_by("pk"))
    annotation_links = list(
        Annotation.labels.through.objects.filter(annotation__project=source).values_list(
            "annotation_id", "label_id"
        )
    )
    revisions = list(AnnotationRevision.objects.filter(annotation__project=source).order_by("pk"))
    finals = list(FinalLabel.objects.filter(image__project=source).order_by("pk"))
    final_links = list(
        FinalLabel.labels.through.objects.filter(finallabel__image__project=source).values_list(
            "finallabel_id", "label_id"
        )
    )
    old_images = [image.pk for image in images]
    for image in images:
        image.pk, image.project_id = None, target.pk
    old_annotations = [annotation.pk for annotation in annotations]
    old_finals = [final.pk for final in finals]
    started = time.perf_counter()
    with transaction.atomic():
        Image.objects.bulk_create(images, batch_size=BARE_BATCH)
        to_image = dict(zip(old_images, (image.pk for image in images), strict=True))
        for annotation in annotations:
            annotation.pk, annotation.project_id = None, target.pk
            annotation.image_id = to_image[annotation.image_id]
        Annotation.objects.bulk_create(annotations, batch_size=BARE_BATCH)
        to_annotation = dict(zip(old_annotations, (a.pk for a in annotations), strict=True))
        _links_insert(Annotation.labels.through, "annotation_id", annotation_links,
                      to_annotation, to_label)  # fmt: skip
        for revision in revisions:
            revision.pk = None
            revision.annotation_id = to_annotation[revision.annotation_id]
            revision.label_ids = sorted(to_label[label] for label in revision.label_ids)
        AnnotationRevision.objects.bulk_create(revisions, batch_size=BARE_BATCH)
        for final in finals:
            final.pk, final.image_id = None, to_image[final.image_id]
        FinalLabel.objects.bulk_create(finals, batch_size=BARE_BATCH)
        to_final = dict(zip(old_finals, (final.pk for final in finals), strict=True))
        _links_insert(FinalLabel.labels.through, "finallabel_id", final_links, to_final,
                      to_label)  # fmt: skip
    seconds = time.perf_counter() - started
    written = Image.objects.filter(project=target, pk__in=to_image.values()).count()
    if written != len(images):
        raise RuntimeError(f"the bare insert wrote {written} images of {len(images)}")
    print(f"bare bulk insert of the same rows into {target.name}: {seconds:.1f} s", flush=True)
    return seconds


def _links_insert(
    through: Any,
    owner: str,
    links: list[tuple[int, int]],
    to_owner: dict[int, int],
    to_label: dict[int, int],
) -> None:
    """Bulk-insert the (owner, label) rows of a many-to-many table, both ids mapped."""
    rows = [through(**{owner: to_owner[a], "label_id": to_label[b]}) for a, b in links]
    through.objects.bulk_create(rows, batch_size=BARE_BATCH)


def _refresh_time(project: Any) -> float:
    """Seconds of the refresh the import sends: the final labels from everyone's labels."""
    from labeler.flows import agreement_refresh

    started = time.perf_counter()
    agreement_refresh(project=project)
    return time.perf_counter() - started


def _checks(run: Run, expected: Any) -> list[str]:
    """What differs from what the export holds (nothing, when the import is right)."""
    summary, again = run.summary, "again" in run.name
    wanted: dict[str, int] = {
        "images created": 0 if again else expected.images,
        "duplicates": expected.images if again else 0,
        "rejected": 0,
    }
    got = {
        "images created": summary.created,
        "duplicates": summary.duplicates,
        "rejected": summary.rejected,
    }
    if run.name.startswith("flat"):
        wanted["final labels written"] = expected.images
        got["final labels written"] = summary.decisions_written
    else:
        both = {"annotations": expected.annotations, "decisions": expected.decisions}
        for what, count in both.items():
            kept = "unchanged" if again else "written"
            wanted[f"{what} {kept}"] = count
            got[f"{what} {kept}"] = getattr(summary, f"{what}_{kept}")
        wanted["records not applied"] = expected.cancelled
        got["records not applied"] = len(summary.not_applied)
    return [f"{what}: {got[what]:,}, not {n:,}" for what, n in wanted.items() if got[what] != n]


def _memory_reset() -> int:
    """Reset the process's peak resident memory to what it holds now; that, in KiB."""
    Path("/proc/self/clear_refs").write_text("5")
    return _status_kib("VmRSS")


def _status_kib(name: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{name}:"):
            return int(line.split()[1])
    raise RuntimeError(f"no {name} in /proc/self/status")


@contextmanager
def _profiled(path: Path | None) -> Iterator[None]:
    """Profile the block into ``path`` (cProfile) and print its hot spots, then its SQL
    statements by the time they took (the wait on the database, which the profile shows
    only as time in ``execute``); timings taken under the profiler run slower."""
    if path is None:
        yield
        return
    from django.db import connection

    statements: dict[str, list[float]] = {}

    def timed(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            shape = " ".join(re.sub(r"\d+", "N", sql).split())[:110]
            spent = statements.setdefault(shape, [0, 0.0])
            spent[0] += 1
            spent[1] += time.perf_counter() - started

    profiler = cProfile.Profile()
    profiler.enable()
    try:
        with connection.execute_wrapper(timed):
            yield
    finally:
        profiler.disable()
        path.parent.mkdir(parents=True, exist_ok=True)
        profiler.dump_stats(path)
        stats = pstats.Stats(str(path)).strip_dirs()
        stats.sort_stats("tottime").print_stats(25)
        stats.sort_stats("cumulative").print_stats(40)
        total = sum(seconds for _, seconds in statements.values())
        count = sum(int(n) for n, _ in statements.values())
        print(f"SQL: {count:,} statements, {total:.1f} s; the slowest in all:")
        for shape, (n, seconds) in sorted(statements.items(), key=lambda kv: -kv[1][1])[:20]:
            print(f"{seconds:8.2f} s {int(n):>7,}  {shape}")


def _print(options: argparse.Namespace, runs: list[Run], refresh: float) -> None:
    from bench.imports_data import ANNOTATORS

    reference = runs[0]
    cores = os.cpu_count()
    print(
        f"\nImporting {options.images:,} images (64x48 PNG and JPEG) zipped with their "
        f"labels, {len(ANNOTATORS)} annotators; PostgreSQL; {cores} cores"
        f"{' (profiled: slower)' if options.profile else ''}\n"
    )
    print(
        f"{'run':<36} {'images':>6} {'annot.':>6} {'decis.':>6} {'read s':>6} "
        f"{'seconds':>7} {'images/s':>8} {'labels/s':>8} {'ms/image 1st-last 10%':>21} "
        f"{'peak MB':>7} {'+MB':>4} {'x flat':>6} {'x flat/label':>12} {'x bare':>6}"
    )
    for run in runs:
        per_image = (run.seconds / run.images) / (reference.seconds / reference.images)
        per_label = (
            (run.seconds / run.written) / (reference.seconds / reference.written)
            if run.written
            else float("nan")
        )
        summary = run.summary
        tenths = f"{run.tenth_ms(last=False):.1f} - {run.tenth_ms(last=True):.1f}"
        print(
            f"{run.name:<36} {run.images:>6,} {summary.annotations_written:>6,} "
            f"{summary.decisions_written:>6,} {run.plan_seconds:>6.2f} {run.seconds:>7.1f} "
            f"{run.images / run.seconds:>8,.0f} {run.written / run.seconds:>8,.0f} "
            f"{tenths:>21} {run.peak_kib / 1024:>7,.0f} "
            f"{(run.peak_kib - run.rss_kib) / 1024:>4,.0f} {per_image:>6.2f} {per_label:>12.2f} "
            f"{'' if run.bare_ratio is None else f'{run.bare_ratio:.3f}':>6}"
        )
    sends = runs[1].sends
    print(
        f"\nSent and not run (a broker would queue them): "
        f"{', '.join(f'{n:,} {task}' for task, n in sends.most_common())}."
    )
    print(f"The refresh they ask for took {refresh:.1f} s on the per-person project.")
    print(
        "x bare: the bare bulk insert's seconds over the import's, for the same rows into "
        "the same tables (goal: 0.5)."
    )
    for run in runs:
        for problem in run.problems:
            print(f"WRONG in {run.name}: {problem}")
    if not any(run.problems for run in runs):
        print("Every run's counts match the export.")


if __name__ == "__main__":
    sys.exit(main())
