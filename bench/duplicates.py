"""Near-duplicates: planted copies found, and the index at a million images.

1. Recall: generated pictures (gradients and shapes) and four altered copies of each
   (resized, JPEG-recompressed, cropped 2 % a side, recoloured), hashed as the worker
   hashes a thumbnail and grouped at each distance: the share of copies grouped with
   their original, and the false groups (two different pictures joined). The same on
   scikit-learn's 1,797 digits (8x8, shown at 64x64), which hold no planted copies: every
   group there is a false one (or a digit written alike twice).
2. Scale, in PostgreSQL (``DUPES_DATABASE_URL``, default
   postgres://postgres@127.0.0.1:5432/bench_dupes; never the tests' database): a project
   of ``DUPES_SIZE`` (1,000,000) image rows with random hashes, loaded by COPY, and
   1,000 planted near copies. Checking one new image (``near_images``: one indexed
   query) against a scan of every row computing the distance in SQL; the whole project's
   groups (``project_duplicates_regroup``: read, banded pass, store) against the
   pairwise numpy reference on a subset (``DUPES_SUBSET``, 20,000), both timed on the
   subset and the reference's time scaled to the project by the square of the sizes.

    make bench-duplicates          # or: python bench/duplicates.py
"""

from __future__ import annotations

import io
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.postgres import postgres_configure
from bench.timing import timed

DATABASE_URL = os.environ.get(
    "DUPES_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bench_dupes"
)
SIZE = int(os.environ.get("DUPES_SIZE", "1000000"))
SUBSET = int(os.environ.get("DUPES_SUBSET", "20000"))
PICTURES = int(os.environ.get("DUPES_PICTURES", "300"))
PLANTED = 1000
PROJECT = "Near-duplicates benchmark"
DISTANCES = (3, 5, 7, 9)


def _copies() -> dict[str, Any]:
    from tests.labeler.images.scenes import COPIES, cropped

    return {**COPIES, "cropped 3 %": lambda image: cropped(image, 0.03)}


def _thumbnail_hash(image: Any) -> int:
    """As the worker: the hash of the thumbnail's pixels (at most 256 a side)."""
    from labeler.images.duplicates import phash_of

    image = image.copy()
    image.thumbnail((256, 256))
    return phash_of(image)


def recall_table() -> None:
    from labeler.images.duplicates import duplicate_groups
    from tests.labeler.images.scenes import scene

    kinds = _copies()
    headline = [kind for kind in kinds if kind != "cropped 3 %"]
    ids: list[int] = []
    hashes: list[int] = []
    source: list[int] = []
    kind_of: list[str] = []
    for seed in range(PICTURES):
        picture = scene(10_000 + seed, (480, 360))
        for kind, alter in [("original", None), *kinds.items()]:
            ids.append(len(ids) + 1)
            hashes.append(_thumbnail_hash(picture if alter is None else alter(picture)))
            source.append(seed)
            kind_of.append(kind)
    digits, truth = _digit_hashes()
    print(f"\nPlanted copies: {PICTURES} generated pictures, {len(kinds)} copies of each")
    names = " | ".join(f"{kind:>12}" for kind in kinds)
    print(
        f"| bits | {names} | recall (4 kinds) | false groups | digits: groups, images "
        "| digits: groups mixing digits |"
    )
    for bits in DISTANCES:
        groups = duplicate_groups(ids, np.array(hashes, dtype=np.uint64), bits)
        original = {source[i]: ids[i] for i in range(len(ids)) if kind_of[i] == "original"}
        found: dict[str, list[bool]] = {kind: [] for kind in kinds}
        for i, image_id in enumerate(ids):
            if kind_of[i] != "original":
                own = groups.get(original[source[i]])
                found[kind_of[i]].append(own is not None and groups.get(image_id) == own)
        recall = {kind: float(np.mean(hits)) for kind, hits in found.items()}
        overall = float(np.mean([hit for kind in headline for hit in found[kind]]))
        members: dict[int, set[int]] = {}
        for i, image_id in enumerate(ids):
            if image_id in groups:
                members.setdefault(groups[image_id], set()).add(source[i])
        false_groups = sum(1 for seeds in members.values() if len(seeds) > 1)
        digit_groups = duplicate_groups(range(len(digits)), digits, bits)
        # A group of different true digits is a false alarm: correct labels that differ,
        # sent to review as if a copy carried another label.
        true_digits: dict[int, set[int]] = {}
        for index, group in digit_groups.items():
            true_digits.setdefault(group, set()).add(int(truth[index]))
        mixing = sum(1 for found_digits in true_digits.values() if len(found_digits) > 1)
        cells = " | ".join(f"{recall[kind]:>12.3f}" for kind in kinds)
        print(
            f"| {bits:>4} | {cells} | {overall:>16.3f} | {false_groups:>12} | "
            f"{len(set(digit_groups.values()))}, {len(digit_groups)} of {len(digits)} | "
            f"{mixing} |"
        )


