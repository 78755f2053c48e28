"""Subjects on a plain background: framed on themselves and checked on 256 bits, so that
copies of small, alike pictures (handwritten digits) are found and different ones are
not grouped (fixed seeds)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image as PILImage
from PIL import ImageOps

from labeler import flows
from labeler.images.duplicates import finding as duplicates
from labeler.images.duplicates.groups import near_images, project_duplicates_regroup
from labeler.images.duplicates.hash_upgrade import images_hash_backfill
from labeler.images.models import Image
from labeler.images.pixels import perceptual
from tests.labeler.images.digits import digit_image, mnist_digits, planted_figures, worker_hashes
from tests.labeler.images.scenes import COPIES, cropped, encoded, scene, subject_scene
from worker.tasks import duplicates_regroup

# The server's default distance (LABELER_DUPLICATE_DISTANCE in labeler/settings.py).
DEFAULT_DISTANCE = 7
HEADLINE = ("resized", "recompressed", "cropped")


def grey(image: PILImage.Image) -> np.ndarray:
    return np.asarray(image.convert("L"), dtype=np.float64)


def test_a_plain_border_is_a_background_and_a_photo_has_none():
    digit = digit_image(mnist_digits()[0][0])
    assert perceptual.plain_background(grey(digit)) == 0.0
    inverted = ImageOps.invert(digit)
    assert perceptual.plain_background(grey(inverted)) == 255.0
    assert perceptual.plain_background(grey(subject_scene(1))) is not None
    assert [perceptual.plain_background(grey(scene(s, (320, 240)))) for s in range(10)] == [
        None
    ] * 10


def test_a_photo_is_hashed_as_it_is_and_zoomed_in_and_has_no_check():
    """A photo's hash is the plain pHash of its pixels, as before subjects were framed;
    beside it, the pHash of its central view (2.5 % cut from each side: 10 and 6 pixels
    of 400x240)."""
    photo = scene(3, (400, 240))
    hashes = perceptual.image_hashes(photo)
    assert (hashes.phash, hashes.check) == (perceptual.phash_of(photo), None)
    central = perceptual.phash_of(photo.crop((10, 6, 390, 234)))
    assert hashes.zoom is not None
    assert duplicates.distance(hashes.zoom, central) <= 2  # resampled from the box, not cut
    assert duplicates.distance(hashes.zoom, hashes.phash) > duplicates.distance(
        hashes.zoom, central
    )


def test_photos_cropped_a_little_meet_their_originals_zoomed_hash():
    """30 generated photos and copies cropped 3 % and 4 % a side, hashed as the worker
    hashes them: at the default distance nearly all copies join their original through
    its zoomed hash (or theirs), where the hashes alone miss many, and no two photos
    join each other."""
    hashes, sources, kinds = [], [], []
    for seed in range(30, 60):
        photo = scene(seed, (320, 240))
        for kind, picture in (
            ("original", photo),
            ("cropped 3 %", cropped(photo, 0.03)),
            ("cropped 4 %", cropped(photo, 0.04)),
        ):
            hashes.append(worker_hashes(picture))
            sources.append(seed)
            kinds.append(kind)
    recall, mixed = planted_figures(hashes, sources, kinds, DEFAULT_DISTANCE)
    assert min(recall.values()) >= 0.9 and mixed == 0, recall
    plain = [replace(h, zoom=None) for h in hashes]
    before, _ = planted_figures(plain, sources, kinds, DEFAULT_DISTANCE)
    assert max(before.values()) <= 0.8, before


def test_a_subject_keeps_its_hashes_whatever_its_margin_and_size():
    """A shot padded with more background, cut closer, or shrunk keeps the same framed
    view: its 64-bit hash within 2 bits and its check within the check distance; another
    shot is outside both."""
    shot = subject_scene(5)
    hashes = perceptual.image_hashes(shot)
    background = shot.getpixel((0, 0))
    padded = ImageOps.expand(shot, border=60, fill=background)
    copies = [padded, COPIES["cropped"](shot), COPIES["resized"](shot)]
    for copy in copies:
        other = perceptual.image_hashes(copy)
        assert other.check is not None and hashes.check is not None
        assert duplicates.distance(hashes.phash, other.phash) <= 2
        assert perceptual.check_distance(hashes.check, other.check) <= 8
    different = perceptual.image_hashes(subject_scene(6))
    assert different.check is not None and hashes.check is not None
    assert perceptual.check_distance(hashes.check, different.check) > perceptual.CHECK_DISTANCE


def test_specks_on_a_dark_field_are_hashed_as_a_photo():
    """Too little subject to frame on (a few stars): its own centre would move with
    every re-encoding."""
    field = np.zeros((200, 200), np.uint8)
    field[np.random.default_rng(2).integers(0, 200, (2, 30)).tolist()] = 255
    image = PILImage.fromarray(field).convert("RGB")
    assert perceptual.image_hashes(image).check is None


def test_the_check_words_and_distance_agree():
    rng = np.random.default_rng(4)
    raw = [bytes(rng.integers(0, 256, 32, dtype=np.uint8)) for _ in range(6)]
    words = perceptual.check_words([*raw, None])
    assert words[:6, 4].all() and not words[6].any()
    left, right = np.array([0, 1, 2]), np.array([1, 2, 3])
    apart = np.bitwise_count(words[left, :4] ^ words[right, :4]).sum(axis=1)
    pairs = zip(left.tolist(), right.tolist(), strict=True)
    assert apart.tolist() == [perceptual.check_distance(raw[a], raw[b]) for a, b in pairs]
    assert apart.min() > perceptual.CHECK_DISTANCE  # random checks: about 128 bits apart
    assert not duplicates.checks_pass(words, left, right).any()
    assert duplicates.checks_pass(words, np.array([0, 6]), np.array([0, 6])).all()
    assert not duplicates.checks_pass(words, np.array([0]), np.array([6])).any()


def planted_checks(rng: np.random.Generator, count: int) -> tuple[np.ndarray, np.ndarray]:
    """Hashes crowded into few values (as alike pictures' are), half with checks: random,
    or a near copy's (a few bits flipped) or a far one's."""
    hashes = rng.integers(0, 64, count, dtype=np.uint64)
    raw: list[bytes | None] = []
    for n in range(count):
        if n % 2:
            raw.append(None)
        elif n >= 4 and rng.random() < 0.5 and raw[n - 4] is not None:
            near = bytearray(raw[n - 4] or b"")
            for bit in rng.choice(256, int(rng.integers(0, 40)), replace=False):
                near[bit // 8] ^= 1 << (bit % 8)
            raw.append(bytes(near))
            hashes[n] = hashes[n - 4]
        else:
            raw.append(bytes(rng.integers(0, 256, 32, dtype=np.uint8)))
    return hashes, perceptual.check_words(raw)


@pytest.mark.parametrize("max_distance", [3, 7])
def test_the_banded_pass_with_checks_groups_as_comparing_every_pair_does(max_distance):
    """Against the quadratic reference: equal 64-bit hashes with far checks stay apart, a
    photo never joins a framed subject, near checks join."""
    rng = np.random.default_rng(30 + max_distance)
    hashes, checks = planted_checks(rng, 300)
    count = len(hashes)
    fast = duplicates.groups_of(count, *duplicates.near_pairs(hashes, max_distance, checks))
    reference = duplicates.groups_of(
        count, *duplicates.pairwise_near_pairs(hashes, max_distance, checks)
    )
    assert (fast >= 0).sum() > 30
    same = fast[:, None] == fast[None, :]
    assert np.array_equal(same, reference[:, None] == reference[None, :])
    framed = checks[:, 4] == 1
    grouped = fast >= 0
    assert not (same & framed[:, None] & ~framed[None, :] & grouped[:, None]).any()


def test_mnist_copies_are_found_and_different_digits_are_not_grouped():
    """300 real digits and resized, re-encoded and cropped (one pixel a side) copies of 30
    of them, hashed as the worker hashes them: at the default distance at least 95 % of
    the copies join their original and fewer than 2 % of the digits join another; the
    64-bit pHash alone, as digits were hashed before, groups many more."""
    pixels, _ = mnist_digits()
    rng = np.random.default_rng(8)
    chosen = rng.choice(len(pixels), 300, replace=False)
    hashes, sources, kinds = [], [], []
    for n, index in enumerate(chosen.tolist()):
        picture = digit_image(pixels[index])
        hashes.append(worker_hashes(picture))
        sources.append(n)
        kinds.append("original")
        if n < 30:
            for kind in HEADLINE:
                fmt = "JPEG" if kind == "recompressed" else "PNG"
                hashes.append(worker_hashes(COPIES[kind](picture), fmt))
                sources.append(n)
                kinds.append(kind)
    recall, mixed = planted_figures(hashes, sources, kinds, DEFAULT_DISTANCE)
    assert np.mean([recall[kind] for kind in HEADLINE]) >= 0.95, recall
    assert mixed < 0.02
    plain = [
        perceptual.ImageHashes(perceptual.phash_of(digit_image(pixels[i]))) for i in chosen.tolist()
    ]
    _, plain_mixed = planted_figures(plain, list(range(300)), ["original"] * 300, 7)
    assert plain_mixed > 0.1


@pytest.mark.django_db
def test_framed_copies_group_at_ingest_and_a_photo_with_their_hash_does_not(
    project, media_root, settings, django_capture_on_commit_callbacks
):
    """A product shot and its resized JPEG copy group (their checks stored); a photo given
    the shot's very 64-bit hash is not near it."""
    settings.LABELER_DUPLICATE_DISTANCE = DEFAULT_DISTANCE
    shot = subject_scene(9)
    files = {
        "shot.png": encoded(shot),
        "copy.jpg": encoded(COPIES["resized"](shot), "JPEG"),
        "photo.png": encoded(scene(9)),
    }
    with django_capture_on_commit_callbacks(execute=True):
        results = flows.images_ingest(
            project=project, files=[SimpleUploadedFile(n, d) for n, d in files.items()]
        )
    images = {r.name: Image.objects.get(pk=r.image_id or 0) for r in results}
    first = images["shot.png"]
    assert images["copy.jpg"].duplicate_group == first.pk == first.duplicate_group
    assert first.phash_check is not None and images["photo.png"].phash_check is None
    assert {first.phash_version, images["photo.png"].phash_version} == {perceptual.HASH_VERSION}
    photo = images["photo.png"]
    Image.objects.filter(pk=photo.pk).update(
        **duplicates.phash_columns(duplicates.to_unsigned(first.phash or 0))
    )
    near = near_images(project_id=project.pk, phash=first.phash or 0, exclude_id=first.pk)
    assert [n.id for n in near] == [photo.pk]  # asked as a photo: photos only
    near = near_images(
        project_id=project.pk,
        phash=first.phash or 0,
        check=bytes(first.phash_check),
        exclude_id=first.pk,
    )
    assert [n.id for n in near] == [images["copy.jpg"].pk]


@pytest.mark.django_db
def test_images_hashed_before_subjects_were_framed_are_hashed_again(
    project, media_root, settings, django_capture_on_commit_callbacks
):
    """A shot hashed by the earlier hashing (no version: the plain pHash of its thumbnail,
    no check) is not near its framed copy; the project's regrouping hashes it again from
    its thumbnail and the two are one group. Rows of this version are left alone."""
    settings.LABELER_DUPLICATE_DISTANCE = DEFAULT_DISTANCE
    shot = subject_scene(11)
    with django_capture_on_commit_callbacks(execute=True):
        results = flows.images_ingest(
            project=project,
            files=[
                SimpleUploadedFile("a.png", encoded(shot)),
                SimpleUploadedFile("b.jpg", encoded(COPIES["resized"](shot), "JPEG")),
            ],
        )
    a, b = (Image.objects.get(pk=r.image_id or 0) for r in results)
    assert a.duplicate_group == b.duplicate_group == a.pk
    plain = perceptual.phash_of(PILImage.open(a.thumbnail.path))
    Image.objects.filter(pk=a.pk).update(
        **duplicates.phash_columns(plain), phash_check=None, phash_version=None
    )
    assert project_duplicates_regroup(project=project).grouped == 0  # as before an upgrade
    assert duplicates_regroup(project.pk) == 2  # hashed again, then grouped
    again = Image.objects.get(pk=a.pk)
    assert again.duplicate_group == a.pk == Image.objects.get(pk=b.pk).duplicate_group
    assert again.phash_check is not None and a.phash_check is not None
    # From the thumbnail, JPEG-encoded once: the same hashes give or take a few bits.
    assert duplicates.distance(again.phash or 0, a.phash or 0) <= 2
    assert perceptual.check_distance(bytes(again.phash_check), bytes(a.phash_check)) <= 8
    assert again.phash_version == perceptual.HASH_VERSION
    assert images_hash_backfill(images=Image.objects.filter(project=project)) == 0
    assert Image.objects.get(pk=b.pk).phash == b.phash
