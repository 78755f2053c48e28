"""Deleting an image's stored files: the one function every route that deletes them calls."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from django.core.files.storage import default_storage

from labeler.images.delivery.explanation_files import explanations_delete
from labeler.images.delivery.served import stripped_delete
from labeler.images.pixels.model_inputs import input_cache
from labeler.images.stored.references import is_reference

logger = logging.getLogger(__name__)


def storage_delete_files(*, names: Iterable[str]) -> None:
    """Delete files from storage (and an original's stripped copy and explanations),
    ignoring those gone.

    An image's files are those its row names (``models.STORED_FILE_FIELDS``: the original,
    thumbnail, display copy and converted copy); an original read in place (a bucket's
    object, a mounted folder's file) is never ours to delete, its copies are.
    """
    for name in names:
        try:
            stripped_delete(name=name)  # ours, even for an image read in place
            explanations_delete(name=name)  # ours too
            if is_reference(name):
                continue  # read in place: never ours to delete
            default_storage.delete(name)
        except OSError:
            logger.warning("could not delete stored file %s", name, exc_info=True)


def model_inputs_delete(*, sha256s: Iterable[str]) -> int:
    """Delete the model inputs kept for these files' contents (the workers' folder,
    ``model_inputs.InputCache``, named by sha256); returns how many files went.

    Run by the worker that keeps the folder: an erasure or a project's deletion sends it.
    Another project holding the same photo only decodes it again on its next use.
    """
    cache = input_cache()
    if cache is None:
        return 0
    return sum(cache.forget(key) for key in sha256s)
