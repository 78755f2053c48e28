"""Time exports of 10,000 and 100,000 labelled images and show their memory stays flat;
then zip 35 phone-sized photos against a bare ``zipfile`` of the same stored files.

    .venv/bin/python bench/export.py              # or: make bench-export
    .venv/bin/python bench/export.py --sizes 10000 100000 --formats json imagefolder
    .venv/bin/python bench/export.py --parts photos --repeats 5

DATABASE_URL picks the database (default: a dedicated ``labeler_bench_export`` database
on the local PostgreSQL server, created and migrated here). Each project is created once
with bulk_create (its image rows share a few small real PNG files under
``var/bench_export_media``) and reused while its image count matches. Every export runs
in a child process of its own, which writes the file and reports its time and peak
resident memory (VmHWM) before and during the export.

The photos (``bench/export_photos.py``: 33 JPEGs, one HEIC, one AVIF, 4032 x 3024) are
exported as ImageFolder and Hugging Face zips split 80/10/10 (HEIC and AVIF converted
to JPEG, the default): from the converted copies the worker keeps when it prepares a
photo, and, in a second project of the same files without them, converted while the zip
is written (images prepared before copies were kept); and as an ImageFolder zip keeping
them (``convert_images=false``: their metadata stripped by writing them again). Each is
timed against Python's ``zipfile`` storing the same stored files as they lie, every run
in a child process of its own, alternating, the median of ``--repeats`` taken. Then the
copies' sizes against their originals', and what a HEIC's and an AVIF's preparation
costs the worker with and without its copy.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import statistics
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/labeler_bench_export"
MEDIA_ROOT = ROOT / "var" / "bench_export_media"
OUT_DIR = ROOT / "var" / "bench_export_out"
LABELS = ["cat", "dog", "bird"]
FILES = 8  # distinct real image files the rows share


def main(argv: list[str] | None = None) -> int:
    """Prepare the projects, run every export in its own process, print the table."""
    options = _options(argv)
    from bench.postgres import postgres_configure

    os.environ["MEDIA_ROOT"] = str(MEDIA_ROOT)
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    postgres_configure(options.database_url, migrate=not options.child)
    if options.child:
        return _bare_child(options) if options.bare else _child(options)
    if "sizes" in options.parts:
        results = []
        for size in options.sizes:
            project_id = _project(size)
            for fmt in options.formats:
                results.append(_run_child(options, project_id, size, fmt))
        _print_table(results, options.sizes)
    if "photos" in options.parts:
        _photos(options)
    return 0


def _options(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Time exports and their peak memory.")
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--formats", nargs="+", default=["json", "imagefolder"])
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL,
        help=f"PostgreSQL URL (default: DATABASE_URL, else {DEFAULT_DATABASE_URL})",
    )
    parser.add_argument(
        "--parts", nargs="+", choices=["sizes", "photos"], default=["sizes", "photos"]
    )
    parser.add_argument("--repeats", type=int, default=3, help="photo runs of each (median)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--bare", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--project", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--format", help=argparse.SUPPRESS)
    parser.add_argument("--options", default="{}", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def _project(size: int) -> int:
    """The benchmark project of this many images, created by bulk_create unless it exists."""
    from labeler.images.models import Image
    from labeler.projects.models import Project

    name = f"bench-export-{size}"
    found = Project.objects.filter(name=name).first()
    if found is not None and Image.objects.filter(project=found).count() == size:
        return found.pk
    if found is not None:
        found.delete()
    started = time.perf_counter()
    project = _create_project(name, size)
    print(f"created {name} in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return project.pk


def _create_project(name: str, size: int) -> Any:  # a Project: models load after setup
    from django.core.files.storage import default_storage
    from django.db import transaction
    from PIL import Image as PILImage

    from labeler.projects.models import Label, Project

    files = []
    for n in range(FILES):
        buffer = io.BytesIO()
        PILImage.new("RGB", (64, 48), (n * 30, 90, 160)).save(buffer, format="PNG")
        stored = f"images/bench/{n}.png"
        if not default_storage.exists(stored):
            default_storage.save(stored, io.BytesIO(buffer.getvalue()))
        files.append((stored, len(buffer.getvalue())))
    with transaction.atomic():
        project = Project.objects.create(name=name)
        labels = [
            Label.objects.create(project=project, name=label, color="#123456", position=i)
            for i, label in enumerate(LABELS)
        ]
        for start in range(0, size, 10_000):
            _create_batch(project, labels, files, range(start, min(size, start + 10_000)))
    return project


def _create_batch(
    project: Any, labels: list[Any], files: list[tuple[str, int]], numbers: range
) -> None:
    from labeler.annotations.models import FinalLabel
    from labeler.images.models import Image

    images = Image.objects.bulk_create(
        Image(
            project=project,
            file=files[n % FILES][0],
            original_name=f"photo_{n}.png",
            sha256=f"{n:064x}",
            width=64,
            height=48,
            format="PNG",
            size_bytes=files[n % FILES][1],
            annotation_count=1,
            is_complete=True,
        )
        for n in numbers
    )
    finals = FinalLabel.objects.bulk_create(
        FinalLabel(image=image, method="consensus", confidence=1.0) for image in images
    )
    through = FinalLabel.labels.through
    through.objects.bulk_create(
        through(finallabel_id=final.pk, label_id=labels[n % len(labels)].pk)
        for n, final in zip(numbers, finals, strict=True)
    )


def _run_child(
    options: argparse.Namespace,
    project_id: int,
    size: int,
    fmt: str,
    *extra: str,
    export_options: dict[str, Any] | None = None,
) -> dict:
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--child",
        f"--project={project_id}",
        f"--format={fmt}",
        f"--database-url={options.database_url}",
        f"--options={json.dumps(export_options or {})}",
        *extra,
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return {"size": size, "format": fmt, **json.loads(done.stdout.strip().splitlines()[-1])}


def _child(options: argparse.Namespace) -> int:
    """Export one project to a file; print time, size and peak memory as JSON."""
    from labeler.exports.formats import EXPORTERS, ExportSource
    from labeler.exports.options import export_options_parse
    from labeler.projects.models import Project

    project = Project.objects.get(pk=options.project)
    parsed = export_options_parse({"format": options.format, **json.loads(options.options)})
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    path = OUT_DIR / f"{project.pk}.{EXPORTERS[parsed.format].extension}"
    before = _max_rss_mb()
    started = time.perf_counter()
    with path.open("wb") as out:
        for chunk in EXPORTERS[parsed.format].write(ExportSource(project, parsed)):
            out.write(chunk)
    seconds = time.perf_counter() - started
    result = {
        "seconds": seconds,
        "file_mb": path.stat().st_size / 2**20,
        "rss_before_mb": before,
        "rss_peak_mb": _max_rss_mb(),
    }
    path.unlink()
    print(json.dumps(result))
    return 0


def _max_rss_mb() -> float:
    """This process's peak resident memory (VmHWM: unlike ru_maxrss, reset by exec, so the
    parent's memory at fork time does not count)."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _print_table(results: list[dict], sizes: list[int]) -> None:
    print(
        f"{'format':<12} {'images':>8} {'seconds':>8} {'images/s':>9} {'file MB':>8} "
        f"{'RSS start MB':>12} {'RSS peak MB':>11} {'growth MB':>9}"
    )
    for r in results:
        growth = r["rss_peak_mb"] - r["rss_before_mb"]
        print(
            f"{r['format']:<12} {r['size']:>8,} {r['seconds']:>8.2f} "
            f"{r['size'] / r['seconds']:>9,.0f} {r['file_mb']:>8.1f} "
            f"{r['rss_before_mb']:>12.1f} {r['rss_peak_mb']:>11.1f} {growth:>9.1f}"
        )
    if len(sizes) >= 2:
        small, large = min(sizes), max(sizes)
        for fmt in dict.fromkeys(r["format"] for r in results):
            peak = {r["size"]: r["rss_peak_mb"] for r in results if r["format"] == fmt}
            print(
                f"{fmt}: peak RSS at {large:,} / at {small:,} images = "
                f"{peak[large] / peak[small]:.2f} ({large // small}x the images)"
            )


