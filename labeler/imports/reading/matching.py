"""Matching a file to its labels: by its relative path first, then by its file name, then
by its content.

Names are compared as the tools that wrote them meant them, not byte for byte: in
Unicode's composed form (NFC; a macOS zip or a browser may send ``Été`` decomposed), with
a percent-encoded name (``dog%20two.png``, from a URL) also answering to its decoded one,
and a Label Studio upload (``1a2b3c4d-holiday_photo_4.jpg``) also answering to the name
the file had before Label Studio renamed it (``holiday photo 4.jpg``). When no name
fits, an entry that carries the image's sha256 (our own export does) matches the file
with that content. The matcher remembers which entries a file took, so an import can list
every entry it did not apply.
"""

from __future__ import annotations

import hashlib
import html
import posixpath
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar
from urllib.parse import unquote

# Label Studio stores an uploaded file as "<8 hex digits>-<original name>".
UPLOAD_PREFIX = re.compile(r"^[0-9a-f]{8}-(?=.)")
# What Django's get_valid_filename drops: anything but letters, digits, "_", "-" and ".".
_NOT_VALID_IN_NAME = re.compile(r"(?u)[^-\w.]")
_PERCENT_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}")
_LONGEST_NAME = 255  # Django's UploadedFile cuts longer names, keeping the extension
_NO_ENTRY = "No entry of the labels file names this file"

V = TypeVar("V")


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


def label_studio_upload_name(name: str) -> str:
    """The name Label Studio stores an uploaded file under, less its ``1a2b3c4d-`` prefix:
    ``holiday photo 4.jpg`` becomes ``holiday_photo_4.jpg``, ``john's (2).jpg``
    ``johns_2.jpg``.

    Mirrors what a Label Studio server (1.x, on Django 5) does to the name a browser
    sends: Django's ``MultiPartParser.sanitize_file_name`` (HTML entities unescaped, the
    last part of a path, characters that are not printable dropped), ``UploadedFile``'s
    name (cut to 255 characters, keeping the extension), then Label Studio's
    ``data_import.models.upload_name_generator`` (``str(uuid4())[0:8] + '-' + name``),
    made valid by the file storage (``Storage.get_valid_name``, that is
    ``django.utils.text.get_valid_filename`` on the prefixed name: blanks at the end
    taken off, spaces to underscores, every character but letters, digits, ``_``, ``-``
    and ``.`` dropped). Letters are Unicode's, but a decomposed accent is no letter:
    ``Été`` sent decomposed is stored ``Ete``.

    Not mirrored: a name Label Studio shortens to fit its 100-character column (an upload
    whose name, folder and prefix run longer gets its name cut and a random suffix), which
    no name can match; the content can.
    """
    name = html.unescape(name).rsplit("/")[-1].rsplit("\\")[-1]
    name = "".join(character for character in name if character.isprintable())
    if len(name) > _LONGEST_NAME:
        root, extension = posixpath.splitext(name)
        extension = extension[:_LONGEST_NAME]
        name = root[: _LONGEST_NAME - len(extension)] + extension
    prefixed = ("00000000-" + name).strip().replace(" ", "_")
    return _NOT_VALID_IN_NAME.sub("", prefixed).removeprefix("00000000-")


def label_hashes(labels: Mapping[str, object]) -> dict[str, str]:
    """``{key: sha256}`` of the entries whose value carries the image's sha256 (a
    per-person file's ``ImageRecords`` from our own export): what ``LabelMatcher`` takes
    as ``hashes``."""
    found = {}
    for key, value in labels.items():
        sha256 = getattr(value, "sha256", "")
        if isinstance(sha256, str) and sha256.strip():
            found[key] = sha256
    return found


