"""Large PNGs are shrunk by libvips as their rows stream past (``labeler.images.pixels.vips``,
called by the one decoder only): accepted at upload up to the pixel cap, their previews
upright and like Pillow's, in a bounded amount of memory; what is over the caps or
broken is still refused, saying why.
"""

from __future__ import annotations

import io
import json
import logging
import multiprocessing
import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image as PILImage

from bench.uploads_files import png_chunk, png_rgba_turned
from labeler import flows
from labeler.images.models import Image
from labeler.images.pixels import vips
from labeler.images.pixels.decoding import TURNS, _streams, image_decode_reduced, image_open
from labeler.images.pixels.files import RejectedFile, image_check, previews_render

ROOT = Path(__file__).resolve().parents[4]
MIB = 1024 * 1024
# What the worker's previews of the 10000 x 10000 RGBA PNG may add to a fresh process's
# peak: about 2,000 rows of 40 KB and the 2048-pixel display copy (the decoder's estimate
# is 120 MB). Decoded whole by Pillow they added 914 MB.
PREVIEWS_GROWTH_BOUND = 160 * MIB

# A fresh worker process: Django set up, the decoders' libraries loaded on a small image,
# then the PNG's previews rendered as the thumbnail task renders them.
WORKER_PROCESS = """
import json, sys
import django
django.setup()
from bench.uploads_files import png_rgba_turned
from labeler.images.pixels.files import previews_render
from tests.factories import image_bytes
def kib(field):
    return next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith(field))
data = png_rgba_turned()
previews_render(image_bytes(size=(3000, 2000)), display_size=2048, thumbnail_size=256)
before = kib("VmRSS:")
previews = previews_render(data, display_size=2048, thumbnail_size=256)
print(json.dumps({"growth": (kib("VmHWM:") - before) * 1024,
                  "display": len(previews.display or b""), "thumbnail": len(previews.thumbnail)}))
"""


def picture(width: int, height: int) -> np.ndarray:
    """Rows of a picture that looks the same at any size: gradients, and a bright block in
    its top left quarter (where it is shows which way it was turned)."""
    xs = np.arange(width) / width
    rows = np.empty((height, width, 3), np.uint8)
    for y in range(height):
        v = y / height
        rows[y, :, 0] = 255 * xs
        rows[y, :, 1] = 255 * v
        rows[y, :, 2] = np.where((xs < 0.5) & (v < 0.5), 230, 40)
    return rows


def picture_png(width: int, height: int, *, orientation: int = 1) -> bytes:
    """The picture as an RGB PNG, with an eXIf chunk giving its orientation."""
    compressor = zlib.compressobj(1)
    data = b"".join(compressor.compress(b"\0" + row.tobytes()) for row in picture(width, height))
    exif = PILImage.Exif()
    exif[0x0112] = orientation
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + png_chunk(b"eXIf", exif.tobytes().removeprefix(b"Exif\x00\x00"))
        + png_chunk(b"IDAT", data + compressor.flush())
        + png_chunk(b"IEND", b"")
    )


@pytest.fixture(scope="module")
def large_png() -> bytes:
    return png_rgba_turned()


@pytest.mark.django_db
def test_a_10000_pixel_png_with_exif_is_accepted_and_gets_its_previews(
    project, large_png, django_capture_on_commit_callbacks
):
    """The 10000 x 10000 RGBA PNG to turn (refused before: its previews were decoded
    whole) is stored with its size, and the worker makes its thumbnail and display copy:
    upright, no problem noted."""
    with django_capture_on_commit_callbacks(execute=True):
        [result] = flows.images_ingest(
            project=project, files=[SimpleUploadedFile("large.png", large_png)]
        )

    assert result.status == "created" and result.image_id is not None, result
    image = Image.objects.get(pk=result.image_id)
    assert (image.width, image.height, image.problem) == (10_000, 10_000, "")
    with PILImage.open(image.display) as display, PILImage.open(image.thumbnail) as thumbnail:
        assert (display.size, thumbnail.size) == ((2048, 2048), (256, 256))