def _digit_hashes() -> tuple[np.ndarray, np.ndarray]:
    """The digits' hashes, and their true digits."""
    from PIL import Image as PILImage
    from sklearn.datasets import load_digits

    loaded = load_digits()
    hashes = []
    for pixels in loaded.images:
        grey = (pixels / 16 * 255).astype(np.uint8)
        image = PILImage.fromarray(grey).resize((64, 64), PILImage.Resampling.BILINEAR)
        hashes.append(_thumbnail_hash(image.convert("RGB")))
    return np.array(hashes, dtype=np.uint64), loaded.target


def _project(size: int) -> Any:
    """The benchmark's project of ``size`` rows with random hashes (reused if it matches)."""
    from django.db import connection, transaction

    from labeler.images.models import Image
    from labeler.projects.models import Project

    project = Project.objects.filter(name=PROJECT).first()
    if project is not None and Image.objects.filter(project=project).count() == size + PLANTED:
        return project
    if project is not None:
        project.delete()
    started = time.perf_counter()
    rng = np.random.default_rng(7)
    values = rng.integers(0, 2**63, size, dtype=np.uint64) * np.uint64(2)
    values += rng.integers(0, 2, size, dtype=np.uint64)
    planted = values[rng.integers(0, size, PLANTED)].copy()
    for n in range(PLANTED):
        for bit in rng.choice(64, int(rng.integers(1, 8)), replace=False):
            planted[n] ^= np.uint64(1) << np.uint64(int(bit))
    values = np.r_[values, planted]
    with transaction.atomic():
        project = Project.objects.create(name=PROJECT)
        with connection.cursor() as cursor:
            for start in range(0, len(values), 100_000):
                _copy(cursor, project.pk, values, start, min(len(values), start + 100_000))
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {Image._meta.db_table}")
    print(f"loaded {len(values):,} rows by COPY in {time.perf_counter() - started:.1f} s")
    return project


def _copy(cursor: Any, project_id: int, values: np.ndarray, start: int, end: int) -> None:
    from labeler.images.duplicates import phash_columns

    columns = (
        "project_id, file, thumbnail, original_name, sha256, width, height, format, size_bytes, "
        "priority, annotation_count, is_complete, created_at, phash, phash_band0, phash_band1, "
        "phash_band2, phash_band3"
    )
    rows = []
    for n in range(start, end):
        c = phash_columns(int(values[n]))
        rows.append(
            f"{project_id}\tbench/{n}.jpg\t\tphoto_{n:07d}.jpg\t{project_id:016x}{n:048x}\t"
            f"320\t240\tJPEG\t1000\t0\t0\tf\tnow\t{c['phash']}\t{c['phash_band0']}\t"
            f"{c['phash_band1']}\t{c['phash_band2']}\t{c['phash_band3']}\n"
        )
    cursor.copy_expert(f"COPY images_image ({columns}) FROM STDIN", io.StringIO("".join(rows)))


def scale_table() -> None:
    from django.db import connection

    from labeler.images.duplicate_groups import (
        near_images,
        project_duplicates_regroup,
        project_hashes,
    )
    from labeler.images.duplicates import near_pairs, pairwise_near_pairs

    project = _project(SIZE)
    rows = SIZE + PLANTED
    bits = 7
    rng = np.random.default_rng(11)
    _, hashes = project_hashes(project)
    queries = [int(h) for h in hashes[rng.integers(0, len(hashes), 200)]]
    checks = iter(queries * 10)

    def check() -> int:
        return len(near_images(project_id=project.pk, phash=next(checks), max_distance=bits))

    def scan() -> int:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM images_image WHERE project_id = %s AND "
                "bit_count((phash # %s::bigint)::bit(64)) <= %s",
                [project.pk, queries[0], bits],
            )
            return int(cursor.fetchone()[0])

    check()  # warm the indexes
    one, found = timed(check, 200)
    scanned, scan_found = timed(scan, 3)
    started = time.perf_counter()
    regrouped = project_duplicates_regroup(project=project, max_distance=bits)
    whole = time.perf_counter() - started
    subset = hashes[:SUBSET].view(np.uint64)
    banded, _ = timed(lambda: near_pairs(subset, bits), 3)
    pairwise, _ = timed(lambda: pairwise_near_pairs(subset, bits), 1)
    scaled = pairwise * (rows / SUBSET) ** 2
    print(f"\nScale: {rows:,} images in PostgreSQL, distance {bits} bits")
    print("| work | ours | reference | ratio |")
    print(
        f"| check one new image | {one * 1000:.1f} ms (indexed bands) | "
        f"{scanned * 1000:.0f} ms (SQL scan of every row) | {scanned / one:.0f}x |"
    )
    print(
        f"| group {SUBSET:,} hashes | {banded:.2f} s (banded) | {pairwise:.2f} s (pairwise "
        f"numpy) | {pairwise / banded:.1f}x |"
    )
    print(
        f"| group the whole project | {whole:.0f} s (read, banded pass, store) | "
        f"{scaled / 60:.1f} min (pairwise, scaled from {SUBSET:,}) | {scaled / whole:.0f}x |"
    )
    print(
        f"groups: {regrouped.groups:,} holding {regrouped.grouped:,} images "
        f"({PLANTED} near copies planted); one check found {found}, the scan {scan_found}"
    )


def main() -> None:
    postgres_configure(DATABASE_URL)
    if os.environ.get("DUPES_SKIP_RECALL") != "1":
        recall_table()
    scale_table()


if __name__ == "__main__":
    main()
