"""The project settings the export layer reads."""

from __future__ import annotations

from labeler.projects.settings_registry import FormInput, ProjectSetting

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
        form=FormInput(
            label="Keep photos' metadata in exports",
            help=(
                "Exported image files keep their EXIF, XMP and IPTC: where a photo was taken "
                "(GPS), the camera, its owner; JSON, CSV and COCO exports carry each image's GPS "
                "position. Off, they are left out (the orientation is kept); annotators only "
                "ever see copies without it."
            ),
            anchor="keep-metadata",
            order=1,
        ),
    ),
    ProjectSetting(
        name="export_keep_days",
        section="privacy",
        owner="exports",
        kind="int",
        default=None,
        nullable=True,
        minimum=1,
        maximum=3650,
        label="days finished exports are kept",
        words="a whole number of days from 1 to 3650, or null (the server's days)",
        help=(
            "Finished exports (their files) are deleted this many days after they ended; "
            "null: the server's LABELER_EXPORT_KEEP_DAYS (14 by default)."
        ),
        form=FormInput(
            message="Keep exports from 1 to 3650 days, or leave it empty.",
            blank_is_null=True,
            label="Keep finished exports (days)",
            help=(
                "Export files (which hold the images and their labels) are deleted this many "
                "days after they were written. Empty: the server's days (14 unless its "
                "administrator changed them)."
            ),
            anchor="export-days",
            placeholder="the server's",
            order=5,
        ),
    ),
)
