"""A batch of files with the one labels file of their folder.

A client sends a large folder in batches, each with the folder's labels file: each file
of a batch takes the entry the matcher every import uses finds for it (by its path in
the folder, its name, or its content where the entries carry sha256s). A batch counts in
the entries its files matched; what concerns the labels file as a whole (its counts, the
records its reader could not use) is answered apart, the same for every batch. A batch
does not report the entries none of its files matched: they may be another batch's, and
only the client knows the whole folder.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from labeler.imports.planning.labels_in import LabelsIn
from labeler.imports.reading.matching import LabelMatch, LabelMatcher, label_hashes
from labeler.imports.reading.metadata_in import MetadataIn
from labeler.imports.reading.records import ImageRecords, RecordsFile

Labels = Mapping[str, Sequence[str]] | RecordsFile
Entry = Sequence[str] | ImageRecords  # what one entry of the labels gives a file


@dataclass
class BatchLabels:
    """Each file's match, in the batch's order; the counts in of the entries the batch's
    files matched (with the people of the whole file, matched before any is written);
    and the counts in of the whole labels file, with the records its reader could not use."""

    matches: list[LabelMatch[Entry]]
    labels_in: LabelsIn
    whole: LabelsIn
    metadata: Mapping[str, MetadataIn] = field(default_factory=dict)  # by entry key


def batch_labels(
    labels: Labels,
    *,
    names: Sequence[str],
    labels_as: str,
    sha256_of: Callable[[int], str | None] | None = None,
    metadata: Mapping[str, MetadataIn] | None = None,
) -> BatchLabels:
    """Match the batch's files (``names``, their paths in the folder) to the labels.

    ``sha256_of(i)`` gives the i-th file's content hash: asked only where the entries
    carry sha256s and no name matched the file. ``metadata`` is the labels file's, by
    entry: the batch's counts in carry the entries its files matched, checked before
    any is stored.
    """
    entries: Mapping[str, Entry] = labels.images if isinstance(labels, RecordsFile) else labels
    matcher: LabelMatcher[Entry] = LabelMatcher(entries, files=names, hashes=label_hashes(entries))
    matches = []
    for number, name in enumerate(names):
        match = matcher.match(name)
        if match.labels is None and matcher.wants_hash and sha256_of is not None:
            match = matcher.match(name, sha256_of(number))
        matches.append(match)
    whole = LabelsIn.of(labels, labels_as=labels_as)
    matched = {m.key: m.labels for m in matches if m.key is not None and m.labels is not None}
    labels_in = _matched_in(matched, whole, labels_as)
    found = metadata or {}
    labels_in.metadata = {key: found[key] for key in matched if key in found}
    return BatchLabels(matches, labels_in, whole, found)


def _matched_in(matched: Mapping[str, Entry], whole: LabelsIn, labels_as: str) -> LabelsIn:
    """The counts in of the entries the batch took, with the whole file's people."""
    records = [value for value in matched.values() if isinstance(value, ImageRecords)]
    if len(records) != len(matched):
        flat = [list(value) for value in matched.values() if not isinstance(value, ImageRecords)]
        return replace(LabelsIn.of_entries(flat, labels_as=labels_as), people=whole.people)
    return LabelsIn(
        records=len(records),
        annotations=sum(len(r.annotations) for r in records),
        decisions=sum(r.decision is not None for r in records),
        labels=sum(r.label_count() for r in records),
        people=whole.people,
        per_person=whole.per_person,
        entries={key: value for key, value in matched.items() if isinstance(value, ImageRecords)},
    )
