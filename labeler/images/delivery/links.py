"""Addresses of stored image files: made for one user, short-lived, cached while they live.

A stored file's name is the hash of its bytes under its project's folder
(``images/``, ``thumbnails/`` or ``displays/<project>/...``), so what a name points to
never changes. An address carries the time it was issued and a signature of (time,
user, name) with the site's secret. It is served only

- until ``LABELER_FILE_LINK_SECONDS`` after that time,
- to the user it was made for, logged in (a live session, or their API token), and
- while that user is active and a member of the project the name's folder belongs to
  (or staff), which one indexed query checks.

So an address copied out of a page is useless to anyone else, and stops working when its
user logs out or leaves the project. Addresses are issued for the start of the current
half-lifetime: the same address repeats for that long, so the browser's cache keeps
hitting, and each works for between a half and a whole lifetime.

Images read in place (``labeler.images.stored.references``) have such addresses too (their
names carry the project), with one exception: for a project's leads and admins, a
bucket's image is fetched by the browser from the bucket itself, at a presigned address
that works for whoever holds it for ``LABELER_S3_PRESIGN_SECONDS`` (unless
``LABELER_S3_PRESIGN`` is off). What an address serves depends on who follows it: an
original goes to leads and admins only, others get its copy without metadata
(``labeler.images.delivery.served``).

Those shown no file names (annotators labelling blind, ``labeler.annotations.blind``)
get addresses by id instead, ``image/<project>/<image>/<file|display|thumbnail>``: an
image read in place is named by its bucket's key or its folder's path, which may carry
its class (``cat/IMG_1_cat.jpg``), and such an address says nothing but the image's
number. It is signed, checked and served as any other (``link_target`` finds the stored
file), under a download name made of the number too.
"""

from __future__ import annotations

import functools
import posixpath
import re
import time
from dataclasses import dataclass

from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import signing
from django.db import connection
from django.urls import reverse
from django.utils.crypto import constant_time_compare

from labeler.images.delivery.served import is_original, sees_originals
from labeler.images.models import Image
from labeler.images.stored.references import reference_address
from labeler.projects.models import Membership, Project

SALT = "labeler.images.delivery.links"
# The folders of stored images, thumbnails and display copies, and the names of images
# read in place (s3/, folder/); the project is the name's second part.
# Nothing else in storage (exports, say) has an address. An address by id (image/) names
# the project in the same place. An image's explanations (explanations/) have addresses,
# made only for those who may see them (``labeler.predictions.explanations``).
STORED_NAME = re.compile(
    r"(?:images|thumbnails|displays|s3|folder|image|explanations)"
    r"/(?P<project>[1-9][0-9]{0,17})/[^/]"
)
BY_ID = re.compile(
    r"image/(?P<project>[1-9][0-9]{0,17})/(?P<image>[1-9][0-9]{0,18})/"
    r"(?P<kind>file|display|thumbnail)\Z"
)
FILE_KINDS = ("file", "display", "thumbnail")  # an image's stored files, as Image names them


def _now() -> float:
    return time.time()


def _lifetime() -> int:
    return int(settings.LABELER_FILE_LINK_SECONDS)


def _signature(name: str, issued: int, user_id: int) -> str:
    return signing.Signer(salt=SALT).signature(f"{issued}:{user_id}:{name}")