# The photo zips: (name in the table, project, format, options), each against the bare
# zipfile of the same project's files. "photos" holds the converted copies the worker
# keeps when it prepares a photo; "unconverted" the same files without them (images
# prepared before copies were kept, or a project that keeps metadata in its exports):
# converted while the zip is written. "jpegs" holds the 33 JPEGs alone: the zip's own cost.
PHOTO_EXPORTS = [
    ("imagefolder", "photos", "imagefolder", {"split": "0.8,0.1,0.1"}),
    ("hf-imagefolder", "photos", "hf-imagefolder", {"split": "0.8,0.1,0.1"}),
    ("imagefolder, no copy", "unconverted", "imagefolder", {"split": "0.8,0.1,0.1"}),
    ("hf, no copy", "unconverted", "hf-imagefolder", {"split": "0.8,0.1,0.1"}),
    ("imagefolder, JPEGs", "jpegs", "imagefolder", {"split": "0.8,0.1,0.1"}),
    (
        "imagefolder, kept",
        "photos",
        "imagefolder",
        {"split": "0.8,0.1,0.1", "convert_images": False},
    ),
]


def _photos(options: argparse.Namespace) -> None:
    """The photo projects' zips against a bare zipfile of their files, alternating runs."""
    from bench.export_photos import copies_keep, photo_files, photo_project

    files = photo_files(MEDIA_ROOT)
    sizes = {stored: (MEDIA_ROOT / stored).stat().st_size for stored, _ in files}
    jpegs = [(stored, fmt) for stored, fmt in files if fmt == "JPEG"]
    projects = {
        "photos": photo_project("bench-export-photos", files, sizes),
        "unconverted": photo_project("bench-export-photos-unconverted", files, sizes),
        "jpegs": photo_project("bench-export-photos-jpegs", jpegs, sizes),
    }
    copies = copies_keep(projects["photos"])
    rows = []
    for title, which, fmt, export_options in PHOTO_EXPORTS:
        project_id = projects[which].pk
        timed: dict[str, list[float]] = {"export": [], "bare": []}
        for _ in range(options.repeats):
            run = _run_child(options, project_id, 0, fmt, export_options=export_options)
            timed["export"].append(run["seconds"])
            bare = _run_child(options, project_id, 0, fmt, "--bare")
            timed["bare"].append(bare["seconds"])
        export, bare_seconds = (statistics.median(timed[key]) for key in ("export", "bare"))
        rows.append((title, export, bare_seconds, run["file_mb"], run["rss_peak_mb"]))
    total_mb = sum(sizes.values()) / 2**20
    print(
        f"\n{len(files)} photos ({len(jpegs)} JPEG, a HEIC, an AVIF), 4032x3024, "
        f"{total_mb:.0f} MB stored; split 0.8,0.1,0.1; median of {options.repeats} runs"
    )
    header = f"{'zip':<20} {'seconds':>8} {'zipfile s':>9} {'ratio':>6} {'file MB':>8}"
    print(f"{header} {'RSS peak MB':>11}")
    for title, export, bare_seconds, file_mb, peak_mb in rows:
        print(
            f"{title:<20} {export:>8.2f} {bare_seconds:>9.2f} {export / bare_seconds:>6.1f} "
            f"{file_mb:>8.1f} {peak_mb:>11.1f}"
        )
    print("\nconverted copies kept (made once, as the worker prepares each photo):")
    header = f"{'format':<8} {'original MB':>11} {'copy MB':>8} {'copy/original':>13}"
    print(f"{header} {'made in s':>9}")
    for fmt, (original, copy, seconds) in copies.items():
        print(
            f"{fmt:<8} {original / 2**20:>11.2f} {copy / 2**20:>8.2f} "
            f"{copy / original:>13.2f} {seconds:>9.2f}"
        )
    _prepare_costs(files, options.repeats)


