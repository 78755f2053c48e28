"""Label sources: which labels a folder, a CSV file, a Label Studio export or a COCO file
gives each file.

Every source returns ``{key: [label names]}``. A key is a path relative to the folder
(ImageFolder, CSV) or a bare file name (CSV, Label Studio); ``LabelMatcher`` finds a
file's entry by its relative path first, then by its file name. Nothing here imports
Django: the command-line client uses these functions as they are.
"""

from __future__ import annotations

import csv
import io
import json
import os
import posixpath
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".gif", ".bmp", ".webp", ".tif", ".tiff"})
SPLIT_NAMES = frozenset({"train", "val", "valid", "validation", "test"})
FILE_COLUMNS = ("file", "file_name", "filename", "image", "path")
LABEL_COLUMNS = ("label", "labels")
LABEL_SEPARATORS = re.compile(r"[;|]")
# A spreadsheet runs a cell starting with one of these as a formula: our CSV export
# quotes such cells (CSV injection), and the CSV source takes the quote off again.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# Label Studio stores an uploaded file as "<8 hex digits>-<original name>".
UPLOAD_PREFIX = re.compile(r"^[0-9a-f]{8}-(?=.)")

PathLike = str | os.PathLike[str]


class LabelSourceError(ValueError):
    """A folder or label file that cannot be read, with where the problem is."""

    def __init__(self, message: str, *, line: int | None = None) -> None:
        super().__init__(f"line {line}: {message}" if line is not None else message)
        self.line = line


def folder_files(root: PathLike, *, recursive: bool = True) -> list[Path]:
    """The image files under ``root`` (by extension), sorted by their relative path.

    Hidden files and folders (names starting with a dot) are skipped.
    """
    base = Path(root)
    if not base.is_dir():
        raise LabelSourceError(f"{base} is not a folder.")
    found: list[Path] = []
    for folder, dirs, files in os.walk(base):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".")) if recursive else []
        found.extend(
            Path(folder, name)
            for name in files
            if not name.startswith(".") and Path(name).suffix.lower() in IMAGE_EXTENSIONS
        )
    return sorted(found, key=lambda path: path.relative_to(base).as_posix())


def imagefolder_labels(root: PathLike) -> dict[str, list[str]]:
    """``{relative path: [label]}`` of an ImageFolder tree, ``root/<label>/.../<file>``.

    When every top-level folder is a split name (train, val, valid, validation, test),
    the layout is ``root/<split>/<label>/.../<file>``, as our own export writes it. Files
    directly under ``root`` (or directly under a split) have no label and are left out.
    """
    base = Path(root)
    return imagefolder_labels_of(path.relative_to(base).as_posix() for path in folder_files(base))


def imagefolder_labels_of(names: Iterable[str]) -> dict[str, list[str]]:
    """``imagefolder_labels`` over relative paths (``label/x.jpg``), an archive's say."""
    files = [tuple(_normalise(name).split("/")) for name in names]
    tops = {parts[0] for parts in files if len(parts) > 1}
    depth = 1 if tops and {top.lower() for top in tops} <= SPLIT_NAMES else 0
    return {"/".join(parts): [parts[depth]] for parts in files if len(parts) > depth + 1}


def csv_labels(path_or_text: PathLike) -> dict[str, list[str]]:
    """``{file: [labels]}`` from a CSV file with a header row.

    The file column is the first of ``file``, ``file_name``, ``filename``, ``image`` or
    ``path``; the label column is ``label`` or ``labels`` (header names are matched
    without regard to case). A cell may hold several labels separated by ``;`` or ``|``;
    an empty cell means no label. A file listed on several rows gets all their labels.
    ``path_or_text`` is a path, or the CSV itself when it is a str holding a line break.
    """
    text = _read_text(path_or_text)
    reader = csv.reader(io.StringIO(text), strict=True)
    try:
        header = next(reader, None)
        if header is None:
            raise LabelSourceError("The CSV file is empty; it needs a header row.", line=1)
        file_at, label_at = _csv_columns(header)
        result: dict[str, list[str]] = {}
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            name = _normalise(_unquoted(row[file_at]) if file_at < len(row) else "")
            if not name:
                raise LabelSourceError("The file name is empty.", line=reader.line_num)
            cell = _unquoted(row[label_at]) if label_at < len(row) else ""
            _merge(result, name, LABEL_SEPARATORS.split(cell))
    except csv.Error as exc:
        raise LabelSourceError(f"Not a readable CSV file: {exc}", line=reader.line_num) from exc
    return result


