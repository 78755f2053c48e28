"""What images stored before a column existed get afterwards, one image in memory at a time.

- What photos' EXIF says: images stored since the metadata columns exist get it from
  ``services.image_store``; those stored earlier have none. ``images_exif_backfill``
  reads their files' headers once (``manage.py images_read_exif``). It is idempotent: an
  image that has any of the three already is passed over, and one whose EXIF says
  nothing stays blank.
- Converted copies: a HEIC, AVIF or GIF prepared since copies are kept has one
  (``labeler.images.delivery.converted``); ``images_converted_backfill`` makes those of images
  prepared before, in the background a bounded step at a time (``converted_backfill_step``,
  run by beat), or all at once (``manage.py images_make_converted``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.core.cache import cache
from django.core.files.storage import default_storage
from django.db.models import QuerySet
from django.utils import timezone

from labeler import cache_keys
from labeler.cached import CACHE_ERRORS
from labeler.images.catalogue.exif import exif_read
from labeler.images.delivery.converted import converted_keep, converted_make
from labeler.images.models import Image
from labeler.images.pixels.formats import CONVERTED_FORMATS
from labeler.images.stored.references import file_open

logger = logging.getLogger(__name__)
BATCH = 500
STORED_SOURCES = ("upload", "import")  # files copied into our storage


@dataclass
class Backfill:
    """How many images were read, how many got something, whose file was missing, and
    (converted copies) how many could not be converted and the last image id reached."""

    read: int = 0
    filled: int = 0
    missing: int = 0
    failed: int = 0
    last_id: int = 0


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


def images_converted_backfill(
    *, images: QuerySet[Image] | None = None, limit: int | None = None, after: int = 0
) -> Backfill:
    """Give the HEIC, AVIF and GIF images prepared without one their converted copy.

    The images with an id above ``after``, in id order, at most ``limit`` of them (None:
    every one). Images not prepared yet are left to their preparation, which makes theirs,
    and those the worker could not decode are left out. An image whose copy cannot be made
    (over the decoding cap) is counted as failed and stays without: its exports convert
    it as before. One image in memory at a time; idempotent.
    """
    selected = (images if images is not None else Image.objects.all()).filter(
        converted="", format__in=sorted(CONVERTED_FORMATS), problem="", pk__gt=after
    )
    pending = selected.exclude(thumbnail="").order_by("pk")
    fields = ("pk", "project_id", "sha256", "format", "file", "converted")
    rows = pending.only(*fields)[:limit] if limit is not None else pending.only(*fields)
    done = Backfill()
    for image in rows.iterator(chunk_size=min(limit or BATCH, BATCH)):
        done.read += 1
        done.last_id = image.pk
        try:
            with file_open(str(image.file.name)) as handle:
                data = handle.read()
        except OSError:
            logger.warning("image %s: stored file %s cannot be read", image.pk, image.file.name)
            done.missing += 1
            continue
        conversion = converted_make(data, image.format, image_id=image.pk)
        if conversion is None:
            done.failed += 1
        elif converted_keep(image=image, content=conversion.content):
            done.filled += 1
    return done


def converted_backfill_step(*, limit: int) -> Backfill:
    """One bounded step of the background backfill of converted copies (beat runs it):
    the next ``limit`` images after those the last step reached (kept in the cache),
    from the first again once a step finds fewer, so an image whose copy cannot be made
    is tried once a round and never holds up the others. Without the cache each step
    starts from the first.
    """
    key = cache_keys.converted_backfill_after()
    try:
        after = int(cache.get(key) or 0)
    except CACHE_ERRORS as exc:
        logger.warning("Cache not read for %s (%s): from the first image", key, exc)
        after = 0
    done = images_converted_backfill(limit=limit, after=after)
    try:
        cache.set(key, done.last_id if done.read == limit else 0, None)
    except CACHE_ERRORS as exc:
        logger.warning("Cache not written for %s (%s)", key, exc)
    return done