@pytest.mark.slow
def test_the_workers_previews_of_the_large_png_hold_little_memory(tmp_path):
    """Rendered in a fresh process, the previews add less than PREVIEWS_GROWTH_BOUND to
    its peak resident memory (914 MB when decoded whole)."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "PYTHONPATH": str(ROOT)}

    done = subprocess.run(
        [sys.executable, "-c", WORKER_PROCESS],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )

    assert done.returncode == 0, done.stderr[-3000:]
    probe = json.loads(done.stdout.splitlines()[-1])
    assert probe["display"] and probe["thumbnail"], probe
    growth = probe["growth"]
    print(f"previews of the 10000 x 10000 PNG: peak grew {growth / MIB:.0f} MB")
    assert growth < PREVIEWS_GROWTH_BOUND, f"peak grew {growth / MIB:.0f} MB"


def test_large_png_previews_are_upright_and_look_like_pillows_of_a_small_version():
    """A 6000 x 4000 picture whose EXIF says to turn it: its display copy is 1365 x 2048,
    turned, and within a few levels of Pillow's decode of the same picture drawn at
    600 x 400, turned and resized to that size (JPEG's loss included)."""
    previews = previews_render(
        picture_png(6000, 4000, orientation=6), display_size=2048, thumbnail_size=256
    )

    assert previews.display is not None
    with PILImage.open(io.BytesIO(previews.display)) as shown:
        display = shown.convert("RGB")
    assert display.size == (1365, 2048)
    small = PILImage.open(io.BytesIO(picture_png(600, 400))).convert("RGB")
    expected = small.transpose(TURNS[6]).resize(display.size, PILImage.Resampling.BICUBIC)
    difference = np.abs(np.asarray(display, float) - np.asarray(expected, float))
    assert difference.mean() < 4, difference.mean()


def test_a_png_over_the_pixel_cap_is_still_refused(settings):
    """The pixel cap holds before anything is decoded, libvips or not."""
    settings.LABELER_MAX_IMAGE_PIXELS = 1_000_000

    with pytest.raises(RejectedFile, match=r"Image is 1001x1001 pixels; the limit is 1,000,000"):
        image_check(png_rgba_turned(side=1001))


def test_a_truncated_png_is_refused_at_upload_and_by_the_reduced_decode(large_png):
    """Cut short, the PNG is refused at upload by its row check, saying so; a file stored
    before the check (never checked) fails libvips' decode with an OSError saying why,
    which the worker notes as the image's problem."""
    truncated = large_png[: len(large_png) // 2]

    with pytest.raises(RejectedFile, match=r"^Image file is truncated or corrupt: .*truncated"):
        image_check(truncated)
    with pytest.raises(OSError, match=r"^broken PNG data: .*libpng read error"):
        image_decode_reduced(truncated, 256)


def test_the_decoding_cap_still_refuses_what_the_reduced_decode_would_hold(settings, large_png):
    """Under a cap lower than the streamed decode's estimate, the PNG is refused with the
    figures, before decoding."""
    settings.LABELER_MAX_DECODE_BYTES = 64 * MIB

    with pytest.raises(RejectedFile, match=r"^Decoding this 10000x10000 PNG would take 1"):
        image_check(large_png)


def test_without_libvips_the_large_png_is_refused_as_before(monkeypatch, caplog, large_png):
    """A deployment without pyvips (or libvips) decodes PNGs whole with Pillow: the large
    one is refused at upload with what that would take, and a log line says why."""
    monkeypatch.setattr(vips, "_pyvips", None)
    monkeypatch.setattr(vips, "_missing", "No module named 'pyvips'")
    vips.vips_available.cache_clear()
    try:
        with (
            caplog.at_level(logging.WARNING, logger="labeler.images.pixels.vips"),
            pytest.raises(RejectedFile, match=r"^Decoding this 10000x10000 PNG would take"),
        ):
            image_check(large_png)
    finally:
        vips.vips_available.cache_clear()
    assert "libvips (pyvips) cannot be used (No module named 'pyvips')" in caplog.text


def _decode_in_child(data: bytes, answers: multiprocessing.Queue) -> None:
    answers.put(image_decode_reduced(data, 100).size)


def test_a_process_forked_after_libvips_ran_decodes_with_pillow_instead():
    """libvips' worker threads do not survive a fork: a child forked after the parent
    decoded with it decodes with Pillow (within the cap) instead of waiting forever."""
    data = png_rgba_turned(side=3000)
    assert image_decode_reduced(data, 100).size == (100, 100)  # libvips, in this process
    context = multiprocessing.get_context("fork")
    answers = context.Queue()
    child = context.Process(target=_decode_in_child, args=(data, answers))

    child.start()
    child.join(timeout=60)
    if child.exitcode is None:
        child.kill()

    assert child.exitcode == 0, "the child's decode did not finish"
    assert answers.get(timeout=5) == (100, 100)
    assert vips.vips_available()  # this process still uses libvips


@pytest.mark.parametrize("size", [(8000, 3001), (3001, 8000), (6001, 5999), (5555, 3333)])
def test_a_streamed_decode_has_the_size_pillows_thumbnail_gives(size):
    """The reduced PNG is the size Pillow's ``thumbnail`` made it, to the pixel."""
    width, height = size
    compressor = zlib.compressobj(1)
    row = compressor.compress(bytes(1 + 4 * width))
    rows = row + b"".join(compressor.compress(bytes(1 + 4 * width)) for _ in range(height - 1))
    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    data = b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header)
    data += png_chunk(b"IDAT", rows + compressor.flush()) + png_chunk(b"IEND", b"")
    expected = PILImage.new("1", size)
    expected.thumbnail((256, 256))

    assert _streams(image_open(data), expected.size)  # libvips shrinks it
    assert image_decode_reduced(data, 256).size == expected.size