def _unquoted(cell: str) -> str:
    """A cell without the quote a CSV export puts before text starting like a formula."""
    return cell[1:] if cell.startswith("'") and cell[1:2] in FORMULA_STARTS else cell


def _csv_columns(header: Sequence[str]) -> tuple[int, int]:
    names = [cell.strip().lstrip("\ufeff").lower() for cell in header]
    file_at = next((names.index(c) for c in FILE_COLUMNS if c in names), None)
    label_at = next((names.index(c) for c in LABEL_COLUMNS if c in names), None)
    found = ", ".join(repr(cell) for cell in header) or "nothing"
    if file_at is None:
        raise LabelSourceError(
            f"The header has no file column (one of {', '.join(FILE_COLUMNS)}); found {found}.",
            line=1,
        )
    if label_at is None:
        raise LabelSourceError(
            f"The header has no label column (label or labels); found {found}.", line=1
        )
    return file_at, label_at


def label_studio_labels(path_or_data: PathLike | Sequence[Any]) -> dict[str, list[str]]:
    """``{file name: [labels]}`` from a Label Studio JSON export (a list of tasks).

    Each task's image is ``data.image`` (an upload path, a URL or a local-files link);
    its labels are the ``choices`` of its latest annotation that was not cancelled. The
    key is the image's file name as Label Studio knows it, upload prefix included
    (``1a2b3c4d-cat.jpg``); ``LabelMatcher`` matches it to ``cat.jpg`` too. Tasks
    without choices are left out; a file named by several tasks gets all their labels.
    """
    data = path_or_data
    if isinstance(data, str | os.PathLike):
        data = _json_load(_read_text(data))
    if not isinstance(data, list):
        raise LabelSourceError("A Label Studio export is a JSON list of tasks.")
    result: dict[str, list[str]] = {}
    for number, task in enumerate(data, start=1):
        name, labels = _task_labels(task, number)
        if name and labels:
            _merge(result, name, labels)
    return result


def coco_labels(path_or_data: PathLike | Mapping[str, Any]) -> dict[str, list[str]]:
    """``{file name: [category names]}`` from a COCO JSON document.

    Each annotation gives its image the name of its category, boxes or not (image-level
    labels). Annotations marked ``attributes.method == "annotation"`` (one annotator's
    labels, as our own COCO export adds them) are left out: the image's final labels are
    imported. Images without annotations are left out.
    """
    data = path_or_data
    if isinstance(data, str | os.PathLike):
        data = _json_load(_read_text(data))
    if not isinstance(data, Mapping):
        raise LabelSourceError("A COCO file is a JSON object with images and annotations.")
    images = _coco_list(data, "images")
    categories = _coco_list(data, "categories")
    names = {c.get("id"): c.get("name") for c in categories if isinstance(c, dict)}
    files = {i.get("id"): i.get("file_name") for i in images if isinstance(i, dict)}
    result: dict[str, list[str]] = {}
    for number, item in enumerate(_coco_list(data, "annotations"), start=1):
        if not isinstance(item, dict):
            raise LabelSourceError(f"Annotation {number} is not an object.")
        attributes = item.get("attributes")
        if isinstance(attributes, dict) and attributes.get("method") == "annotation":
            continue
        file_name, category = files.get(item.get("image_id")), names.get(item.get("category_id"))
        if not isinstance(file_name, str) or not file_name.strip():
            raise LabelSourceError(
                f"Annotation {number}: no image with id {item.get('image_id')!r}."
            )
        if not isinstance(category, str):
            raise LabelSourceError(
                f"Annotation {number}: no category with id {item.get('category_id')!r}."
            )
        _merge(result, _normalise(file_name), [category])
    return result


