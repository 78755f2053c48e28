"""An archive's import planned: each image of the zip with the entry of the labels that
names it (read one at a time as the plan is applied), the counts in, and what is known
not to apply before anything is stored (the entries that are no image, the ambiguous
names, the entries no image matches)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO

from labeler.errors import ValidationFailed
from labeler.images.archives import archive_members
from labeler.images.pixels.files import RejectedFile
from labeler.imports.planning.labels_in import ImportItem, LabelsIn, NotApplied
from labeler.imports.planning.plan import ImportOptions, ImportPlan
from labeler.imports.planning.preview import labels_preview
from labeler.imports.reading.archive import ArchiveContents
from labeler.projects.models import Project


def archive_import_plan(
    *,
    project: Project,
    archive: IO[bytes],
    contents: ArchiveContents,
    options: ImportOptions,
    dry_run: bool = False,
) -> ImportPlan:
    """The plan of importing the archive read into ``contents``. A dry run's plan carries
    what would not apply, found by matching every image's name now (the import compares
    content too, where the entries carry sha256s); an import's carries the images, read
    one at a time as it is applied."""
    labels_in = archive_labels_in(contents, options.labels_as)
    files = contents.files
    if dry_run:
        not_applied = archive_not_applied(contents, labels_in)
        return ImportPlan(project, options, labels_in or LabelsIn(), (), files, not_applied)
    items = archive_items(archive, contents)
    return ImportPlan(project, options, labels_in or LabelsIn(), items, files)


def archive_labels_in(contents: ArchiveContents, labels_as: str) -> LabelsIn | None:
    """The counts in of the archive's labels, and their metadata, for the import's report."""
    if contents.labels is None or contents.matcher is None:
        return None
    return LabelsIn.of(
        contents.labels,
        labels_as=labels_as,
        unmatched=contents.matcher.unmatched,
        metadata=contents.metadata,
    )


def archive_not_applied(
    contents: ArchiveContents, labels_in: LabelsIn | None
) -> tuple[NotApplied, ...]:
    """The records that would not apply: those the reader could not use, the images
    whose entry is ambiguous, the entries no image matches, then the archive's entries
    that are no image. Entries that carry a sha256 are matched by name here; the import
    compares their content too. The matcher counts what it took: a dry run's only."""
    preview = labels_preview(
        matcher=contents.matcher,
        names=contents.names.values(),
        labels_in=labels_in,
        files=contents.files,
    )
    skipped = [NotApplied(name, reason) for name, reason in contents.skipped.items()]
    return (*preview.not_applied, *skipped)


def archive_items(archive: IO[bytes], contents: ArchiveContents) -> Iterator[ImportItem]:
    """Each image of the archive with its labels, read when its turn comes."""
    try:
        for member in archive_members(archive):
            name = contents.names.get(member.name)
            if name is None:
                if member.name in contents.skipped:
                    yield ImportItem(member.name, RejectedFile(contents.skipped[member.name]), None)
                continue
            data: bytes | RejectedFile = (
                member.data if member.data is not None else RejectedFile(member.reason)
            )
            yield _item(contents, name, data)
    except RejectedFile as exc:  # only before the first member: checked by archive_read
        raise ValidationFailed(str(exc), field="archive") from exc


def _item(contents: ArchiveContents, name: str, data: bytes | RejectedFile) -> ImportItem:
    """The image with the labels its entry gives, or why it has none: its bytes, already
    read, are hashed only when the labels carry the images' sha256s."""
    if contents.matcher is None:
        return ImportItem(name, data, None)
    match = contents.matcher.match_file(name, data if isinstance(data, bytes) else None)
    if match.ambiguous:
        return ImportItem(name, data, None, refusal=match.reason)
    why = match.reason if contents.labels_file else "No label's folder holds this file."
    metadata = contents.metadata.get(match.key) if match.key is not None else None
    return ImportItem(
        name,
        data,
        match.labels,
        no_labels="" if match.labels is not None else why,
        metadata=metadata,
    )
