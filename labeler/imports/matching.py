"""Matching a file to its labels: by its relative path first, then by its file name."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

# Label Studio stores an uploaded file as "<8 hex digits>-<original name>".
UPLOAD_PREFIX = re.compile(r"^[0-9a-f]{8}-(?=.)")


def normalised(name: str) -> str:
    """A key as matched: forward slashes, no leading ``./`` nor surrounding blanks."""
    name = name.strip().replace("\\", "/")
    while name.startswith("./"):
        name = name[2:]
    return name


def labels_merge(result: dict[str, list[str]], key: str, labels: Iterable[str]) -> None:
    """Add labels to a key's list, stripped, once each, in their first order."""
    current = result.setdefault(key, [])
    for label in labels:
        label = label.strip()
        if label and label not in current:
            current.append(label)


@dataclass(frozen=True)
class LabelMatch:
    """A file's labels as found (``labels`` None when none were), and why not when not.

    ``ambiguous`` is set when several entries (or several files) claim the same name.
    """

    labels: list[str] | None
    key: str | None = None
    reason: str = ""
    ambiguous: bool = False


class LabelMatcher:
    """Finds a file's labels by its relative path first, then by its file name.

    The file name of an entry also matches with Label Studio's upload prefix
    (``1a2b3c4d-``) taken off. By name, an entry with folders whose path ends like the
    file's (or the file's like the entry's) wins; the match is ambiguous, and gives no
    labels, when several entries share the name and none (or several) fit, or when
    ``files`` (every file of the import, by relative path) holds several files with the
    name of the one entry that does not fit any of them by its folders.
    """

    def __init__(self, labels: Mapping[str, Sequence[str]], files: Iterable[str] = ()) -> None:
        self._labels = {normalised(key): list(value) for key, value in labels.items()}
        self._by_name: dict[str, list[str]] = {}
        for key in self._labels:
            for name in _names_of(key):
                self._by_name.setdefault(name, []).append(key)
        self._file_names: dict[str, int] = {}
        for path in files:
            name = posixpath.basename(normalised(path))
            self._file_names[name] = self._file_names.get(name, 0) + 1

    def match(self, path: str) -> LabelMatch:
        """The labels of the file at ``path`` (relative to the imported folder)."""
        path = normalised(path)
        if path in self._labels:
            return LabelMatch(self._labels[path], key=path)
        name = posixpath.basename(path)
        keys = self._by_name.get(name, [])
        if not keys:
            return LabelMatch(None, reason="No labels are listed for this file.")
        fitting = [key for key in keys if _fits(key, path)]
        if len(fitting) == 1:
            return LabelMatch(self._labels[fitting[0]], key=fitting[0])
        if len(keys) > 1:
            return self._ambiguous(name, fitting or keys)
        if self._file_names.get(name, 0) > 1:
            return LabelMatch(
                None,
                reason=f"Ambiguous file name {name!r}: {self._file_names[name]} files have it "
                f"and the labels list it as {keys[0]!r}.",
                ambiguous=True,
            )
        return LabelMatch(self._labels[keys[0]], key=keys[0])

    def _ambiguous(self, name: str, keys: list[str]) -> LabelMatch:
        listed = ", ".join(repr(key) for key in sorted(keys)[:5])
        return LabelMatch(
            None,
            reason=f"Ambiguous file name {name!r}: the labels list it as {listed}.",
            ambiguous=True,
        )


def _fits(key: str, path: str) -> bool:
    """Whether an entry with folders names this file: one path ends with the other."""
    return "/" in key and (key.endswith("/" + path) or path.endswith("/" + key))


def _names_of(key: str) -> list[str]:
    """The file names an entry answers to: its own, and without an upload prefix."""
    name = posixpath.basename(key)
    bare = UPLOAD_PREFIX.sub("", name)
    return [name] if bare == name else [name, bare]
