"""Which bytes a user is served for a stored image: the one rule every file route follows.

Only a project's leads and admins are ever served an original (an upload as it was sent,
or an image read in place), with its EXIF: GPS position, owner, camera serial. Everyone
else, whatever address they follow (``file_url``, ``display_url`` where no display copy
was needed, the labelling page's full-resolution zoom, the API's ``file/`` route), gets
the original's stripped copy (``labeler.images.stripped``): full resolution, upright, no
metadata. Thumbnails and display copies are made without metadata and go to every member.

A stripped copy is made on its first request and kept in storage under ``stripped/``,
named by the hash of the original's name (content addressed for uploads) and the copies'
version, written whole before anyone reads it; deleting the original deletes it, of
every version (``stripped_delete``).
"""

from __future__ import annotations

import hashlib
import os

from django.core.files.storage import default_storage

from labeler.images.references import file_open
from labeler.images.stored_whole import store_whole
from labeler.images.stripped import stripped_copy

# Made without metadata (labeler.images.files.previews_render, labeler.images.converted):
# thumbnails and display copies are served to every member; converted copies go into
# exports only (no address names them). Explanations (heat maps over a display copy,
# ``labeler.images.explanation_files``) are given addresses only by the route that checks
# who may see them.
DERIVED_FOLDERS = ("thumbnails/", "displays/", "converted/", "explanations/")
STRIPPED_FOLDER = "stripped"
# What the copies leave out changed with each version: a copy of an earlier one is made
# again (version 2: ICC profiles lose their text; version 1 kept them whole).
_COPY_VERSION = 2
_KEPT_FORMATS = ("jpg", "webp", "bmp")  # a copy keeps these; any other is a PNG


def sees_originals(*, is_admin: bool, role: str | None) -> bool:
    """Whether a user is served originals: admins and the project's leads."""
    return is_admin or role == "lead"


def is_original(name: str) -> bool:
    """Whether a stored name is an original (anything not a derived copy counts as one)."""
    return not name.startswith(DERIVED_FOLDERS)


def image_bytes_for(*, name: str, originals: bool) -> str:
    """The stored name whose bytes this user gets when asking for ``name``.

    ``originals``: whether they may have the original (``sees_originals``). Otherwise an
    original's stripped copy, made now if it was not yet. Raises FileNotFoundError when
    the original is gone, ValueError or OSError when it cannot be read as its format.
    """
    if originals or not is_original(name):
        return name
    extension = os.path.splitext(name)[1].lstrip(".").lower()
    # Only the formats its copy can have: an object store answers each look-up in a request.
    for candidate in _copy_extensions(extension):
        cached = _stripped_base(name) + candidate
        if default_storage.exists(cached):
            return cached
    with file_open(name) as handle:
        data = handle.read()
    copy = stripped_copy(data, extension)
    return store_whole(_stripped_base(name) + copy.extension, copy.content)


def stripped_delete(*, name: str) -> None:
    """Delete an original's stripped copy, if one was made."""
    if not is_original(name):
        return
    extension = os.path.splitext(name)[1].lstrip(".").lower()
    for version in range(1, _COPY_VERSION + 1):
        for candidate in _copy_extensions(extension):
            default_storage.delete(_stripped_base(name, version=version) + candidate)


def _copy_extensions(extension: str) -> tuple[str, ...]:
    """The formats an original's copy can be in, the likeliest first: its own where the
    copy keeps it (``stripped_copy``), PNG for what is drawn again."""
    return (extension, "png") if extension in _KEPT_FORMATS else ("png",)


def _stripped_base(name: str, *, version: int = _COPY_VERSION) -> str:
    key = name if version == 1 else f"{version}:{name}"
    digest = hashlib.sha256(key.encode()).hexdigest()
    project = name.split("/", 2)[1] if name.count("/") >= 2 else "0"
    return f"{STRIPPED_FOLDER}/{project}/{digest[:2]}/{digest}."
