"""Images read in place: named in a storage of their own, opened wherever they lie.

An image registered by reference (``labeler.references``) is never copied into the
default storage: ``Image.file`` names where it lies,

- ``s3/<project>/<bucket>/<key>`` for an object of an S3-compatible bucket, or
- ``folder/<project>/<absolute path, without its first "/">`` for a file of a mounted folder,

and ``file_open`` opens any stored name, a reference or an upload, as a binary file: the
one opener of the thumbnails, the model inputs, the exports and the signed ``/files/``
route. The project in the name lets ``labeler.images.delivery.links`` check membership as for any
stored file. Nothing here writes or deletes: the originals belong to whoever owns the
bucket or the folder, and deleting a project leaves them where they are.

A folder's file is found again on every read, never trusted from the name alone: its
real path (symbolic links followed) must lie inside one of ``LABELER_REFERENCE_ROOTS``
as they are now, and it must be a regular file, opened without following a last link.
"""

from __future__ import annotations

import os
import posixpath
import re
import stat
from dataclasses import dataclass
from typing import IO, Any

from django.conf import settings
from django.core.files.storage import default_storage

from labeler.images.stored import buckets

# Kinds of reference, as Image.source names them.
S3 = "s3"
FOLDER = "folder"
_NAME = re.compile(r"(?P<kind>s3|folder)/(?P<project>[1-9][0-9]{0,17})/(?P<where>[^/].*)\Z", re.S)
# The extensions a referenced image may have, and the type each is served as. The type
# comes from the name, never from the bytes (as for uploads: labeler.images.delivery.responses).
CONTENT_TYPES = {
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "png": "image/png",
    "gif": "image/gif",
    "bmp": "image/bmp",
    "tif": "image/tiff",
    "tiff": "image/tiff",
    "webp": "image/webp",
    "heic": "image/heic",
    "heif": "image/heif",
    "avif": "image/avif",
}
NAME_MAX = 255  # Image.file's length
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)


@dataclass(frozen=True)
class Located:
    """Where a reference's bytes lie: a bucket and key, or a folder's absolute path."""

    kind: str
    project_id: int
    bucket: str = ""
    key: str = ""
    path: str = ""


def s3_name(project_id: int, bucket: str, key: str) -> str:
    """The stored name of an object of a bucket."""
    return f"{S3}/{project_id}/{bucket}/{key}"


def folder_name(project_id: int, path: str) -> str:
    """The stored name of a file of a mounted folder (``path`` absolute)."""
    return f"{FOLDER}/{project_id}/{path.lstrip('/')}"


def reference_locate(name: str) -> Located | None:
    """Where a stored name lies if it is a reference; None for the default storage's names."""
    match = _NAME.match(name)
    if match is None:
        return None
    project_id, where = int(match["project"]), match["where"]
    if match["kind"] == FOLDER:
        return Located(FOLDER, project_id, path="/" + where)
    bucket, _, key = where.partition("/")
    return Located(S3, project_id, bucket=bucket, key=key) if key else None


def is_reference(name: str) -> bool:
    """Whether a stored name is read in place (and so must never be deleted)."""
    return reference_locate(name) is not None


def image_extension(key: str) -> str:
    """A key's or path's extension, lower case, if it names an image; else ""."""
    extension = posixpath.splitext(key)[1].lstrip(".").lower()
    return extension if extension in CONTENT_TYPES else ""


def file_open(name: str) -> IO[bytes] | buckets.ObjectBody:
    """Open any stored image for reading: an upload, a bucket's object or a folder's file.

    Raises ``FileNotFoundError`` for a file that is gone and another ``OSError`` for one
    that cannot be read now (a bucket unreachable, a folder no longer allowed).
    """
    located = reference_locate(name)
    if located is None:
        handle: IO[bytes] = default_storage.open(name, "rb")
        return handle
    if located.kind == FOLDER:
        return folder_open(located.path)
    return buckets.object_open(located.bucket, located.key)


def reference_address(name: str) -> str | None:
    """A presigned address of a bucket's image, for the browser; None for anything else.

    Only with ``LABELER_S3_PRESIGN`` (the default): without it, bucket images go through
    this site's per-user signed links like every other file.
    """
    located = reference_locate(name)
    if located is None or located.kind != S3 or not settings.LABELER_S3_PRESIGN:
        return None
    content_type = CONTENT_TYPES.get(image_extension(located.key), "application/octet-stream")
    return buckets.presigned_url(located.bucket, located.key, content_type=content_type)


def reference_uri(name: str) -> str | None:
    """``s3://bucket/key`` or ``file:///path`` for a reference (as other tools name them)."""
    located = reference_locate(name)
    if located is None:
        return None
    if located.kind == S3:
        return f"s3://{located.bucket}/{located.key}"
    return f"file://{located.path}"


# Folders.


def reference_roots() -> list[str]:
    """The folders references may be read from, their links resolved."""
    return [os.path.realpath(root) for root in settings.LABELER_REFERENCE_ROOTS]


def root_of(path: str) -> str | None:
    """The most specific allowed root holding this real path, or None."""
    inside = [root for root in reference_roots() if _inside(path, root)]
    return max(inside, key=len) if inside else None


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def folder_resolve(path: str) -> str:
    """The real path of a folder's file, refused (``PermissionError``) outside the roots."""
    resolved = os.path.realpath(path)
    if root_of(resolved) is None:
        raise PermissionError(
            f"{path} lies outside the folders this server may read (LABELER_REFERENCE_ROOTS)."
        )
    return resolved


def folder_open(path: str) -> IO[bytes]:
    """Open a folder's regular file for reading, checked against the roots first."""
    resolved = folder_resolve(path)
    handle = open(resolved, "rb", opener=_open_no_follow)  # noqa: SIM115 - returned open
    try:
        mode = os.fstat(handle.fileno()).st_mode
        if not stat.S_ISREG(mode):
            raise IsADirectoryError(f"{path} is not a regular file.")
        # O_NONBLOCK kept a FIFO from blocking the open; a regular file ignores it.
        os.set_blocking(handle.fileno(), True)
    except BaseException:
        handle.close()
        raise
    return handle


def _open_no_follow(path: str, flags: Any) -> int:
    # A last component swapped for a link since folder_resolve is refused (ELOOP).
    return os.open(path, flags | _OPEN_FLAGS)
