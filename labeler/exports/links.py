"""Signed addresses of exported images, which Label Studio's pages load without logging in.

A Label Studio task names its image by an absolute address its annotators' browsers
fetch; they hold no session or token of this site. So the label-studio export writes,
for each image, an address carrying a value signed with the site's secret (Django's
``signing``, under its own salt): the project and the image, the lead who exported it,
when it expires and the Label Studio origin allowed to read it from a page. Nothing is
stored: the signature is the only record, and no setting names Label Studio's server.

An address is served (``labeler.web.export_links``) only while

- its signature matches (a changed character, another image's or another project's path:
  refused),
- it has not expired (``link_expiry_days`` after the export was written, at most
  ``LINK_DAYS_MAX``), and
- the lead who exported it is still active and a lead of the project, or staff: taking
  their role or account away ends every address they exported.

The bytes are what the project's zips carry: the original where the project keeps
photos' metadata in its exports, else its copy without metadata
(``labeler.images.delivery.served``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from django.core import signing
from django.urls import reverse

from labeler.exports.options import LINK_DAYS_MAX
from labeler.images.models import Image

SALT = "labeler.exports.links"
DAY = 86_400


@dataclass(frozen=True)
class ExportLink:
    """What an address says, once its signature is checked."""

    project_id: int
    image_id: int
    user_id: int  # the lead who exported it
    expires: int  # Unix time
    origin: str  # the Label Studio origin that may read it from a page; "" for none

    def remaining(self, now: float | None = None) -> int:
        """Seconds it has left to work; 0 or less once expired."""
        return self.expires - int(time.time() if now is None else now)


def link_expiry(days: int, now: float | None = None) -> int:
    """The Unix time at which addresses made now for ``days`` days expire."""
    return int(time.time() if now is None else now) + days * DAY


def export_link(
    *, project_id: int, image_id: int, user_id: int, expires: int, origin: str = ""
) -> str:
    """The path of an image's signed address (the caller makes it absolute)."""
    token = signing.dumps([project_id, image_id, user_id, expires, origin], salt=SALT)
    kwargs = {"project_id": project_id, "image_id": image_id, "token": token}
    return reverse("export-image-link", kwargs=kwargs)


def export_link_read(token: str, *, project_id: int, image_id: int) -> ExportLink | None:
    """What a signed address says, if it was made here for this project's image; None
    when its signature does not match (or it was signed longer ago than any may last).

    Whether it has expired is the caller's to check (``ExportLink.remaining``), so that
    an expired address can be told apart from a wrong one.
    """
    try:
        value: Any = signing.loads(token, salt=SALT, max_age=(LINK_DAYS_MAX + 1) * DAY)
    except signing.BadSignature:
        return None
    if not _well_formed(value):
        return None
    link = ExportLink(*value)
    if (link.project_id, link.image_id) != (project_id, image_id):
        return None
    return link


def _well_formed(value: Any) -> bool:
    return (
        isinstance(value, list)
        and len(value) == 5
        and all(type(number) is int for number in value[:4])
        and isinstance(value[4], str)
    )


def export_link_file(link: ExportLink) -> tuple[str, bool] | None:
    """The image's stored name and whether its original goes out (the project keeps
    photos' metadata in its exports), while the image is still the project's; else None."""
    found = (
        Image.objects.filter(pk=link.image_id, project_id=link.project_id)
        .values_list("file", "project__export_keep_metadata")
        .first()
    )
    if found is None or not found[0]:
        return None
    return found[0], bool(found[1])
