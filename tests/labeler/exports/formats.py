"""Write an export in the test process, as the direct download and the worker do."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

from labeler.exports.formats import EXPORTERS, ExportSource
from labeler.exports.options import export_options_parse
from labeler.projects.models import Project, Role


def export_bytes(project: Project, *, user_id: int | None = None, **options: Any) -> bytes:
    """The export as the direct download writes it for the project's first lead (or
    ``user_id``), the site reached at http://testserver/."""
    parsed = export_options_parse(options)
    if user_id is None:
        lead = project.memberships.filter(role=Role.LEAD).order_by("pk").first()
        user_id = lead.user_id if lead else None
    source = ExportSource(project, parsed, base_url="http://testserver/", user_id=user_id)
    return b"".join(EXPORTERS[parsed.format].write(source))


def extract(data: bytes, folder: Path) -> Path:
    """Unzip into folder, refusing any member that would land outside it."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for name in archive.namelist():
            target = (folder / name).resolve()
            assert target.is_relative_to(folder.resolve()), name
        archive.extractall(folder)
    return folder
