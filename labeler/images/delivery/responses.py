"""Serving a stored image or thumbnail: the response for the signed /files/ route and the API."""

from __future__ import annotations

import logging
import posixpath
import re
import struct

from django.http import FileResponse

from labeler.audit.models import Action
from labeler.audit.services import audit_record
from labeler.images.delivery.links import file_project
from labeler.images.delivery.served import image_bytes_for, image_of_file, is_original
from labeler.images.pixels.decoding import DecodeRefused
from labeler.images.stored.references import CONTENT_TYPES, file_open, is_reference

logger = logging.getLogger(__name__)

SAFE_NAME = re.compile(r"[^\w.-]")
# The extensions image_check gives each accepted format, and thumbnails' (JPEG).
STORED_CONTENT_TYPES = {
    "jpg": "image/jpeg",
    "png": "image/png",
    "gif": "image/gif",
    "bmp": "image/bmp",
    "tif": "image/tiff",
    "webp": "image/webp",
    "heic": "image/heic",
    "avif": "image/avif",
}


def stored_file_response(
    name: str,
    *,
    originals: bool,
    max_age: int = 31_536_000,
    download_name: str | None = None,
    blurs_faces: bool | None = None,
) -> FileResponse | None:
    """The stored file as this user may have it, never to change for the browser (its
    name is its content's hash); None when it is missing or cannot be read now.

    ``originals``: whether the user is served originals (leads and admins); else an
    original is answered by its stripped copy (``labeler.images.delivery.served.image_bytes_for``),
    or its blurred copy where the project blurs faces (``blurs_faces``: None, read there).

    The browser keeps it for ``max_age`` seconds: a year, or what its address has left.
    It is told the file's name is ``download_name``, or else the stored name's last part
    (a bucket's key may carry a class: those labelling blind are given a number instead).

    Stored names end in the extension of the format the upload was validated as, so the
    content type comes from that and never from the bytes: a polyglot (an image with HTML
    or a zip appended) is served as the image it passed for. The browser may not sniff
    another type, and were the file opened as a page it would run nothing (sandbox).
    Raises ``FacesNotShown`` (a 409 Conflict) where the project blurs faces and this
    image's are not found yet: never the faces unblurred.
    An image read in place (``labeler.images.stored.references``) is served from where it lies,
    its type named by its key's image extension, the only ones registered.
    """
    asked = name
    try:
        name = image_bytes_for(name=name, originals=originals, blurs_faces=blurs_faces)
        handle = file_open(name)
    except (FileNotFoundError, IsADirectoryError):
        return None
    except (ValueError, SyntaxError, struct.error, DecodeRefused) as exc:
        # Passed the upload's checks, so not expected: a copy that cannot be made (a
        # damaged file read in place, a redraw over the decoding cap) is not served.
        logger.warning("Cannot strip %s: %s", name, exc)
        return None
    except OSError as exc:  # a referenced bucket or folder that cannot be read now
        if not is_reference(name):
            raise
        logger.warning("Cannot serve %s: %s", name, exc)
        return None
    extension = posixpath.splitext(name)[1].lstrip(".").lower()
    content_type = (CONTENT_TYPES if is_reference(name) else STORED_CONTENT_TYPES).get(extension)
    if originals and is_original(asked):
        _original_served_record(asked, download_name)
    response = FileResponse(handle, content_type=content_type or "application/octet-stream")
    response["Cache-Control"] = f"private, max-age={max(max_age, 0)}, immutable"
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    disposition = "inline" if content_type else "attachment"
    response["Content-Disposition"] = (
        f'{disposition}; filename="{SAFE_NAME.sub("_", download_name or posixpath.basename(name))}"'
    )
    return response


def _original_served_record(name: str, download_name: str | None) -> None:
    """An original's bytes handed out (to a lead or an admin, or by an export's signed
    link): one audit entry, the reader taken from the request. It names the image by id,
    never by its file's name or hash (an erased image leaves nothing of them here)."""
    project_id = file_project(name)
    image_id = image_of_file(project_id=project_id, name=name) if project_id else None
    audit_record(
        action=Action.ORIGINAL_DOWNLOADED,
        project=project_id,
        target=("image", image_id or "", f"image {image_id}" if image_id else "an original"),
        details={"as_download": download_name is not None},
    )
