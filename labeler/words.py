"""Counts in words, read right: "1 image", "3 images", never "1 image(s)".

Every message, page and log line that puts a number before a noun goes through
``counted`` (or ``noun`` where the number stands elsewhere); ``static/js/lib/format.js``'s
``plural`` is the pages' own. ``tests/test_counts_in_words.py`` walks the code for
"(s)" after a noun.
"""

from __future__ import annotations


def noun(number: int, singular: str, plural: str | None = None) -> str:
    """``singular`` for one, else ``plural`` (``singular`` + "s" unless given)."""
    return singular if number == 1 else (plural or f"{singular}s")


def counted(number: int, singular: str, plural: str | None = None) -> str:
    """``1 image``, ``3 images``, ``0 images``; ``counted(2, "match", "matches")``."""
    return f"{number} {noun(number, singular, plural)}"
