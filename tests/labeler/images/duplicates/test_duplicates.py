"""Perceptual hashes, the banded index and near-duplicate groups (fixed seeds)."""

from __future__ import annotations

import imagehash
import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command

from labeler import flows
from labeler.images.duplicates import finding as duplicates
from labeler.images.duplicates.groups import (
    image_duplicates_link,
    near_images,
    project_duplicates_regroup,
)
from labeler.images.models import Image
from labeler.images.pixels import perceptual
from tests.labeler.images.scenes import COPIES, cropped, encoded, scene


def planted(rng: np.random.Generator, count: int, copies: int, max_flips: int) -> np.ndarray:
    """Random hashes, then copies of some of them with up to ``max_flips`` bits flipped."""
    hashes = rng.integers(0, 2**63, count, dtype=np.uint64) * np.uint64(2)
    hashes += rng.integers(0, 2, count, dtype=np.uint64)
    flipped = []
    for source in rng.integers(0, count, copies):
        value = int(hashes[source])
        for bit in rng.choice(64, int(rng.integers(0, max_flips + 1)), replace=False):
            value ^= 1 << int(bit)
        flipped.append(value)
    return np.r_[hashes, np.array(flipped, dtype=np.uint64), hashes[:3]]


def components(count: int, left: np.ndarray, right: np.ndarray) -> list[tuple[int, ...]]:
    labels = duplicates.groups_of(count, left, right)
    found: dict[int, list[int]] = {}
    for index, label in enumerate(labels.tolist()):
        if label >= 0:
            found.setdefault(label, []).append(index)
    return sorted(tuple(members) for members in found.values())


def test_our_hash_is_imagehash_phash_and_survives_the_column():
    """The integer kept is imagehash's own pHash, and a BIGINT holds it both ways."""
    image = scene(1)
    value = perceptual.phash_of(image)
    assert value == int(str(imagehash.phash(image)), 16)
    assert duplicates.to_unsigned(duplicates.to_signed(value)) == value
    columns = duplicates.phash_columns(2**64 - 1)
    assert columns["phash"] == -1 and columns["phash_band3"] == 65535


@pytest.mark.parametrize("max_distance", [0, 3, 7, 10])
def test_a_near_hash_always_has_a_band_among_the_neighbours(max_distance):
    """Pigeonhole: any hash within the distance shares a band within distance // 4 bits."""
    rng = np.random.default_rng(max_distance)
    for _ in range(300):
        value = int(rng.integers(0, 2**63)) * 2
        other = value
        for bit in rng.choice(64, max_distance, replace=False):
            other ^= 1 << int(bit)
        neighbours = duplicates.neighbour_bands(value, max_distance)
        assert any(
            band in allowed
            for band, allowed in zip(duplicates.bands_of(other), neighbours, strict=True)
        )


@pytest.mark.parametrize("max_distance", [3, 7, 10])
def test_the_banded_pass_groups_as_comparing_every_pair_does(max_distance):
    """Against the quadratic reference, planted near copies and exact repeats included."""
    rng = np.random.default_rng(100 + max_distance)
    hashes = planted(rng, 2000, 400, max_distance + 2)
    count = len(hashes)
    fast = components(count, *duplicates.near_pairs(hashes, max_distance))
    reference = components(count, *duplicates.pairwise_near_pairs(hashes, max_distance))
    assert fast == reference
    assert len(fast) > 100