@dataclass(frozen=True)
class LabelMatch(Generic[V]):
    """A file's labels as found (``labels`` None when none were), and why not when not.

    ``ambiguous`` is set when several entries (or several files) claim the same name.
    ``by`` says how the entry was found: ``path``, ``name``, ``upload name`` (as Label
    Studio renamed the file) or ``content`` (its sha256).
    """

    labels: V | None
    key: str | None = None
    reason: str = ""
    ambiguous: bool = False
    by: str = ""


class LabelMatcher(Generic[V]):
    """Finds a file's labels (any value: label names, a per-person file's records) by its
    relative path first, then by its file name, then by its content.

    Names compare in Unicode's composed form; an entry or a file named with percent
    escapes also answers to its decoded name, after the names as written. The file name of
    an entry also matches with Label Studio's upload prefix (``1a2b3c4d-``) taken off,
    and, failing every name as written, an entry with the prefix matches the file whose
    name Label Studio would have stored as it (``label_studio_upload_name``). By name, an
    entry with folders whose path ends like the file's (or the file's like the entry's)
    wins; the match is ambiguous, and gives no labels, when several entries share the
    name and none (or several) fit, or when ``files`` (every file of the import, by
    relative path) holds several files with the name of the one entry that does not fit
    any of them by its folders.

    ``hashes`` gives entries' sha256 (by key). With it (``wants_hash``) a file the names
    leave unmatched or ambiguous matches the one entry with its content, which the caller
    passes to ``match``. ``unmatched`` lists the entries no file took.
    """

    def __init__(
        self,
        labels: Mapping[str, V],
        files: Iterable[str] = (),
        hashes: Mapping[str, str] | None = None,
    ) -> None:
        self._keys = list(labels)
        self._values = list(labels.values())
        self._taken = [False] * len(self._keys)
        self._paths: dict[str, list[int]] = {}
        self._decoded_paths: dict[str, list[int]] = {}
        self._names: dict[str, list[int]] = {}
        self._decoded_names: dict[str, list[int]] = {}
        self._uploads: dict[str, list[int]] = {}
        self._folded: dict[str, list[int]] = {}
        self._stems: dict[str, list[int]] = {}  # entries named without an extension
        self._forms: list[tuple[str, str]] = []  # each entry's path, as written and decoded
        for number, key in enumerate(self._keys):
            self._entry_add(number, key)
        self._hashes: dict[str, list[int]] = {}
        for number, key in enumerate(self._keys):
            sha256 = (hashes or {}).get(key, "").strip().lower()
            if sha256:
                _add(self._hashes, sha256, number)
        self._file_names: dict[str, int] = {}
        self._file_decoded_names: dict[str, int] = {}
        self._file_upload_names: dict[str, int] = {}
        self._file_stems: dict[str, int] = {}
        self._file_paths: dict[str, int] = {}  # files by path, composed
        for path in files:
            _count(self._file_paths, [_composed(normalised(path))])
            name = posixpath.basename(_composed(normalised(path)))
            _count(self._file_names, [name])
            _count(self._file_stems, [posixpath.splitext(name)[0]])
            _count(self._file_decoded_names, [_decoded(name)])
            _count(self._file_upload_names, [name, *_upload_names(name)])

    @property
    def wants_hash(self) -> bool:
        """Whether entries carry sha256s: callers pass each file's to ``match``."""
        return bool(self._hashes)

    def match(self, path: str, sha256: str | None = None) -> LabelMatch[V]:
        """The labels of the file at ``path`` (relative to the imported folder), whose
        content has the hex ``sha256`` when the caller knows it."""
        return self._by_content(self._by_names(path), sha256)

    def _by_names(self, path: str) -> LabelMatch[V]:
        path = _composed(normalised(path))
        decoded = _decoded(path)
        if self._file_paths.get(path, 0) > 1:  # composed and decomposed: two files, one name
            return LabelMatch(
                None,
                reason=f"Ambiguous file name {path!r}: {self._file_paths[path]} files have it "
                "once their accents are written the same way.",
                ambiguous=True,
            )
        for index, form in ((self._paths, path), (self._decoded_paths, decoded)):
            entries = index.get(form)
            if entries and len(entries) == 1:
                return self._found(entries[0], "path")
            if entries:
                return self._listed_twice(form, entries)
        name, decoded_name = posixpath.basename(path), posixpath.basename(decoded)
        entries = self._names.get(name)
        if entries:
            return self._by_name("name", name, entries, self._file_names, 0, path)
        entries = self._decoded_names.get(decoded_name)
        if entries:
            return self._by_name(
                "name", decoded_name, entries, self._file_decoded_names, 1, decoded
            )
        for renamed in _upload_names(name):
            entries = self._uploads.get(renamed)
            if entries:
                return self._by_name(
                    "upload name", renamed, entries, self._file_upload_names, 0, ""
                )
        # FiftyOne keys its labels by the file's name without its extension.
        stem = posixpath.splitext(name)[0]
        entries = self._stems.get(stem)
        if entries:
            return self._by_name("stem", stem, entries, self._file_stems, 0, "")
        return LabelMatch(None, reason=self._none_reason(name))

    def match_file(self, path: str, data: bytes | None) -> LabelMatch[V]:
        """``match`` for a file whose bytes are at hand (None: it could not be read),
        hashed only when entries carry sha256s."""
        if data is None or not self.wants_hash:
            return self.match(path)
        return self.match(path, hashlib.sha256(data).hexdigest())

    def unmatched(self) -> list[str]:
        """The keys of the entries no file took so far, in the labels' order; once every
        file went by, the entries the import did not apply."""
        return [key for key, taken in zip(self._keys, self._taken, strict=True) if not taken]

    def _entry_add(self, number: int, key: str) -> None:
        path = _composed(normalised(key))
        decoded = _decoded(path)
        self._forms.append((path, decoded))
        _add(self._paths, path, number)
        _add(self._decoded_paths, decoded, number)
        for name in _names_of(path):
            _add(self._names, name, number)
        for name in _names_of(decoded):
            _add(self._decoded_names, name, number)
            if name != posixpath.basename(decoded):  # the bare name of an upload
                _add(self._uploads, name, number)
        base = posixpath.basename(path)
        if base and not posixpath.splitext(base)[1]:
            _add(self._stems, base, number)
        for name in {*_names_of(path), *_names_of(decoded)}:
            if folded := _folded(name):
                _add(self._folded, folded, number)

    def _by_name(
        self,
        by: str,
        name: str,
        entries: list[int],
        counts: Mapping[str, int],
        form: int,
        path: str,
    ) -> LabelMatch[V]:
        """The one entry of those sharing the file's name that is the file's, or why none."""
        fitting = [n for n in entries if path and _fits(self._forms[n][form], path)]
        if len(fitting) == 1:
            return self._found(fitting[0], by)
        if len(entries) > 1:
            return self._ambiguous(name, fitting or entries)
        if counts.get(name, 0) > 1:
            renamed = " as Label Studio renames uploads" if by == "upload name" else ""
            return LabelMatch(
                None,
                reason=f"Ambiguous file name {name!r}: {counts[name]} files have it{renamed} "
                f"and the labels list it as {self._keys[entries[0]]!r}.",
                ambiguous=True,
            )
        return self._found(entries[0], by)

    def _by_content(self, found: LabelMatch[V], sha256: str | None) -> LabelMatch[V]:
        """The match by name, or, where the names found none or several, the one entry
        that carries the file's content."""
        if found.labels is not None or not sha256 or not self._hashes:
            return found
        entries = self._hashes.get(sha256.strip().lower(), [])
        if len(entries) == 1:
            return self._found(entries[0], "content")
        listed = ", ".join(repr(self._keys[n]) for n in entries[:5])
        if entries and found.ambiguous:
            reason = f"{found.reason} Its content does not settle it: the labels give its "
            reason += f"sha256 to {listed}."
        elif entries:
            reason = f"Ambiguous content: the labels give this file's sha256 to {listed}."
        else:
            reason = found.reason.replace(_NO_ENTRY, _NO_ENTRY + " or carries its content")
        return LabelMatch(None, reason=reason, ambiguous=bool(entries) or found.ambiguous)

    def _found(self, number: int, by: str) -> LabelMatch[V]:
        self._taken[number] = True
        return LabelMatch(self._values[number], key=self._keys[number], by=by)

    def _listed_twice(self, path: str, entries: list[int]) -> LabelMatch[V]:
        listed = ", ".join(repr(self._keys[n]) for n in entries[:5])
        return LabelMatch(
            None,
            reason=f"Ambiguous path {path!r}: the labels list it {len(entries)} times, as "
            f"{listed}.",
            ambiguous=True,
        )

    def _ambiguous(self, name: str, entries: list[int]) -> LabelMatch[V]:
        listed = ", ".join(repr(key) for key in sorted(self._keys[n] for n in entries)[:5])
        return LabelMatch(
            None,
            reason=f"Ambiguous file name {name!r}: the labels list it as {listed}.",
            ambiguous=True,
        )

    def _none_reason(self, name: str) -> str:
        """Why a file has no labels, with the entries whose names come nearest to its."""
        folded = _folded(name)
        nearest = self._folded.get(folded, []) if folded else []
        if not nearest:
            return _NO_ENTRY + "."
        listed = ", ".join(repr(self._keys[n]) for n in nearest[:3])
        return (
            f"{_NO_ENTRY}; the nearest {'is' if len(nearest) == 1 else 'are'} {listed} (the "
            f"same name but for case, accents, punctuation or extension)."
        )


