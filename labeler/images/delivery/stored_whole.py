"""Writing a derived file (a stripped or converted copy) so that no one reads it half-written."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage


def store_whole(name: str, content: bytes) -> str:
    """Write ``content`` under ``name``, replacing what was there; returns the stored name.

    On a local disk it goes to a temporary file beside it, renamed into place (a storage's
    ``save`` writes where readers look, and picks another name for one taken); an object
    store's put is whole anyway (and names it as its settings say).
    """
    try:
        target = Path(default_storage.path(name))
    except NotImplementedError:
        return default_storage.save(name, ContentFile(content))
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=target.parent, delete=False) as temporary:
        temporary.write(content)
    os.chmod(temporary.name, 0o644)
    os.replace(temporary.name, target)
    return name
