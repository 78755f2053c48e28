"""What no text here can hold: NUL and lone surrogates, found without Django.

``labeler.text_in`` owns refusing them in everything that arrives; this is its finder,
apart so that code which loads without Django (the labels-file loader the command-line
client shares) asks the same question.
"""

from __future__ import annotations

import re

# NUL, and any surrogate code point: a well-formed pair never reaches a Python str as two
# code points (JSON's decoder joins "\ud83d\ude00" into one), so one found here is lone.
UNSAFE = re.compile("[\x00\ud800-\udfff]")


def text_unsafe_find(value: str) -> str | None:
    """What in ``value`` no text here can hold (a description), or None when it is safe."""
    found = UNSAFE.search(value)
    if found is None:
        return None
    if found.group() == "\x00":
        return "the NUL character (U+0000)"
    return f"a lone surrogate (U+{ord(found.group()):04X}, half of a UTF-16 pair)"
