"""manage.py import_images: a folder of images, with labels from the folders or a labels
file in any format the loader reads (``labeler.imports.reading.sources.labels_source_read``): the
flat ones (CSV, TSV, our JSON or JSON Lines export, COCO) and those that name each
annotation's person (Label Studio, CVAT, Labelbox, FiftyOne, a CSV with a column per
annotator), whose people are matched to the project's members (``--annotators`` for the
lead's choice; ``--dry-run`` shows the matches and what would not apply, writing
nothing). Every run ends with the counts in and out and a line for each record not
applied (``labeler.imports.report``), whatever the verbosity."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandError, CommandParser

from labeler.errors import DomainError
from labeler.flows import images_import
from labeler.images.pixels.files import RejectedFile
from labeler.imports.applying.summary import ImportResult, ImportSummary
from labeler.imports.planning.labels_in import LABELS_AS, ImportItem, LabelsIn
from labeler.imports.planning.plan import ImportOptions, ImportPlan, plan_preview
from labeler.imports.planning.preview import labels_preview
from labeler.imports.reading.loader import annotators_parse, people_confirmed_parse
from labeler.imports.reading.matching import label_hashes
from labeler.imports.reading.metadata_in import MetadataIn
from labeler.imports.reading.records import ImageRecords, RecordsFile
from labeler.imports.reading.sources import (
    CSV,
    LABEL_FILE_SUFFIX,
    LABEL_STUDIO,
    LabelMatcher,
    LabelSourceError,
    LabelsSource,
    folder_files,
    imagefolder_labels,
    labels_source_read,
)
from labeler.imports.report import (
    contradiction_lines,
    counts_lines,
    not_applied_lines,
    people_lines,
)
from labeler.projects.models import Project

Matcher = LabelMatcher[list[str] | ImageRecords]


class Command(BaseCommand):
    help = (
        "Import the images of a folder into a project, with their labels: from the folder "
        "names (--layout imagefolder) or a labels file (--labels-file and --labels-format; "
        "--labels-csv and --label-studio for short). Prints each file's fate, the counts in "
        "and out, and each record not applied."
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
        parser.add_argument(
            "--annotators",
            type=Path,
            metavar="FILE.json",
            help="For a labels file that names its annotators: a JSON object from each "
            "person (their key or e-mail, as --dry-run lists them) to a member's username, or "
            'to "new" for an inactive account of their own. Others are matched by e-mail, '
            "then username.",
        )
        parser.add_argument(
            "--people-confirmed",
            default="",
            metavar="KEYS",
            help="The people (key or e-mail, comma-separated) whose account contradicts what "
            "the labels file says of them, as --dry-run lists them, confirmed: an import "
            "with an unconfirmed one writes nothing.",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Print the people and whose account each would take, the counts in and the "
            "records that would not apply (entries no file matches among them); write nothing.",
        )

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
        annotators = _annotators(options["annotators"])
        source = _labels(folder, options)
        matcher = _matcher(folder, files, source.labels if source is not None else None)
        plan = _plan(project, files, source, matcher, options, annotators)
        metadata = source.metadata if source is not None else {}
        sources = ("labels_file", "labels_csv", "label_studio")
        from_folders = all(options[source] is None for source in sources)
        try:
            if options["dry_run"]:
                self._dry_run(plan, folder, files, matcher)
                return
            items = _items(folder, files, matcher, from_folders, metadata)
            summary = images_import(
                plan=replace(plan, items=items),
                actor=_user(options["user"]),
                report=self._report if options["verbosity"] > 0 else _ignore,
            )
        except DomainError as exc:
            raise CommandError(f"{exc.field}: {exc.message}" if exc.field else exc.message) from exc
        self._summary(summary)

    def _dry_run(
        self, plan: ImportPlan, folder: Path, files: list[Path], matcher: Matcher | None
    ) -> None:
        """What the import would do: the people, the counts in, what would not apply."""
        found = labels_preview(
            matcher=matcher,
            names=[path.relative_to(folder).as_posix() for path in files],
            labels_in=plan.labels_in,
            files=len(files),
            sha256_of=lambda name: _sha256(folder / name),
        )
        preview = plan_preview(replace(plan, not_applied=tuple(found.not_applied)))
        self._lines(people_lines(asdict(person) for person in preview.people))
        self._lines(contradiction_lines(asdict(c) for c in preview.contradictions))
        self._lines(counts_lines(preview.counts_in, None))
        self._lines(not_applied_lines([(n.record, n.reason) for n in preview.not_applied]))
        self.stdout.write("Dry run: nothing was written.")

    def _lines(self, lines: list[str]) -> None:
        for line in lines:
            self.stdout.write(line)

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
        """The people, the counts in and out, each record not applied, then the one line
        that sums the files up (printed at every verbosity: nothing lost goes unsaid)."""
        self._lines(people_lines(asdict(person) for person in summary.people))
        counts = summary.counts()
        self._lines(counts_lines(counts["in"], counts["out"]))
        self._lines(not_applied_lines([(n.record, n.reason) for n in summary.not_applied]))
        self.stdout.write(
            f"{summary.created} created, {summary.duplicates} duplicates, "
            f"{summary.rejected} rejected; labels: {summary.labels_applied} applied, "
            f"{summary.labels_refused} refused, {summary.labels_none} without labels."
        )
        if summary.labels_created:
            self.stdout.write(f"Labels created: {', '.join(summary.labels_created)}.")


def _ignore(result: ImportResult) -> None:
    """Quiet: the summary alone (and no result kept in memory)."""


def _plan(
    project: Project,
    files: list[Path],
    source: LabelsSource | None,
    matcher: Matcher | None,
    options: dict[str, Any],
    annotators: dict[str, str] | None,
) -> ImportPlan:
    """The import's plan, its files yet to be added (each read when its turn comes)."""
    labels_in = LabelsIn()
    if source is not None and matcher is not None:
        labels_in = LabelsIn.of(
            source.labels,
            labels_as=options["labels_as"],
            unmatched=matcher.unmatched,
            metadata=source.metadata,
        )
    import_options = ImportOptions(
        labels_as=options["labels_as"],
        annotator=options["annotator"],
        create_labels=options["create_labels"],
        annotators=annotators,
        people_confirmed=people_confirmed_parse(options.get("people_confirmed") or "") or None,
    )
    return ImportPlan(project, import_options, labels_in, (), len(files))


