"""Deleting images for good: their rows (with everything that hangs from them) now, their
stored files and the workers' model inputs once that commits."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from labeler import jobs
from labeler.images.models import STORED_FILE_FIELDS, Image
from labeler.images.stored.references import is_reference
from labeler.projects.models import Project
from labeler.task_names import Task

# What a stored name is, for a report: the row's field, and an original read in place.
FILE_KINDS = {
    "file": "original",
    "thumbnail": "thumbnail",
    "display": "display copy",
    "converted": "converted copy",
}
BATCH = 1000


@dataclass(frozen=True)
class ImagesDeleted:
    """What ``images_delete`` deleted: rows, and the files it sent for deletion by kind."""

    images: int
    files: Counter[str] = field(default_factory=Counter)
    contents: int = 0  # distinct contents whose kept model inputs are deleted
    regrouped: bool = False


def images_files(*, project: Project, image_ids: Sequence[int]) -> Counter[str]:
    """The stored files of these images by kind (``FILE_KINDS``), as ``images_delete``
    would delete them: an original read in place (a bucket's, a folder's) is not ours and
    is counted apart; its copies are ours."""
    files: Counter[str] = Counter()
    rows = Image.objects.filter(project=project, pk__in=image_ids)
    for names in rows.values_list(*STORED_FILE_FIELDS):
        for column, name in zip(STORED_FILE_FIELDS, names, strict=True):
            if name and column == "file" and is_reference(name):
                files["original read in place (kept)"] += 1
            elif name:
                files[FILE_KINDS[column]] += 1
    return files


def images_delete(*, project: Project, image_ids: Sequence[int]) -> ImagesDeleted:
    """Delete the project's images named (in the caller's transaction): their rows and what
    cascades from them (annotations, final labels, predictions, tags, field values, label
    history, leases); once it commits, every stored file
    (``file_deletes.storage_delete_files``: with an original's stripped copy and its
    explanations) and the model inputs kept of their contents. Near-duplicate groups an
    image belonged to are computed again (a group is named by its smallest image id)."""
    files = images_files(project=project, image_ids=image_ids)
    rows = Image.objects.select_for_update().filter(project=project, pk__in=image_ids)
    read = list(rows.values_list(*STORED_FILE_FIELDS, "sha256", "duplicate_group"))
    names = [name for row in read for name in row[: len(STORED_FILE_FIELDS)] if name]
    contents = sorted({row[-2] for row in read})
    grouped = any(row[-1] is not None for row in read)
    deleted = rows.delete()[1].get(Image._meta.label, 0)
    for start in range(0, len(names), BATCH):
        jobs.enqueue(Task.STORAGE_DELETE_FILES, names[start : start + BATCH])
    for start in range(0, len(contents), BATCH):
        jobs.enqueue(Task.MODEL_INPUTS_DELETE, contents[start : start + BATCH])
    if grouped:
        jobs.enqueue(Task.DUPLICATES_REGROUP, project.pk)
    return ImagesDeleted(images=deleted, files=files, contents=len(contents), regrouped=grouped)
