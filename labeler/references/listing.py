"""Listing a registered bucket prefix or folder one page at a time, after a cursor.

A scan goes on from the last key it handled, so each page starts after ``after`` in the
listing's own order: S3's (keys as strings, which for Python's code-point order is the
same as S3's UTF-8 byte order) or, for a folder, its paths compared part by part (a
walk in name order visits them in that order, and a cursor deep in the tree skips whole
folders before it without listing them).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field

from labeler.images.stored import buckets
from labeler.images.stored.references import image_extension

# A step lists at most this many entries that are not images, then lets the next go on.
MAX_SKIPPED = 20_000
S3_CALLS = 10  # listing calls of 1000 keys per step


@dataclass(frozen=True)
class Entry:
    """An image file listed: its key (a folder's: the path under it), size, or why not."""

    key: str
    size: int
    problem: str = ""


@dataclass
class Page:
    """One step's images, how many other files were passed, the cursor after them."""

    entries: list[Entry] = field(default_factory=list)
    ignored: int = 0
    last: str = ""
    more: bool = False


def s3_page(bucket: str, prefix: str, *, after: str, size: int) -> Page:
    """Up to ``size`` image objects under ``prefix`` after the key ``after``."""
    page = Page(last=after)
    for _ in range(S3_CALLS):
        listed, truncated = buckets.objects_page(bucket, prefix, after=page.last)
        for item in listed:
            if _take(page, item.key, item.size, size):
                return page
        if not truncated or not listed:
            return page
    page.more = True
    return page


def folder_page(folder: str, *, after: str, size: int) -> Page:
    """Up to ``size`` image files under ``folder`` after the relative path ``after``.

    Hidden files and folders (".name") are passed over; links to folders are not
    followed (a link to a file is, and its target is checked against the allowed roots
    when read). Raises ``OSError`` when the folder itself cannot be read.
    """
    page = Page(last=after)
    after_parts = tuple(after.split("/")) if after else ()
    for parts, file_size, problem in _walk(folder, (), after_parts):
        key = "/".join(parts)
        if problem:
            page.entries.append(Entry(key, 0, problem))
            page.last = key
        elif _take(page, key, file_size, size):
            return page
    return page


def _take(page: Page, key: str, file_size: int, size: int) -> bool:
    """Count one listed file into the page; whether the page is full."""
    page.last = key
    if key.endswith("/"):  # an S3 folder marker
        return False
    if image_extension(key):
        page.entries.append(Entry(key, file_size))
    else:
        page.ignored += 1
    page.more = len(page.entries) >= size or page.ignored >= MAX_SKIPPED
    return page.more


def _walk(
    folder: str, parts: tuple[str, ...], after: tuple[str, ...]
) -> Iterator[tuple[tuple[str, ...], int, str]]:
    """(path parts, size, problem) of each file after ``after``, in part-by-part order."""
    try:
        with os.scandir(os.path.join(folder, *parts)) as listing:
            found = sorted(listing, key=lambda entry: entry.name)
    except OSError as exc:
        if not parts:
            raise
        if parts > after:  # told once: a cursor on it means it was
            yield parts, 0, f"The folder cannot be listed: {exc.strerror or exc}"
        return
    for entry in found:
        here = (*parts, entry.name)
        if entry.name.startswith("."):
            continue
        if entry.is_dir(follow_symlinks=False):
            if here >= after[: len(here)]:  # else everything in it sorts before the cursor
                yield from _walk(folder, here, after)
        elif here > after and not entry.is_dir():
            yield here, _size(entry), ""


def _size(entry: os.DirEntry[str]) -> int:
    try:
        return entry.stat().st_size
    except OSError:  # a broken link: reading it says why
        return 0