def _labels(folder: Path, options: dict[str, Any]) -> LabelsSource | None:
    """The labels of the folder's files (and their metadata, from a labels file that
    carries it): from a labels file, the folders, or none."""
    path, labels_format = options["labels_file"], options["labels_format"]
    if options["labels_csv"] is not None:
        path, labels_format = options["labels_csv"], CSV
    elif options["label_studio"] is not None:
        path, labels_format = options["label_studio"], LABEL_STUDIO
    try:
        if path is not None:
            return labels_source_read(path, labels_format=labels_format)
        if options["layout"] == "imagefolder":
            return LabelsSource(imagefolder_labels(folder))
    except LabelSourceError as exc:
        raise CommandError(f"{path or folder}: {exc}") from exc
    return None


def _matcher(
    folder: Path, files: list[Path], labels: dict[str, list[str]] | RecordsFile | None
) -> Matcher | None:
    if labels is None:
        return None
    entries = labels.images if isinstance(labels, RecordsFile) else labels
    names = [path.relative_to(folder).as_posix() for path in files]
    return LabelMatcher(entries, files=names, hashes=label_hashes(entries))


def _annotators(path: Path | None) -> dict[str, str] | None:
    """The lead's choice of accounts, from a JSON file: person -> username or "new"."""
    if path is None:
        return None
    try:
        return annotators_parse(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeError, LabelSourceError) as exc:
        raise CommandError(f"--annotators {path}: {exc}") from exc


def _sha256(path: Path) -> str | None:
    """A file's content hash (None: unreadable, which the import would report)."""
    try:
        with path.open("rb") as handle:
            return hashlib.file_digest(handle, "sha256").hexdigest()
    except OSError:
        return None


def _user(username: str | None) -> User | None:
    if username is None:
        return None
    user = User.objects.filter(username=username).first()
    if user is None:
        raise CommandError(f"No user named {username!r}.")
    return user


def _items(
    folder: Path,
    files: list[Path],
    matcher: LabelMatcher[Any] | None,
    from_folders: bool,
    metadata: Mapping[str, MetadataIn] | None = None,
) -> Iterator[ImportItem]:
    """Each file with its labels and metadata, read only when its turn comes (one in
    memory at a time), and hashed as read where the labels carry the images' sha256s."""
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
            name,
            data,
            match.labels,
            no_labels="" if match.labels is not None else why,
            metadata=(metadata or {}).get(match.key) if match.key is not None else None,
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