@pytest.mark.parametrize("max_distance", [3, 7, 10])
def test_the_banded_pass_with_zoomed_hashes_groups_as_comparing_every_pair_does(max_distance):
    """Against the quadratic reference: a hash near another image's zoomed hash joins it
    (either way), two zoomed hashes near each other join nothing, an image's own two
    hashes do not make a group, several images may share one zoomed hash, and an image
    without one (a framed subject) is compared on its hash alone."""
    rng = np.random.default_rng(200 + max_distance)
    hashes = planted(rng, 2000, 200, max_distance + 2)
    count = len(hashes)
    zooms = hashes.copy()
    for n in range(count):  # a photo's zoomed hash is a few bits from its own
        for bit in rng.choice(64, int(rng.integers(2, 13)), replace=False):
            zooms[n] ^= np.uint64(1 << int(bit))
    zooms[rng.integers(0, count, 20)] = zooms[0]  # one zoomed hash held by several
    # Cropped copies: hashes 2 bits from other images' zoomed hashes.
    copies, sources = rng.choice(count, (2, 150), replace=False)
    hashes[copies] = zooms[sources] ^ np.uint64(0b101)
    present = rng.random(count) < 0.9
    zoomed = duplicates.Zooms(np.where(present, zooms, np.uint64(0)), present)
    fast = components(count, *duplicates.near_pairs(hashes, max_distance, None, zoomed))
    reference = components(
        count, *duplicates.pairwise_near_pairs(hashes, max_distance, None, zoomed)
    )
    assert fast == reference
    labels = duplicates.groups_of(count, *duplicates.near_pairs(hashes, max_distance, None, zoomed))
    pairs = zip(copies.tolist(), sources.tolist(), strict=True)
    joined = [labels[copy] == labels[source] >= 0 for copy, source in pairs if present[source]]
    assert len(joined) > 100 and all(joined)


def test_groups_are_named_by_their_smallest_id():
    far = 0xFFFF << 40
    hashes = np.array([0b1, 0b11, far, 0b111, far | 1 << 63], dtype=np.uint64)
    groups = duplicates.duplicate_groups([50, 10, 30, 70, 20], hashes, 2)
    assert groups == {50: 10, 10: 10, 70: 10, 30: 20, 20: 20}


@pytest.mark.parametrize("kind", sorted(COPIES))
def test_altered_copies_are_within_the_default_distance(kind, settings):
    """Resized, JPEG-recompressed, cropped 2 % a side and recoloured copies of 30
    generated pictures: nearly all within 7 bits; distinct pictures are farther apart."""
    alter = COPIES[kind]
    near = [
        duplicates.distance(perceptual.phash_of(scene(s)), perceptual.phash_of(alter(scene(s))))
        for s in range(30)
    ]
    assert np.mean(np.array(near) <= 7) >= 0.9
    originals = [perceptual.phash_of(scene(s)) for s in range(30)]
    apart = [duplicates.distance(a, b) for i, a in enumerate(originals) for b in originals[:i]]
    assert min(apart) > 7


@pytest.fixture
def grouping(settings):
    settings.LABELER_DUPLICATE_DISTANCE = 7


def ingest(project, named: dict[str, bytes], capture) -> dict[str, Image]:
    with capture(execute=True):
        results = flows.images_ingest(
            project=project,
            files=[SimpleUploadedFile(name, data) for name, data in named.items()],
        )
    return {r.name: Image.objects.get(pk=r.image_id or 0) for r in results}


@pytest.mark.django_db
def test_a_copy_joins_its_original_at_ingest(
    project, media_root, grouping, django_capture_on_commit_callbacks
):
    """The worker hashes each image from its thumbnail's pixels; a resized JPEG copy and
    a cropped one join their original's group, named by its id; another picture stays out."""
    original = scene(7, (400, 300))
    images = ingest(
        project,
        {
            "original.png": encoded(original),
            "small.jpg": encoded(COPIES["resized"](original), "JPEG"),
            "cropped.png": encoded(COPIES["cropped"](original)),
            "other.png": encoded(scene(8, (400, 300))),
        },
        django_capture_on_commit_callbacks,
    )
    first = images["original.png"].pk
    groups = {name: image.duplicate_group for name, image in images.items()}
    assert groups == {
        "original.png": first,
        "small.jpg": first,
        "cropped.png": first,
        "other.png": None,
    }
    assert all(image.phash is not None for image in images.values())
    near = near_images(
        project_id=project.pk, phash=images["original.png"].phash or 0, exclude_id=first
    )
    assert {n.id for n in near} == {images["small.jpg"].pk, images["cropped.png"].pk}