def link_signed(name: str, *, user_id: int, lifetime: int | None = None) -> tuple[int, str]:
    """(issued, signature) of an address of ``name`` made for this user.

    Issued for the start of the current half of ``lifetime`` (seconds; by default
    ``LABELER_FILE_LINK_SECONDS``): the same address repeats for that long, and works for
    between a half and a whole lifetime. Any stored thing's address is signed here (a
    model's package as well as an image's files), each kind under names of its own.
    """
    step = max(1, (lifetime or _lifetime()) // 2)
    issued = int(_now()) // step * step
    return issued, _signature(name, issued, user_id)


def link_state(
    *, name: str, issued: int, signature: str, user_id: int, lifetime: int | None = None
) -> str:
    """ "valid", "expired" (signed here, too old) or "forged" (not signed here for this
    user and name: changed, copied to another name, or made up)."""
    if not constant_time_compare(signature, _signature(name, issued, user_id)):
        return "forged"
    if issued + (lifetime or _lifetime()) - int(_now()) <= 0:
        return "expired"
    return "valid"


def file_link(name: str, *, user_id: int, originals: bool = False) -> str:
    """The address (a path on this site) at which this user may fetch a stored file.

    For a bucket's image read in place, a presigned address of the bucket instead, made
    for a user who is served originals only (``originals``, leads and admins: the bucket
    serves the original as it lies): an address for no one never serves, and others get
    this site's address, which answers them with the stripped copy.
    """
    presign = user_id and (originals or not is_original(name))
    if presign and (presigned := reference_address(name)):
        return presigned
    issued, signature = link_signed(name, user_id=user_id)
    kwargs = {"issued": issued, "signature": signature, "name": name}
    return reverse("image-file-link", kwargs=kwargs)


def image_file_link(*, project_id: int, image_id: int, kind: str, user_id: int) -> str:
    """The address of one of an image's files (``FILE_KINDS``) that names the image by its
    id only: for those shown no file names. Never presigned (a bucket's address is its key)."""
    if kind not in FILE_KINDS:
        raise ValueError(f"Unknown kind of image file {kind!r}.")
    return file_link(f"image/{project_id}/{image_id}/{kind}", user_id=user_id)


@dataclass(frozen=True)
class LinkTarget:
    """What an address serves: a stored name, and the name the browser is told."""

    name: str  # "" where an address by id names an image, or a file of it, that is gone
    download_name: str | None = None  # None: the stored name's own


def link_target(name: str) -> LinkTarget:
    """The stored file an address's name stands for: itself, or for an address by id the
    image's file of that kind (one query), told to the browser as ``image-<id>.<ext>``."""
    match = BY_ID.match(name)
    if match is None:
        return LinkTarget(name)
    kind = match["kind"]
    stored = (
        Image.objects.filter(pk=int(match["image"]), project_id=int(match["project"]))
        .values_list(kind, flat=True)
        .first()
    )
    if not stored:
        return LinkTarget("")
    return LinkTarget(stored, download_name=download_name_by_id(int(match["image"]), kind, stored))


def download_name_by_id(image_id: int, kind: str, stored: str) -> str:
    """The name a browser is told for an image's file served by id: ``image-12.jpg``,
    ``image-12-thumbnail.jpg`` (the stored name's extension)."""
    extension = posixpath.splitext(stored)[1].lower()
    suffix = "" if kind == "file" else f"-{kind}"
    return f"image-{image_id}{suffix}{extension}"


def file_link_remaining(*, issued: int) -> int:
    """Seconds this address has left to work; 0 or less once it has expired."""
    return issued + _lifetime() - int(_now())


def file_link_valid(*, name: str, issued: int, signature: str, user_id: int) -> bool:
    """Whether the address was made here for this user and file and has not expired."""
    state = link_state(name=name, issued=issued, signature=signature, user_id=user_id)
    return state == "valid"


def file_project(name: str) -> int | None:
    """The project whose folder holds this stored image or thumbnail; None for other names."""
    match = STORED_NAME.match(name)
    return int(match["project"]) if match and ".." not in name.split("/") else None


@dataclass(frozen=True)
class FileReader:
    """A user asking for a file: who, and may they see the project's files."""

    user_id: int
    username: str  # who the audit trail names
    password: str  # the hash: a session is valid while it was made with this one
    may_read: bool  # staff, or a member of the project
    originals: bool  # staff, or a lead of the project (labeler.images.delivery.served)
    blurs_faces: bool = False  # the project blurs faces (``blur_faces``)

    def session_valid(self, session_hash: object) -> bool:
        """Whether a session's hash was made with the user's current password (Django's
        check: changing the password ends the user's other sessions)."""
        user = get_user_model()(password=self.password)
        return isinstance(session_hash, str) and constant_time_compare(
            session_hash, user.get_session_auth_hash()
        )


def file_reader(
    *, project_id: int, user_id: int | None = None, token: str = ""
) -> FileReader | None:
    """The active user with this id, or holding this API token, in one query; else None."""
    by_token = user_id is None
    who = token if by_token else user_id
    with connection.cursor() as cursor:
        cursor.execute(_reader_sql(connection.vendor, by_token), [project_id, project_id, who])
        row = cursor.fetchone()
    if row is None:
        return None
    pk, username, password, is_staff, role, blurs_faces = row
    return FileReader(
        user_id=pk,
        username=username,
        password=password,
        may_read=bool(is_staff or role),
        originals=sees_originals(is_admin=bool(is_staff), role=role),
        blurs_faces=bool(blurs_faces),
    )


@functools.cache
def _reader_sql(vendor: str, by_token: bool) -> str:
    """One statement written once: the ORM took ten times what the database takes to build
    it, on the route every image of every page goes through."""
    del vendor  # a key of the cache: quoting depends on the connection's vendor
    quote = connection.ops.quote_name
    users = quote(get_user_model()._meta.db_table)
    members = quote(Membership._meta.db_table)
    tokens = quote(apps.get_model("authtoken", "Token")._meta.db_table)
    projects = quote(Project._meta.db_table)
    found = (
        f"JOIN {tokens} t ON t.user_id = u.id WHERE t.key = %s" if by_token else "WHERE u.id = %s"
    )
    return (
        "SELECT u.id, u.username, u.password, u.is_staff, (SELECT m.role FROM "
        f"{members} m WHERE m.project_id = %s AND m.user_id = u.id), "
        f"(SELECT p.blur_faces FROM {projects} p WHERE p.id = %s) FROM {users} u "
        f"{found} AND u.is_active"
    )