def _prepare_costs(files: list[tuple[str, str]], repeats: int) -> None:
    """What a HEIC's and an AVIF's preparation costs the worker: its previews alone, as
    before, against its converted copy and its previews from the copy's one decode."""
    from django.conf import settings

    from labeler.images.pixels.conversion import image_conversion
    from labeler.images.pixels.files import previews_render

    sizes = {"display_size": settings.LABELER_DISPLAY_SIZE, "thumbnail_size": 256}
    print("\nthe worker's preparation of one photo (median of", repeats, "runs, seconds):")
    print(f"{'format':<8} {'previews':>9} {'previews and copy':>17}")
    for stored, fmt in files:
        if fmt not in ("HEIF", "AVIF"):
            continue
        data = (MEDIA_ROOT / stored).read_bytes()
        alone, both = [], []
        for _ in range(repeats):
            started = time.perf_counter()
            previews_render(data, **sizes)
            alone.append(time.perf_counter() - started)
            started = time.perf_counter()
            conversion = image_conversion(data, fmt)
            previews_render(data, **sizes, upright=conversion.upright)
            both.append(time.perf_counter() - started)
        print(f"{fmt:<8} {statistics.median(alone):>9.2f} {statistics.median(both):>17.2f}")


def _bare_child(options: argparse.Namespace) -> int:
    """Python's zipfile storing the project's files as they lie (each once); print its time."""
    from labeler.images.models import Image

    stored = list(
        Image.objects.filter(project_id=options.project)
        .order_by("pk")
        .values_list("file", flat=True)
    )
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    path = OUT_DIR / f"{options.project}.bare.zip"
    started = time.perf_counter()
    with zipfile.ZipFile(path, "w") as archive:
        for name in stored:
            archive.write(MEDIA_ROOT / name, arcname=Path(name).name)
    seconds = time.perf_counter() - started
    result = {"seconds": seconds, "file_mb": path.stat().st_size / 2**20}
    path.unlink()
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    # Run as a script, the repository root is not on the path: put it there.
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
