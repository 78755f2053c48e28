"""Where an image's explanations are kept: heat-map overlays and the probabilities beside them.

An explanation (``labeler.predictions.explanations``) is a derived file of an image, made
by the worker for one model version and one label, and kept in storage so that asking
again costs nothing. Its name is made here, from the image's stored file name (content
addressed, so it never changes), the version's id and the label's id:

    explanations/<project>/<hash of the image's stored name>/v<version>-l<label>.png
    explanations/<project>/<hash of the image's stored name>/v<version>.json
    explanations/<project>/<hash of the image's stored name>/v<version>-l<label|top>.failed

(the last: why the worker could not make one, kept in storage because the worker may be
another process, one with its own cache).

Everything under the image's folder goes when its stored file is deleted
(``file_deletes.storage_delete_files`` calls ``explanations_delete``): the one route every
deletion of an image, or of its project with its versions, takes.
"""

from __future__ import annotations

import hashlib
import logging

from django.core.files.storage import default_storage

from labeler.images.delivery.links import file_project
from labeler.images.delivery.served import is_original

FOLDER = "explanations"
logger = logging.getLogger(__name__)


def explanations_folder(*, project_id: int, image_file: str) -> str:
    """The folder (ending in ``/``) that holds every explanation of the stored image file."""
    digest = hashlib.sha256(image_file.encode()).hexdigest()[:40]
    return f"{FOLDER}/{project_id}/{digest}/"


def explanation_overlay_name(
    *, project_id: int, image_file: str, version_id: int, label_id: int
) -> str:
    """The stored name of the heat-map overlay of one label by one version (a PNG)."""
    folder = explanations_folder(project_id=project_id, image_file=image_file)
    return f"{folder}v{version_id}-l{label_id}.png"


def explanation_outputs_name(*, project_id: int, image_file: str, version_id: int) -> str:
    """The stored name of the version's probabilities for the image (JSON), written beside
    its overlays by the same forward pass."""
    folder = explanations_folder(project_id=project_id, image_file=image_file)
    return f"{folder}v{version_id}.json"


def explanation_failure_name(
    *, project_id: int, image_file: str, version_id: int, label_id: int | None
) -> str:
    """The stored name of why the worker could not make a heat map (text)."""
    folder = explanations_folder(project_id=project_id, image_file=image_file)
    return f"{folder}v{version_id}-l{label_id or 'top'}.failed"


def explanations_delete(*, name: str) -> None:
    """Delete every explanation of the image whose stored file (an original) is ``name``;
    nothing for other names."""
    project_id = file_project(name)
    if project_id is None or not is_original(name):
        return
    folder = explanations_folder(project_id=project_id, image_file=name)
    try:
        _, files = default_storage.listdir(folder)
    except (FileNotFoundError, NotADirectoryError):
        return  # never explained
    for file in files:
        default_storage.delete(folder + file)
    try:
        default_storage.delete(folder.rstrip("/"))  # a local disk's empty folder
    except OSError:
        logger.debug("could not remove folder %s", folder, exc_info=True)
