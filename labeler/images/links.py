"""Addresses of stored image files: content-addressed, signed, cacheable for good.

A stored file's name is the hash of its bytes, so what a name points to never changes
and browsers may keep it for a year. The address carries the day it was made and a
signature of (name, day) with the site's secret: whoever holds it may fetch that one
file until the end of the following day, with no session and no database query. An
annotator's browser therefore fetches images as fast as the disk serves them, and an
address leaked from a page stops working within two days. The address is the same all
day, so a browser's cache keeps hitting; after midnight a new one is handed out.
"""

from __future__ import annotations

import time

from django.core import signing
from django.urls import reverse
from django.utils.crypto import constant_time_compare

SALT = "labeler.images.links"
DAY_SECONDS = 86_400
VALID_DAYS = 1  # a link made on day d works through day d + 1


def _today() -> int:
    return int(time.time()) // DAY_SECONDS


def _signature(name: str, day: int) -> str:
    return signing.Signer(salt=SALT).signature(f"{day}:{name}")


def file_link(name: str) -> str:
    """The signed address of a stored file (a path on this site)."""
    day = _today()
    return reverse(
        "image-file-link", kwargs={"day": day, "signature": _signature(name, day), "name": name}
    )


def file_link_valid(*, name: str, day: int, signature: str) -> bool:
    """Whether the address was made here for this file and has not expired."""
    if not 0 <= _today() - day <= VALID_DAYS:
        return False
    return constant_time_compare(signature, _signature(name, day))
