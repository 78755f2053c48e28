"""The labels of a folder about to be uploaded, read and matched here, before anything
is sent: with the same readers and the same matcher as the server, over the whole folder.

The upload sends its files in batches, and a batch sees only its own files; only here is
the whole folder known. So the counts in (the whole labels file), the entries no file of
the folder matches, and the files whose entry is ambiguous (several files share a name
the labels give once, possibly in different batches) are found here. A labels file that
names its annotators is sent with each batch, and the server matches each file of it by
the path it is sent with; a file whose entry is ambiguous goes without it.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from labeler.client.api import ClientError
from labeler.imports.reading import sources
from labeler.imports.reading.loader import LabelSourceError, annotators_parse
from labeler.imports.reading.matching import label_hashes
from labeler.imports.reading.records import ImageRecords, RecordsFile

FOLDERS = "folders"
ANNOTATION = "annotation"
# What --labels-from takes: the folders, or a labels file in any format the server reads.
LABEL_SOURCES = (FOLDERS, *sources.LABEL_FILE_SUFFIX)
UNMATCHED = "No file of the folder matches this entry of the labels file."


@dataclass
class FolderLabels:
    """Each file's path in the folder, its labels (label names; None: none, or sent in the
    labels file), the files whose entry is ambiguous, the counts in of the whole labels
    file and the lines of what will not apply, found before anything is sent."""

    paths: dict[Path, str]
    labels: dict[Path, list[str] | None]
    per_person: bool = False
    ambiguous: set[Path] = field(default_factory=set)
    counts_in: dict[str, int] = field(default_factory=dict)
    not_applied: list[tuple[str, str]] = field(default_factory=list)
    no_labels: list[tuple[str, str]] = field(default_factory=list)  # files without any


def folder_labels(
    root: Path,
    files: Sequence[Path],
    *,
    labels_from: str | None,
    labels_file: str | None,
    labels_as: str,
) -> FolderLabels:
    """Read the folder's labels as ``labels_from`` says and match every file to them."""
    paths = {path: path.relative_to(root).as_posix() for path in files}
    found = _read(root, labels_from, labels_file)
    if found is None:
        return FolderLabels(paths, {path: None for path in files}, counts_in={"files": len(files)})
    per_person = isinstance(found, RecordsFile)
    entries: Mapping[str, Sequence[str] | ImageRecords] = (
        found.images if isinstance(found, RecordsFile) else found
    )
    matcher = sources.LabelMatcher(entries, files=paths.values(), hashes=label_hashes(entries))
    plan = FolderLabels(paths, {}, per_person=per_person, counts_in=_counts(found, labels_as))
    plan.counts_in["files"] = len(files)
    if isinstance(found, RecordsFile):
        plan.not_applied += [(s.record, s.reason) for s in found.skipped]
    for path, name in paths.items():
        match = matcher.match(name, _sha256(path) if matcher.wants_hash else None)
        given = match.labels
        if given is not None and not isinstance(given, ImageRecords) and not match.ambiguous:
            plan.labels[path] = list(given)
        else:
            plan.labels[path] = None
        if match.ambiguous:
            plan.ambiguous.add(path)
            plan.not_applied.append((name, match.reason))
        elif given is None:
            why = "In no label's folder." if labels_from == FOLDERS else match.reason
            plan.no_labels.append((name, why))
    plan.not_applied += [(key, UNMATCHED) for key in matcher.unmatched()]
    return plan


def _read(
    root: Path, labels_from: str | None, labels_file: str | None
) -> dict[str, list[str]] | RecordsFile | None:
    if labels_from is None:
        return None
    if labels_from == FOLDERS:
        return sources.imagefolder_labels(root)
    if labels_file is None:
        raise ClientError(f"--labels-from {labels_from} needs --labels-file.")
    try:
        return sources.labels_source_load(Path(labels_file), labels_format=labels_from)
    except (OSError, ValueError) as exc:  # LabelSourceError is a ValueError
        raise ClientError(f"Cannot read {labels_file}: {exc}") from None


def _counts(found: Mapping[str, Sequence[str]] | RecordsFile, labels_as: str) -> dict[str, int]:
    """The counts in of the whole labels file, as the server counts them."""
    if isinstance(found, RecordsFile):
        return {
            "records": found.tasks or len(found.images),
            "annotations": found.annotation_count(),
            "decisions": found.decision_count(),
            "labels": found.label_count(),
        }
    labelled = sum(1 for names in found.values() if names)
    annotated = labels_as == ANNOTATION
    return {
        "records": len(found),
        "annotations": labelled if annotated else 0,
        "decisions": 0 if annotated else labelled,
        "labels": sum(len(names) for names in found.values()),
    }


def _sha256(path: Path) -> str | None:
    """The file's content hash, to find its labels by (None: unreadable, which its upload
    reports)."""
    try:
        with path.open("rb") as handle:
            return hashlib.file_digest(handle, "sha256").hexdigest()
    except OSError:
        return None


def annotators_read(path: str | os.PathLike[str]) -> str:
    """The lead's choice of accounts from a JSON file (person -> username or "new"), as
    the text the server takes; refused here when it is no such object."""
    try:
        chosen = annotators_parse(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeError, LabelSourceError) as exc:
        raise ClientError(f"--annotators {path}: {exc}") from None
    return json.dumps(chosen)
