"""Recording what photos' EXIF says on images stored before it was read at ingest.

Images stored since the metadata columns exist get them from ``services.image_store``;
those stored earlier have none. ``images_exif_backfill`` reads their files' headers once
(``manage.py images_read_exif``). It is idempotent: an image that has any of the three
already is passed over, and one whose EXIF says nothing stays blank.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.core.files.storage import default_storage
from django.db.models import QuerySet
from django.utils import timezone

from labeler.images.exif import exif_read
from labeler.images.models import Image

logger = logging.getLogger(__name__)
BATCH = 500
STORED_SOURCES = ("upload", "import")  # files copied into our storage


@dataclass
class Backfill:
    """How many images were read, how many got something, and whose file was missing."""

    read: int = 0
    filled: int = 0
    missing: int = 0


def images_exif_backfill(*, images: QuerySet[Image] | None = None) -> Backfill:
    """Fill the capture time, camera and position of images that have none of them.

    A project that strips photos' metadata as they are added (``strip_metadata_on_ingest``)
    gets no position, as its new images would not. One image in memory at a time.
    """
    selected = (images if images is not None else Image.objects.all()).filter(
        captured_at__isnull=True,
        camera="",
        gps_latitude__isnull=True,
        source__in=STORED_SOURCES,  # references are read in place, by their own code
    )
    rows = selected.order_by("pk").values_list("pk", "file", "project__strip_metadata_on_ingest")
    done = Backfill()
    zone = timezone.get_default_timezone()
    for pk, name, strips in rows.iterator(chunk_size=BATCH):
        done.read += 1
        try:
            with default_storage.open(name, "rb") as handle:
                data = handle.read()
        except OSError:
            logger.warning("image %s: stored file %s cannot be read", pk, name)
            done.missing += 1
            continue
        facts = exif_read(data, naive_zone=zone)
        located = facts.latitude is not None and not strips
        if facts.captured_at is None and not facts.camera and not located:
            continue
        Image.objects.filter(pk=pk).update(
            captured_at=facts.captured_at,
            camera=facts.camera,
            gps_latitude=facts.latitude if located else None,
            gps_longitude=facts.longitude if located else None,
        )
        done.filled += 1
    return done
