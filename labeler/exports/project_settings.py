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
            "images' GPS positions in JSON, CSV and COCO exports; by default they are left out."
        ),
    ),
)
