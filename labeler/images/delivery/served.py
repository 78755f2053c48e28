"""Which bytes a user is served for a stored image: the one rule every file route follows.

Only a project's leads and admins are ever served an original (an upload as it was sent,
or an image read in place), with its EXIF: GPS position, owner, camera serial. Everyone
else, whatever address they follow (``file_url``, ``display_url`` where no display copy
was needed, the labelling page's full-resolution zoom, the API's ``file/`` route), gets
the original's stripped copy (``labeler.images.pixels.stripped``): full resolution, upright, no
metadata. Thumbnails and display copies are made without metadata and go to every member.

A project that blurs faces (``blur_faces``) serves those who do not see originals its
images' copies with the faces blurred (``labeler.images.pixels.faces``): thumbnails and display
copies are made blurred by the worker, and the full-size copy is made blurred here on
its first request, under ``blurred/``, in a folder named by the hash of the original's
name, named by the hash of its boxes (a change of the boxes names a new copy; deleting
the original deletes them all). Fail closed: until an image's faces
are found (``Image.faces_state`` "done"), none of its files is served to them
(``FacesNotShown``, answered 409 with its message), nor are explanations, drawn over the
unblurred pixels.

A stripped copy is made on its first request and kept in storage under ``stripped/``,
named by the hash of the original's name (content addressed for uploads) and the copies'
version, written whole before anyone reads it; deleting the original deletes it, of
every version (``stripped_delete``).
"""

from __future__ import annotations

import hashlib
import os

from django.core.files.storage import default_storage
from django.db.models import Q

from labeler.errors import Conflict
from labeler.images.delivery.stored_whole import store_whole
from labeler.images.face_regions import image_face_boxes
from labeler.images.models import Image
from labeler.images.pixels.faces import FaceBox, faces_blur_bytes
from labeler.images.pixels.stripped import stripped_copy
from labeler.images.stored.references import file_open
from labeler.projects.models import Project

# Made without metadata (labeler.images.pixels.files.previews_render,
# labeler.images.delivery.converted):
# thumbnails and display copies are served to every member; converted copies go into
# exports only (no address names them). Explanations (heat maps over a display copy,
# ``labeler.images.delivery.explanation_files``) are given addresses only by the route that checks
# who may see them.
DERIVED_FOLDERS = ("thumbnails/", "displays/", "converted/", "explanations/")
STRIPPED_FOLDER = "stripped"
BLURRED_FOLDER = "blurred"
_SHA256_NAMED = ("images/", "thumbnails/", "displays/")  # names that start with the hash


class FacesNotShown(Conflict):
    """An image of a project that blurs faces whose copies cannot be shown to this user
    yet (its faces not found) or at all (an explanation over its unblurred pixels)."""

    code = "faces_not_blurred"


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


def image_bytes_for(*, name: str, originals: bool, blurs_faces: bool | None = None) -> str:
    """The stored name whose bytes this user gets when asking for ``name``.

    ``originals``: whether they may have the original (``sees_originals``). Otherwise an
    original's stripped copy, made now if it was not yet, or where the project blurs
    faces (``blurs_faces``, when the caller knows it already; None: read here) its
    blurred copy, and for a thumbnail or display copy itself once the faces are blurred.
    Raises FileNotFoundError when the original is gone, ValueError or OSError when it
    cannot be read as its format, FacesNotShown while the image's faces are not blurred.
    """
    if originals:
        return name
    if blurs_faces is not False and (blurred := _blurred_for(name, blurs_faces)) is not None:
        return blurred
    if not is_original(name):
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


def _blurred_for(name: str, blurs_faces: bool | None) -> str | None:
    """The name served for ``name`` where its project blurs faces (``blurs_faces``, or
    read); None where it does not. Raises FacesNotShown while the image's faces are not
    found, and for explanations."""
    project_id = _project_of(name)
    if project_id is None or not (blurs_faces or _blurs(project_id)):
        return None
    if name.startswith("explanations/"):
        raise FacesNotShown(
            "Explanations are not shown in a project that blurs faces: they are drawn over "
            "the image as it is."
        )
    image = _image_named(project_id, name)
    if image is None:
        raise FileNotFoundError(name)
    faces_shown_check(image)
    if not is_original(name):
        return name  # thumbnails and display copies are made blurred
    return _blurred_copy(name, image_face_boxes(image))


def faces_shown_check(image: Image) -> None:
    """Raise FacesNotShown, saying why, while the faces of an image of a project that
    blurs faces are not found (being found, or their finding failed): its copies, the
    thumbnail and display copy among them, are made once they are."""
    if image.faces_state != "done":
        raise FacesNotShown(
            "This image is shown once its faces are found and blurred; try again in a moment."
            if image.faces_state != "failed"
            else "This image's faces could not be found, so it is not shown; a lead can draw "
            "them or find them again."
        )


def _blurred_copy(name: str, boxes: list[FaceBox]) -> str:
    key = str([(b.left, b.top, b.width, b.height) for b in boxes])
    digest = hashlib.sha256(key.encode()).hexdigest()
    base = f"{_blurred_folder(name)}/{digest}."
    for extension in ("jpg", "png"):
        if default_storage.exists(base + extension):
            return base + extension
    with file_open(name) as handle:
        content, extension = faces_blur_bytes(handle.read(), boxes)
    return store_whole(base + extension, content)


def _blurred_folder(name: str) -> str:
    """The folder of an original's blurred copies, one per set of boxes it had."""
    digest = hashlib.sha256(name.encode()).hexdigest()
    return f"{BLURRED_FOLDER}/{_project_of(name) or 0}/{digest}"


def blurred_delete(*, name: str) -> None:
    """Delete an original's blurred copies (of its boxes now and before), if any."""
    folder = _blurred_folder(name)
    try:
        _, files = default_storage.listdir(folder)
    except FileNotFoundError:
        return
    for file_name in files:
        default_storage.delete(f"{folder}/{file_name}")


def _project_of(name: str) -> int | None:
    parts = name.split("/", 2)
    if len(parts) < 3 or not parts[1].isdigit():
        return None
    return int(parts[1])


def project_blurs_faces(project_id: int) -> bool:
    """Whether the project blurs faces: then even a route made for a lead that hands
    files to others (an export's links) serves blurred copies."""
    return _blurs(project_id)


def _blurs(project_id: int) -> bool:
    return Project.objects.filter(pk=project_id, blur_faces=True).exists()


def image_of_file(*, project_id: int, name: str) -> int | None:
    """The id of the image whose stored file (or copy) ``name`` is, if any."""
    image = _image_named(project_id, name)
    return image.pk if image is not None else None


def _image_named(project_id: int, name: str) -> Image | None:
    """The image whose file, thumbnail or display copy ``name`` is (by its hash, an index
    look-up, where the name starts with it)."""
    images = Image.objects.filter(project_id=project_id).only("faces_state", "width", "height")
    if name.startswith(_SHA256_NAMED):
        images = images.filter(sha256=name.rsplit("/", 1)[-1][:64])
    return images.filter(Q(file=name) | Q(thumbnail=name) | Q(display=name)).first()


def stripped_delete(*, name: str) -> None:
    """Delete an original's stripped copy, if one was made, and its blurred copies."""
    if not is_original(name):
        return
    blurred_delete(name=name)
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
