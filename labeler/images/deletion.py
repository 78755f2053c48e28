"""Deleting images for good: their rows (with everything that hangs from them) now, their
stored files and the workers' model inputs once that commits."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from labeler import jobs
from labeler.images.models import STORED_FILE_FIELDS, STORED_FILES, Image
from labeler.images.stored.references import is_reference
from labeler.projects.models import Project
from labeler.task_names import Task

BATCH = 1000


@dataclass(frozen=True)
class ImagesDeleted:
    """What ``images_delete`` deleted: rows, and the files it sent for deletion by kind."""

    images: int
    files: Counter[str] = field(default_factory=Counter)
    contents: int = 0  # distinct contents whose kept model inputs are deleted
    regrouped: bool = False


def _kinds(rows: Iterable[Sequence[str]]) -> Counter[str]:
    """Stored files by kind (``STORED_FILES``), from rows of ``STORED_FILE_FIELDS``."""
    files: Counter[str] = Counter()
    for names in rows:
        for column, name in zip(STORED_FILE_FIELDS, names, strict=False):
            if name and column == "file" and is_reference(name):
                files["original read in place (kept)"] += 1
            elif name:
                files[STORED_FILES[column]] += 1
    return files


def images_files(*, project: Project, image_ids: Sequence[int]) -> Counter[str]:
    """The stored files of these images by kind (``models.STORED_FILES``), as
    ``images_delete`` would delete them: an original read in place (a bucket's, a
    folder's) is not ours and is counted apart; its copies are ours."""
    rows = Image.objects.filter(project=project, pk__in=image_ids)
    return _kinds(rows.values_list(*STORED_FILE_FIELDS))


def images_delete(*, project: Project, image_ids: Sequence[int]) -> ImagesDeleted:
    """Delete the project's images named (in the caller's transaction): their rows and what
    cascades from them (annotations, final labels, predictions, tags, field values, label
    history, leases); once it commits, every stored file
    (``file_deletes.storage_delete_files``: with an original's stripped copy and its
    explanations) and the model inputs kept of their contents. Near-duplicate groups an
    image belonged to are computed again (a group is named by its smallest image id).

    The one way images are deleted: bulk deletes, erasures and a project's deletion
    (``project_images_delete``) come here."""
    deleted = _rows_delete(project, image_ids)
    if deleted.regrouped:
        jobs.enqueue(Task.DUPLICATES_REGROUP, project.pk)
    return deleted


def project_images_delete(*, project: Project) -> ImagesDeleted:
    """Delete every image of the project as ``images_delete`` does, a batch at a time, when
    the project itself is deleted next (``flows.project_delete``, in its transaction): its
    near-duplicate groups go with it, nothing is grouped again."""
    ids = list(Image.objects.filter(project=project).order_by("pk").values_list("pk", flat=True))
    images, files, contents = 0, Counter[str](), 0
    for start in range(0, len(ids), BATCH):
        part = _rows_delete(project, ids[start : start + BATCH])
        images, contents = images + part.images, contents + part.contents
        files.update(part.files)
    return ImagesDeleted(images=images, files=files, contents=contents)


def _rows_delete(project: Project, image_ids: Sequence[int]) -> ImagesDeleted:
    """The rows deleted now, their files and model inputs sent for deletion on commit."""
    rows = Image.objects.select_for_update().filter(project=project, pk__in=image_ids)
    read = list(rows.values_list(*STORED_FILE_FIELDS, "sha256", "duplicate_group"))
    files = _kinds(row[: len(STORED_FILE_FIELDS)] for row in read)
    names = [name for row in read for name in row[: len(STORED_FILE_FIELDS)] if name]
    contents = sorted({row[-2] for row in read})
    grouped = any(row[-1] is not None for row in read)
    deleted = rows.delete()[1].get(Image._meta.label, 0)
    for start in range(0, len(names), BATCH):
        jobs.enqueue(Task.STORAGE_DELETE_FILES, names[start : start + BATCH])
    for start in range(0, len(contents), BATCH):
        jobs.enqueue(Task.MODEL_INPUTS_DELETE, contents[start : start + BATCH])
    return ImagesDeleted(images=deleted, files=files, contents=len(contents), regrouped=grouped)
