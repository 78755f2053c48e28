"""An archive kept between the import page's two steps: checked first (who is who, what
will not apply), imported once the lead confirms.

The archive, the labels file sent beside it and the options chosen are stored under
``import-stash/`` by names that carry when they were kept, the project, the user and a
random token. Only the time and the token go back to the browser (the stash id), so no
one can name another's stash, and one user's id opens nothing in another project or for
another user. The import deletes the stash it used; any stash older than
``STASH_SECONDS`` is refused, and deleted by the next check or by the periodic purge
(``worker.tasks.import_stashes_purge``): nothing is left behind for long.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from dataclasses import dataclass
from typing import IO, Any

from django.contrib.auth.models import User
from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from labeler.errors import ValidationFailed
from labeler.projects.models import Project

STASH_FOLDER = "import-stash"
STASH_SECONDS = 3600
FIELD = "stash"
ARCHIVE, LABELS, OPTIONS = ".zip", ".labels", ".json"
_ID = re.compile(r"^(?P<kept>[0-9]{10,12})-(?P<token>[A-Za-z0-9_-]{32})$")
_NAME = re.compile(r"^(?P<kept>[0-9]{10,12})-[0-9]+-[0-9]+-[A-Za-z0-9_-]{32}\.(zip|labels|json)$")
GONE = (
    "The checked archive is no longer kept (it was imported, or checked over an hour "
    "ago): send it again."
)


@dataclass
class Stash:
    """A kept archive, opened: the archive (seekable), the labels file's bytes (None when
    none was sent) and the options chosen with them."""

    id: str
    archive: IO[bytes]
    labels_file: bytes | None
    options: dict[str, Any]

    def close(self) -> None:
        self.archive.close()


def stash_keep(
    *,
    project: Project,
    user: User,
    archive: File,
    labels_file: File | None,
    options: dict[str, Any],
) -> str:
    """Keep the archive (and the labels file) for the import; returns the stash's id."""
    stash_id = f"{int(time.time())}-{secrets.token_urlsafe(24)}"
    base = _base(project, user, stash_id)
    saved = []
    try:
        for suffix, content in (
            (ARCHIVE, archive),
            (LABELS, labels_file),
            (OPTIONS, ContentFile(json.dumps(options).encode())),
        ):
            if content is None:
                continue
            content.seek(0)
            name = default_storage.save(base + suffix, content)
            saved.append(name)
            if name != base + suffix:  # a name the storage changed could not be found again
                raise OSError(f"The storage kept {base + suffix} as {name}.")
    except BaseException:
        for name in saved:
            default_storage.delete(name)
        raise
    return stash_id


def stash_open(*, project: Project, user: User, stash_id: str) -> Stash:
    """The stash this user kept for this project. Raises ValidationFailed (field
    ``stash``) for an id that is malformed, too old, or names nothing kept."""
    match = _ID.match(stash_id or "")
    if match is None:
        raise ValidationFailed("Not an id of a checked archive.", field=FIELD)
    base = _base(project, user, stash_id)
    if time.time() - int(match["kept"]) > STASH_SECONDS:
        stash_drop(project=project, user=user, stash_id=stash_id)
        raise ValidationFailed(GONE, field=FIELD)
    try:
        options = json.loads(_read(base + OPTIONS))
        labels_file = _read(base + LABELS) if default_storage.exists(base + LABELS) else None
        archive = default_storage.open(base + ARCHIVE, "rb")
    except (FileNotFoundError, ValueError):
        raise ValidationFailed(GONE, field=FIELD) from None
    return Stash(stash_id, archive, labels_file, options)


def stash_drop(*, project: Project, user: User, stash_id: str) -> None:
    """Delete a stash (nothing happens for one already gone)."""
    if _ID.match(stash_id or "") is None:
        return
    base = _base(project, user, stash_id)
    for suffix in (ARCHIVE, LABELS, OPTIONS):
        default_storage.delete(base + suffix)


def stash_purge(*, now: float | None = None) -> int:
    """Delete every stash kept over ``STASH_SECONDS`` ago; returns how many files went."""
    limit = (time.time() if now is None else now) - STASH_SECONDS
    try:
        _, names = default_storage.listdir(STASH_FOLDER)
    except FileNotFoundError:
        return 0
    deleted = 0
    for name in names:
        match = _NAME.match(name)
        if match is not None and int(match["kept"]) < limit:
            default_storage.delete(f"{STASH_FOLDER}/{name}")
            deleted += 1
    return deleted


def _base(project: Project, user: User, stash_id: str) -> str:
    kept, token = stash_id.split("-", 1)
    return f"{STASH_FOLDER}/{kept}-{project.pk}-{user.pk}-{token}"


def _read(name: str) -> bytes:
    with default_storage.open(name, "rb") as handle:
        data: bytes = handle.read()
    return data