@pytest.mark.django_db
def test_a_cropped_copy_meets_its_original_either_way_at_ingest(
    project, media_root, grouping, django_capture_on_commit_callbacks
):
    """A photo cropped 4 % a side (10 and 12 bits from its original's hash) joins its
    original through the original's zoomed hash, stored after it or before it."""
    named = {}
    for seed, crop_first in ((45, False), (57, True)):
        original, crop = (
            encoded(scene(seed, (320, 240))),
            encoded(cropped(scene(seed, (320, 240)), 0.04)),
        )
        pair = [(f"{seed}-cropped.png", crop), (f"{seed}.png", original)]
        named.update(pair if crop_first else pair[::-1])
    images = ingest(project, named, django_capture_on_commit_callbacks)
    for seed in (45, 57):
        original, crop = images[f"{seed}.png"], images[f"{seed}-cropped.png"]
        assert duplicates.distance(original.phash or 0, crop.phash or 0) > 7
        assert original.duplicate_group == crop.duplicate_group == min(original.pk, crop.pk)
    near = near_images(project_id=project.pk, phash=images["45.png"].phash or 0)
    assert {n.id for n in near} == {images["45.png"].pk}  # the crop: only through the zoom
    asked = images["45.png"]
    near = near_images(
        project_id=project.pk, phash=asked.phash or 0, zoom=asked.phash_zoom, exclude_id=asked.pk
    )
    assert [n.id for n in near] == [images["45-cropped.png"].pk]


@pytest.mark.django_db
def test_an_image_near_two_groups_merges_them(
    project, media_root, grouping, django_capture_on_commit_callbacks
):
    """Linking keeps the smallest id of all: two groups bridged by a third image become one."""
    images = ingest(
        project,
        {f"{n}.png": encoded(scene(20 + n)) for n in range(5)},
        django_capture_on_commit_callbacks,
    )
    a, b, c, d, e = (images[f"{n}.png"] for n in range(5))
    for image, value in ((a, 0), (b, 0b1111), (c, 0b1111 << 20), (d, (0b1111 << 20) | 0b11110000)):
        Image.objects.filter(pk=image.pk).update(
            **duplicates.phash_columns(value), duplicate_group=None
        )
    image_duplicates_link(image_id=b.pk)  # a, b
    image_duplicates_link(image_id=d.pk)  # c, d
    assert Image.objects.get(pk=d.pk).duplicate_group == c.pk
    Image.objects.filter(pk=e.pk).update(**duplicates.phash_columns(0b11 << 20 | 0b11))
    assert image_duplicates_link(image_id=e.pk) == a.pk  # 4 bits from a, 6 from c
    groups = set(
        Image.objects.filter(pk__in=[a.pk, b.pk, c.pk, d.pk, e.pk]).values_list(
            "duplicate_group", flat=True
        )
    )
    assert groups == {a.pk}


@pytest.mark.django_db
def test_the_command_hashes_older_images_and_regroups(
    project, media_root, grouping, django_capture_on_commit_callbacks
):
    """Images stored before hashes were kept get theirs from their thumbnails (the same
    hash give or take a bit or two), and their groups are computed again."""
    original = scene(3, (300, 200))
    images = ingest(
        project,
        {
            "a.png": encoded(original),
            "b.jpg": encoded(COPIES["recompressed"](original), "JPEG"),
            "c.png": encoded(scene(4, (300, 200))),
        },
        django_capture_on_commit_callbacks,
    )
    before = dict(Image.objects.values_list("pk", "phash"))
    Image.objects.update(phash=None, phash_band0=None, duplicate_group=None)
    call_command("images_find_duplicates", "--project", str(project.pk))
    after = {image.pk: image for image in Image.objects.all()}
    for pk, value in before.items():
        assert duplicates.distance(value or 0, after[pk].phash or 0) <= 2
    first = images["a.png"].pk
    assert [after[images[n].pk].duplicate_group for n in ("a.png", "b.jpg", "c.png")] == [
        first,
        first,
        None,
    ]
    regrouped = project_duplicates_regroup(project=project)
    assert (regrouped.groups, regrouped.grouped, regrouped.changed) == (1, 2, 0)


@pytest.mark.django_db
def test_grouping_turned_off_links_nothing(
    project, media_root, settings, django_capture_on_commit_callbacks
):
    settings.LABELER_DUPLICATE_DISTANCE = -1
    original = scene(5)
    images = ingest(
        project,
        {"a.png": encoded(original), "b.png": encoded(COPIES["resized"](original))},
        django_capture_on_commit_callbacks,
    )
    assert {image.duplicate_group for image in images.values()} == {None}
    assert all(image.phash is not None for image in images.values())
