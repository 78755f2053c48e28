"""Labels' keyboard shortcuts: one key, or a two-key chord, and the defaults (pure).

A project's hotkeys form a prefix-free set: a single key may not be the first key of a
chord, so that every key pressed either chooses a label or waits for the second key of a
chord, never both. Up to nine labels get the digits 1 to 9 by default. A larger set gets
two-key chords, mnemonic where free (the first letter of the name, then the first letter
of its second word or a later letter of the name: "red fox" is "rf", "zebra" "ze"), else
the next free pair. Stored hotkeys are kept, so adding labels never moves a key an
annotator has learnt.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator
from itertools import chain

KEYS = "abcdefghijklmnopqrstuvwxyz0123456789"
DIGITS = "123456789"
MAX_SINGLE_KEY_LABELS = len(DIGITS)  # more labels than this get chords by default
_HOTKEY = re.compile(r"^[a-z0-9]{1,2}$")


def hotkey_valid(hotkey: str) -> bool:
    """Whether a (lower-case) hotkey is one letter or digit, or a chord of two."""
    return bool(_HOTKEY.match(hotkey))


def hotkey_prefix_clash(hotkeys: Iterable[str]) -> tuple[str, str] | None:
    """A single key and a chord it starts, when the set is not prefix-free; else None."""
    keys = [key for key in hotkeys if key]
    singles = {key for key in keys if len(key) == 1}
    for key in keys:
        if len(key) == 2 and key[0] in singles:
            return key[0], key
    return None


def _letters(name: str) -> list[str]:
    """A name's words in plain lower-case ASCII letters and digits (accents dropped)."""
    decomposed = unicodedata.normalize("NFKD", name.casefold())
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return re.findall(r"[a-z0-9]+", plain)


def _mnemonics(name: str) -> Iterator[str]:
    """Chords drawn from a name, the most telling first."""
    words = _letters(name)
    if not words:
        return
    first = words[0][0]
    if len(words) > 1:
        yield first + words[1][0]
    for ch in "".join(words)[1:]:
        yield first + ch
    for ch in KEYS:
        yield first + ch


def _sequential() -> Iterator[str]:
    for a in KEYS:
        for b in KEYS:
            yield a + b


class HotkeyChooser:
    """Hands out free default hotkeys, given the hotkeys already taken."""

    def __init__(self, taken: Iterable[str], *, label_count: int) -> None:
        self.taken = {key for key in taken if key}
        self.chords = label_count > MAX_SINGLE_KEY_LABELS

    def _free_single(self, key: str) -> bool:
        return key not in self.taken and not any(t[0] == key for t in self.taken if len(t) == 2)

    def _free_chord(self, chord: str) -> bool:
        return chord not in self.taken and chord[0] not in self.taken

    def choose(self, name: str) -> str:
        """The default hotkey of a label named ``name`` ("" when every key is taken)."""
        if not self.chords:
            key = next((d for d in DIGITS if self._free_single(d)), None)
            if key is not None:
                self.taken.add(key)
                return key
        for chord in chain(_mnemonics(name), _sequential()):
            if self._free_chord(chord):
                self.taken.add(chord)
                return chord
        return ""
