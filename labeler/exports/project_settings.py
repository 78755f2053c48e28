"""The project settings the export layer reads."""

from __future__ import annotations

from labeler.projects.settings_registry import ProjectSetting

SETTINGS = (
    ProjectSetting(
        name="export_keep_metadata",
        section="privacy",
        owner="exports",
        kind="bool",
        default=False,
        help=(
            "Keep photos' EXIF, XMP and IPTC (GPS, camera) in exported image files, and "
            "images' positions in every format that carries metadata (JSON, JSON Lines, CSV, "
            "COCO, Label Studio, Hugging Face's metadata.csv); by default they are left out."
        ),
    ),
)
