"""manage.py import_images: a folder of images, with labels from the folders or a labels
file (CSV, our JSON or JSON Lines export, Label Studio, COCO), read by the loader every
labels file goes through (``labeler.imports.sources.labels_file_load``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandError, CommandParser

from labeler.errors import DomainError
from labeler.flows import images_import
from labeler.images.files import RejectedFile
from labeler.imports.labels import LABELS_AS
from labeler.imports.matching import label_hashes
from labeler.imports.services import ImportItem, ImportResult, ImportSummary
from labeler.imports.sources import (
    CSV,
    LABEL_FILE_SUFFIX,
    LABEL_STUDIO,
    LabelMatcher,
    LabelSourceError,
    folder_files,
    imagefolder_labels,
    labels_file_load,
)
from labeler.projects.models import Project


class Command(BaseCommand):
    help = (
        "Import the images of a folder into a project, with their labels: from the folder "
        "names (--layout imagefolder) or a labels file (--labels-file and --labels-format; "
        "--labels-csv and --label-studio for short). Prints each file's fate and a summary."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("project_id", type=int)
        parser.add_argument("folder", type=Path)
        parser.add_argument(
            "--no-recursive", action="store_true", help="Only the folder's own files."
        )
        parser.add_argument("--layout", choices=("plain", "imagefolder"), default="plain")
        source = parser.add_mutually_exclusive_group()
        source.add_argument("--labels-csv", type=Path, metavar="FILE")
        source.add_argument("--label-studio", type=Path, metavar="FILE")
        source.add_argument("--labels-file", type=Path, metavar="FILE")
        parser.add_argument("--labels-format", choices=list(LABEL_FILE_SUFFIX), default=CSV)
        parser.add_argument(
            "--labels-as",
            choices=LABELS_AS,
            default="final",
            help="final: imported final labels; gold: gold labels; annotation: one more "
            "annotator's annotations (default: final).",
        )
        parser.add_argument("--annotator", help="Account of imported annotations (imported).")
        parser.add_argument(
            "--create-labels", action="store_true", help="Add unknown labels to the project."
        )
        parser.add_argument("--user", metavar="USERNAME", help="Who imports (needed for gold).")

    def handle(self, *args: Any, **options: Any) -> None:
        project = Project.objects.filter(pk=options["project_id"]).first()
        if project is None:
            raise CommandError(f"Project {options['project_id']} does not exist.")
        folder: Path = options["folder"]
        if not folder.is_dir():
            raise CommandError(f"{folder} is not a folder.")
        if options["no_recursive"] and options["layout"] == "imagefolder":
            raise CommandError("--layout imagefolder reads subfolders: drop --no-recursive.")
        files = folder_files(folder, recursive=not options["no_recursive"])
        matcher = _matcher(folder, files, options)
        sources = ("labels_file", "labels_csv", "label_studio")
        from_folders = all(options[source] is None for source in sources)
        try:
            summary = images_import(
                project=project,
                items=_items(folder, files, matcher, from_folders),
                labels_as=options["labels_as"],
                annotator_name=options["annotator"],
                create_labels=options["create_labels"],
                user=_user(options["user"]),
                report=self._report if options["verbosity"] > 0 else _ignore,
            )
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        self._summary(summary)

    def _report(self, result: ImportResult) -> None:
        line = f"{result.status:9} {result.name}"
        if result.image_id is not None:
            line += f" (image {result.image_id})"
        if result.reason:
            line += f": {result.reason}"
        if result.labels != "none" or result.labels_reason:
            names = ", ".join(result.label_names)
            line += f"; labels {result.labels}" + (f" ({names})" if names else "")
            line += f": {result.labels_reason}" if result.labels_reason else ""
        self.stdout.write(line)

    def _summary(self, summary: ImportSummary) -> None:
        self.stdout.write(
            f"{summary.created} created, {summary.duplicates} duplicates, "
            f"{summary.rejected} rejected; labels: {summary.labels_applied} applied, "
            f"{summary.labels_refused} refused, {summary.labels_none} without labels."
        )
        if summary.labels_created:
            self.stdout.write(f"Labels created: {', '.join(summary.labels_created)}.")


def _ignore(result: ImportResult) -> None:
    """Quiet: the summary alone (and no result kept in memory)."""


def _matcher(folder: Path, files: list[Path], options: dict[str, Any]) -> LabelMatcher | None:
    path, labels_format = options["labels_file"], options["labels_format"]
    if options["labels_csv"] is not None:
        path, labels_format = options["labels_csv"], CSV
    elif options["label_studio"] is not None:
        path, labels_format = options["label_studio"], LABEL_STUDIO
    try:
        if path is not None:
            labels = labels_file_load(path, labels_format=labels_format)
        elif options["layout"] == "imagefolder":
            labels = imagefolder_labels(folder)
        else:
            return None
    except LabelSourceError as exc:
        raise CommandError(f"{path or folder}: {exc}") from exc
    names = [path.relative_to(folder).as_posix() for path in files]
    return LabelMatcher(labels, files=names, hashes=label_hashes(labels))


def _user(username: str | None) -> User | None:
    if username is None:
        return None
    user = User.objects.filter(username=username).first()
    if user is None:
        raise CommandError(f"No user named {username!r}.")
    return user


def _items(
    folder: Path, files: list[Path], matcher: LabelMatcher | None, from_folders: bool
) -> Iterator[ImportItem]:
    """Each file with its labels, read only when its turn comes (one in memory at a time),
    and hashed as read where the labels carry the images' sha256s."""
    for path in files:
        name = path.relative_to(folder).as_posix()
        data = _read(path)
        if matcher is None:
            yield ImportItem(name, data, None)
            continue
        match = matcher.match_file(name, data if isinstance(data, bytes) else None)
        if match.ambiguous:
            yield ImportItem(name, data, None, refusal=match.reason)
            continue
        why = "No label's folder holds this file." if from_folders else match.reason
        yield ImportItem(
            name, data, match.labels, no_labels="" if match.labels is not None else why
        )


def _read(path: Path) -> bytes | RejectedFile:
    limit = settings.LABELER_MAX_IMAGE_BYTES
    try:
        size = path.stat().st_size
        if size > limit:
            return RejectedFile(f"File is {size:,} bytes; the limit is {limit:,}.")
        return path.read_bytes()
    except OSError as exc:
        return RejectedFile(f"The file cannot be read: {exc.strerror or exc}.")
