"""Phone-sized photos for the export benchmark: scikit-image's photos at 4032 x 3024.

Six of scikit-image's photos (``skimage.data``: astronaut, coffee, chelsea, rocket, the
Hubble deep field, a retina) are enlarged to a phone's 12 megapixels with a little
sensor-like noise, so that they weigh what a phone's photos weigh (2 to 3 MB as JPEG),
and carry a camera's EXIF (some turned by it, some with a GPS position). The project
holds ``JPEGS`` of them as JPEG files (each with a comment of its own: distinct files),
one as HEIC (written by pillow-heif in 512-pixel tiles, as phones write it) and one as
AVIF (written by Pillow), as a phone's camera roll mixes them. The files are written once
under the benchmark's media folder and reused (the HEIC takes some 30 s to encode).
"""

from __future__ import annotations

import io
import struct
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image as PILImage

SIZE = (4032, 3024)
SCENES = ("astronaut", "coffee", "chelsea", "rocket", "hubble_deep_field", "retina")
JPEGS = 33
LABELS = ["beach", "forest", "city", "snow"]
_ORIENTATION, _MAKE, _MODEL, _GPS = 0x0112, 0x010F, 0x0110, 0x8825


def photo_files(media_root: Path) -> list[tuple[str, str]]:
    """(stored name, format) of every photo, written under ``media_root`` if missing."""
    folder = media_root / "images" / "bench-photos"
    folder.mkdir(parents=True, exist_ok=True)
    files = [(f"IMG_{n:04d}.jpg", "JPEG") for n in range(JPEGS)]
    files += [("IMG_heic.heic", "HEIF"), ("IMG_avif.avif", "AVIF")]
    for number, (name, fmt) in enumerate(files):
        path = folder / name
        if not path.exists():
            path.write_bytes(_photo(number, fmt))
    return [(f"images/bench-photos/{name}", fmt) for name, fmt in files]


def _photo(number: int, fmt: str) -> bytes:
    scene = _scene(number % len(SCENES))
    exif = PILImage.Exif()
    exif[_MAKE], exif[_MODEL] = "Acme", "Acme Phone 12"
    if number % 4 == 1:
        exif[_ORIENTATION] = 6
    if number % 4 == 2:
        exif[_GPS] = {1: "N", 2: (52.0, 22.0, 3.5), 3: "E", 4: (4.0, 53.0, 12.0)}
    buffer = io.BytesIO()
    if fmt == "JPEG":
        scene.save(buffer, format="JPEG", quality=90, exif=exif)
        data = buffer.getvalue()
        text = f"photo {number}".encode()  # a file of its own, the same work to decode
        return data[:2] + b"\xff\xfe" + struct.pack(">H", len(text) + 2) + text + data[2:]
    options: dict[str, Any] = {"quality": 60, "exif": exif.tobytes()}
    if fmt == "AVIF":
        options["speed"] = 6
    else:  # in 512-pixel tiles, as phones write HEIC
        options["tile_size"] = 512
    scene.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def _scene(index: int) -> PILImage.Image:
    from skimage import data

    pixels = getattr(data, SCENES[index])()
    image = PILImage.fromarray(pixels).convert("RGB").resize(SIZE, PILImage.Resampling.BICUBIC)
    rng = np.random.default_rng(index)
    noisy = np.asarray(image).astype(np.int16)
    noisy += rng.integers(-4, 4, (SIZE[1], SIZE[0], 1), dtype=np.int16)
    return PILImage.fromarray(np.clip(noisy, 0, 255).astype(np.uint8))


def photo_project(name: str, files: list[tuple[str, str]], sizes: dict[str, int]) -> Any:
    """A project whose images are the photos, each with a consensus final label; the
    labels spread unevenly (as real classes are), so a 80/10/10 split leaves some out of
    the smaller splits."""
    from django.db import transaction

    from labeler.annotations.models import FinalLabel
    from labeler.images.file_deletes import storage_delete_files
    from labeler.images.models import Image
    from labeler.projects.models import Label, Project

    # The last run's converted copies (named by its project): the originals are shared.
    made = Image.objects.filter(project__name=name).exclude(converted="")
    storage_delete_files(names=list(made.values_list("converted", flat=True)))
    with transaction.atomic():
        Project.objects.filter(name=name).delete()
        project = Project.objects.create(name=name)
        labels = [
            Label.objects.create(project=project, name=label, color="#123456", position=i)
            for i, label in enumerate(LABELS)
        ]
        for number, (stored, fmt) in enumerate(files):
            image = Image.objects.create(
                project=project,
                file=stored,
                original_name=Path(stored).name,
                sha256=f"{number:064x}",
                width=SIZE[0],
                height=SIZE[1],
                format=fmt,
                size_bytes=sizes[stored],
                annotation_count=1,
                is_complete=True,
            )
            final = FinalLabel.objects.create(image=image, method="consensus", confidence=1.0)
            final.labels.set([labels[min(number % 7, len(labels) - 1)]])
    return project


def copies_keep(project: Any) -> dict[str, tuple[int, int, float]]:
    """Each HEIC's and AVIF's converted copy made and stored, as the worker does when it
    prepares the photo; by format: (original bytes, copy bytes, seconds to make it)."""
    import time

    from labeler.images.delivery.converted import converted_keep, converted_make, converts
    from labeler.images.stored.references import file_open

    made = {}
    for image in project.images.order_by("pk"):
        if not converts(image.format):
            continue
        started = time.perf_counter()
        with file_open(image.file.name) as handle:
            data = handle.read()
        conversion = converted_make(data, image.format, image_id=image.pk)
        assert conversion is not None
        name = converted_keep(image=image, content=conversion.content)
        made[image.format] = (len(data), len(conversion.content), time.perf_counter() - started)
        assert name
    return made
