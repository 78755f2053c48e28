"""The site's own address, the one start of every absolute link it makes: the one owner.

A link built from the request's Host header goes wherever the header says: where any host
was allowed, an anonymous "forgot password?" sent with a forged Host mailed a real user a
reset link to another site. So every e-mailed, invitation, exported and answered link
starts with ``LABELER_SITE_URL`` (set at install; ``make run``'s address by default),
through ``site_url``, and a Host header never reaches one, whatever ALLOWED_HOSTS allows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from django.conf import settings

if TYPE_CHECKING:
    from django.http import HttpRequest


def site_url(path: str = "/") -> str:
    """``path`` (absolute, as ``reverse`` gives it, with its query) on the site's address:
    ``site_url("/join/abc/")`` is ``https://labeler.example.org/join/abc/``."""
    if not path.startswith("/"):
        raise ValueError(f"site_url takes a path from the site's root, not {path!r}")
    return site_origin() + path


def site_link(link: str | None) -> str | None:
    """``link`` (absolute, or a path) on the site's address, whatever host it named: for
    the links a library makes from the request (DRF's next and previous pages)."""
    if link is None:
        return None
    parts = urlsplit(link)
    return site_url((parts.path or "/") + (f"?{parts.query}" if parts.query else ""))


def site_origin() -> str:
    """The site's address without a trailing slash (``https://labeler.example.org``)."""
    return str(settings.LABELER_SITE_URL).rstrip("/")


def site_address_context(request: HttpRequest) -> dict[str, str]:
    """A template context processor: ``site_address`` for every page (the admin's index
    shows it, so that an admin sees where the links point)."""
    return {"site_address": site_origin()}


def site_address_check(value: str) -> str:
    """``value`` if it is an address the site may be reached at: http or https, a host,
    no path, query or fragment; else ValueError saying what is wrong (the settings
    refuse to start with it)."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(
            f"LABELER_SITE_URL must be the site's address, such as https://labeler.example.org, "
            f"not {value!r}."
        )
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        raise ValueError(
            f"LABELER_SITE_URL is the site's address alone (scheme, host, port), not {value!r}."
        )
    return value.rstrip("/")
