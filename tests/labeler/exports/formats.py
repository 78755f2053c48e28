"""Write an export in the test process, as the direct download and the worker do."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

from labeler.exports.formats import EXPORTERS, ExportSource
from labeler.exports.options import export_options_parse
from labeler.projects.models import Project


def export_bytes(project: Project, **options: Any) -> bytes:
    parsed = export_options_parse(options)
    return b"".join(EXPORTERS[parsed.format].write(ExportSource(project, parsed)))


def extract(data: bytes, folder: Path) -> Path:
    """Unzip into folder, refusing any member that would land outside it."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for name in archive.namelist():
            target = (folder / name).resolve()
            assert target.is_relative_to(folder.resolve()), name
        archive.extractall(folder)
    return folder