def _add(index: dict[str, list[int]], name: str, number: int) -> None:
    entries = index.setdefault(name, [])
    if not entries or entries[-1] != number:
        entries.append(number)


def _count(counts: dict[str, int], names: Iterable[str]) -> None:
    for name in dict.fromkeys(names):
        counts[name] = counts.get(name, 0) + 1


def _composed(name: str) -> str:
    """A name in Unicode's composed form (NFC), as it is compared."""
    return unicodedata.normalize("NFC", name)


def _decoded(name: str) -> str:
    """A name with its percent escapes decoded (as a URL names a file), composed."""
    if not _PERCENT_ESCAPE.search(name):
        return name
    return _composed(unquote(name))


def _fits(key: str, path: str) -> bool:
    """Whether an entry with folders names this file: one path ends with the other."""
    return "/" in key and (key.endswith("/" + path) or path.endswith("/" + key))


def _names_of(key: str) -> list[str]:
    """The file names an entry answers to: its own, and without an upload prefix."""
    name = posixpath.basename(key)
    bare = UPLOAD_PREFIX.sub("", name)
    return [name] if bare == name else [name, bare]


def _upload_names(name: str) -> list[str]:
    """The names Label Studio may have stored a file of this name under (its name sent
    composed or decomposed, as written or decoded), each composed; the name itself left
    out, as it matches as written first."""
    decoded = _decoded(name)
    sent = dict.fromkeys(
        unicodedata.normalize(form, variant)
        for variant in (name, decoded)
        for form in ("NFC", "NFD")
    )
    stored = dict.fromkeys(_composed(label_studio_upload_name(variant)) for variant in sent)
    return [candidate for candidate in stored if candidate not in (name, decoded)]


def _folded(name: str) -> str:
    """A name reduced to what a person would call the same name: its stem, without case,
    accents or punctuation (``IMG-0001.JPEG`` and ``img_0001.jpg`` fold alike)."""
    stem = posixpath.splitext(UPLOAD_PREFIX.sub("", name))[0] or name
    return "".join(c for c in unicodedata.normalize("NFKD", stem).casefold() if c.isalnum())
