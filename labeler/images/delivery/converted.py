"""Each HEIC, AVIF and GIF image's converted copy, kept beside its previews for the exports.

Dataset readers skip HEIC, AVIF and GIF files, so the ImageFolder and Hugging Face zips
write them as JPEG or PNG (``labeler.images.pixels.conversion``). Converting decodes the whole
image (a 12-megapixel HEIC: most of a second), which an export did again for every such
image every time. The worker that prepares a new image decodes such a file whole for its
previews anyway (neither HEIC, AVIF nor GIF decodes reduced), so it keeps the copy then,
once (``labeler.images.services.image_prepare``):

- made by ``conversion.image_conversion`` without private metadata: the bytes an export
  of a project that strips metadata from its exports writes (by default);
- stored as ``converted/<project>/<sha256>.<jpg|png>`` (beside ``thumbnails/`` and
  ``displays/``), written whole (``stored_whole``) and then named in ``Image.converted``;
- deleted with the image's other files by every route that deletes them (they list
  ``Image.converted`` with ``file``, ``thumbnail`` and ``display``:
  ``models.STORED_FILE_FIELDS``).

Images prepared before copies were kept get theirs from
``backfill.images_converted_backfill``; until then, and for a project that keeps photos'
metadata in its exports, the exports convert as before.
"""

from __future__ import annotations

import logging

from labeler.images.delivery.stored_whole import store_whole
from labeler.images.file_deletes import storage_delete_files
from labeler.images.models import Image
from labeler.images.pixels.conversion import Conversion, image_conversion
from labeler.images.pixels.files import DECODE_ERRORS
from labeler.images.pixels.formats import ALLOWED_FORMATS, CONVERTED_FORMATS

logger = logging.getLogger(__name__)

CONVERTED_FOLDER = "converted"


def converts(image_format: str) -> bool:
    """Whether images of this format get a converted copy."""
    return image_format in CONVERTED_FORMATS


def converted_name(*, project_id: int, sha256: str, image_format: str) -> str:
    """Where an image's converted copy is stored."""
    extension = ALLOWED_FORMATS[CONVERTED_FORMATS[image_format]]
    return f"{CONVERTED_FOLDER}/{project_id}/{sha256}.{extension}"


def converted_make(data: bytes, image_format: str, *, image_id: int) -> Conversion | None:
    """The image's copy and the upright pixels it was made from; None (logged) where it
    cannot be made, within the decoding cap or at all: its exports convert it then, and
    fail naming it as they did."""
    try:
        return image_conversion(data, image_format)
    except DECODE_ERRORS as exc:
        logger.warning("image %s: no converted copy: %s", image_id, exc)
        return None


def converted_keep(*, image: Image, content: bytes) -> str:
    """Store the image's copy and name it in its row; returns the stored name ("" where
    the image was deleted meanwhile: the copy is removed again).

    The copy is written whole before the row names it, so an export that finds the name
    reads the whole copy. One made again (``images_render_previews``) replaces the first
    in place, under the same name; a copy the row named under another name is deleted
    once the row names the new one.
    """
    name = store_whole(
        converted_name(project_id=image.project_id, sha256=image.sha256, image_format=image.format),
        content,
    )
    if not Image.objects.filter(pk=image.pk).update(converted=name):
        storage_delete_files(names=[name])
        return ""
    before = str(image.converted.name or "")
    if before and before != name:
        storage_delete_files(names=[before])
    return name
