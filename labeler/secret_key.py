"""The signing key of a local install, made on first use and kept beside its data.

Without ``SECRET_KEY`` in the environment, development (``DEBUG`` on, as ``make run``)
signs sessions, CSRF tokens and file addresses with a random key of its own, read from
a file under ``var/`` (which git ignores). A key written in the repository would let
anyone forge those for every install that uses it. Production sets ``SECRET_KEY``.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured
from django.core.management.utils import get_random_secret_key


def local_secret_key(path: Path) -> str:
    """The key kept at ``path``, written there (mode 0600) with a random key if absent.

    The file appears whole or not at all: the key is written to a temporary file that is
    then linked to ``path``, so processes starting at once (the web server and a worker)
    all end up with the one key the first of them wrote.
    """
    try:
        return _read(path)
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # mode 0600
    temporary = Path(name)
    try:
        with os.fdopen(descriptor, "w", encoding="ascii") as handle:
            handle.write(get_random_secret_key() + "\n")
        with contextlib.suppress(FileExistsError):  # another process wrote it first: theirs
            os.link(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return _read(path)


def _read(path: Path) -> str:
    key = path.read_text(encoding="ascii").strip()
    if not key:
        raise ImproperlyConfigured(f"{path} is empty; delete it to have a new key made.")
    return key