def _coco_list(data: Mapping[str, Any], key: str) -> list[Any]:
    value = data.get(key)
    if not isinstance(value, list):
        raise LabelSourceError(f"A COCO file needs a list '{key}'.")
    return value


def _json_load(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise LabelSourceError(f"Not valid JSON: {exc.msg}.", line=exc.lineno) from exc


def _task_labels(task: Any, number: int) -> tuple[str, list[str]]:
    if not isinstance(task, dict) or not isinstance(task.get("data"), dict):
        raise LabelSourceError(f"Task {number} is not an object with a 'data' object.")
    image = task["data"].get("image")
    if not isinstance(image, str) or not image.strip():
        raise LabelSourceError(f"Task {number} has no 'data.image' path or URL.")
    annotations = task.get("annotations") or []
    if not isinstance(annotations, list):
        raise LabelSourceError(f"Task {number}: 'annotations' must be a list.")
    kept = [a for a in annotations if isinstance(a, dict) and not a.get("was_cancelled")]
    if not kept:
        return "", []
    latest = max(
        enumerate(kept),
        key=lambda pair: (
            str(pair[1].get("updated_at") or pair[1].get("created_at") or ""),
            pair[0],
        ),
    )[1]
    # Our own Label Studio export keeps the original name beside a URL of the stored file.
    own_name = task["data"].get("file_name")
    key = own_name.strip() if isinstance(own_name, str) and own_name.strip() else None
    return key or _image_name(image), _choices(latest.get("result"))


def _choices(result: Any) -> list[str]:
    labels: list[str] = []
    for item in result if isinstance(result, list) else []:
        if not isinstance(item, dict) or item.get("type") != "choices":
            continue
        value = item.get("value")
        choices = value.get("choices") if isinstance(value, dict) else None
        labels.extend(c for c in choices or [] if isinstance(c, str))
    return labels


def _image_name(reference: str) -> str:
    """The file name in a Label Studio image reference (``/data/upload/3/ab12cd34-x.jpg``,
    ``s3://bucket/x.jpg``, ``/data/local-files/?d=photos/x.jpg``)."""
    parts = urlsplit(reference.strip())
    local = parse_qs(parts.query).get("d")
    path = local[0] if local else unquote(parts.path)
    return posixpath.basename(path.replace("\\", "/"))


def _read_text(path_or_text: PathLike) -> str:
    if isinstance(path_or_text, str) and "\n" in path_or_text:
        return path_or_text.lstrip("\ufeff")
    try:
        return Path(path_or_text).read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise LabelSourceError(f"{path_or_text} is not UTF-8 text: {exc.reason}.") from exc
    except OSError as exc:
        raise LabelSourceError(f"Cannot read {path_or_text}: {exc.strerror or exc}.") from exc


def _normalise(name: str) -> str:
    """A key as matched: forward slashes, no leading ``./`` nor surrounding blanks."""
    name = name.strip().replace("\\", "/")
    while name.startswith("./"):
        name = name[2:]
    return name


def _merge(result: dict[str, list[str]], key: str, labels: Iterable[str]) -> None:
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
        self._labels = {_normalise(key): list(value) for key, value in labels.items()}
        self._by_name: dict[str, list[str]] = {}
        for key in self._labels:
            for name in _names_of(key):
                self._by_name.setdefault(name, []).append(key)
        self._file_names: dict[str, int] = {}
        for path in files:
            name = posixpath.basename(_normalise(path))
            self._file_names[name] = self._file_names.get(name, 0) + 1

    def match(self, path: str) -> LabelMatch:
        """The labels of the file at ``path`` (relative to the imported folder)."""
        path = _normalise(path)
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
