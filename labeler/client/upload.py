"""``labeler upload``: a folder's images sent in batches, with their labels when asked."""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm
from urllib3.fields import format_multipart_header_param

from labeler.client.api import Api, ClientError
from labeler.client.folder_labels import FOLDERS, FolderLabels, annotators_read, folder_labels
from labeler.imports.reading import sources
from labeler.imports.report import counts_add, counts_lines, not_applied_lines, people_lines

EXIT_NOT_APPLIED = 3  # --strict: some record of the labels was not applied


def cmd_upload(api: Api, args: argparse.Namespace) -> int:
    """Upload a folder's images, in batches, with a progress bar; labels when asked.

    Ends with the counts in and out summed over the batches and a line for every record
    not applied (also with --quiet, which hides the progress bar only); with --strict,
    exit status 3 when any record was not applied. --dry-run prints the people and how
    they match, the counts in and what would not apply, and sends no file.
    """
    root = Path(args.folder)
    if not root.is_dir():
        raise ClientError(f"{root} is not a folder.")
    files = [Path(path) for path in sources.folder_files(root, recursive=not args.no_recursive)]
    if not files:
        raise ClientError(f"No image files under {root}.")
    plan = folder_labels(
        root,
        files,
        labels_from=args.labels_from,
        labels_file=args.labels_file,
        labels_as=args.labels_as,
    )
    annotators = annotators_read(args.annotators) if args.annotators else None
    if annotators is not None and not plan.per_person:
        raise ClientError(
            "--annotators is for a labels file that names its annotators "
            f"({', '.join(sorted(sources.PER_PERSON_FORMATS))})."
        )
    if not args.quiet:
        for name, why in plan.no_labels:
            print(f"no labels {name}: {why}")
    if args.dry_run:
        report = _dry_run(api, args, plan, annotators)
    else:
        report = _upload(api, args, files, plan, annotators)
    for line in report.lines():
        print(line)
    if args.dry_run:
        print("Dry run: nothing was sent.")
    else:
        summary = ", ".join(f"{value} {key}" for key, value in report.totals.items())
        print(f"Uploaded {len(files)} files to project {args.project}: {summary}.")
    return EXIT_NOT_APPLIED if args.strict and report.not_applied else 0


@dataclass
class UploadReport:
    """What the batches answered, summed: the counts in and out, the people, the files
    refused and every record not applied."""

    counts_in: dict[str, int]
    counts_out: dict[str, int] | None = None
    people: dict[str, dict[str, str]] = field(default_factory=dict)
    rejected: list[str] = field(default_factory=list)
    not_applied: list[tuple[str, str]] = field(default_factory=list)
    totals: dict[str, int] = field(
        default_factory=lambda: {"created": 0, "duplicates": 0, "rejected": 0}
    )

    def add(self, answer: dict[str, Any]) -> None:
        """Count one batch's answer in."""
        for key in self.totals:
            self.totals[key] += answer.get(key, 0)
        counts = answer.get("counts") or {"out": _counts_out(answer)}
        if self.counts_out is None:
            self.counts_out = {}
        counts_add(self.counts_out, counts.get("out") or {})
        for person in answer.get("people") or []:
            self.people.setdefault(person["key"], person)
        self.not_applied += [(n["record"], n["reason"]) for n in answer.get("not_applied") or []]
        self.rejected += [
            f"rejected  {r['name']}: {r.get('reason', '')}"
            for r in answer.get("results", [])
            if r.get("status") == "rejected"
        ]

    def lines(self) -> list[str]:
        return [
            *self.rejected,
            *people_lines(self.people.values()),
            *counts_lines(self.counts_in, self.counts_out),
            *not_applied_lines(self.not_applied),
        ]


def _upload(
    api: Api,
    args: argparse.Namespace,
    files: Sequence[Path],
    plan: FolderLabels,
    annotators: str | None,
) -> UploadReport:
    """Send the files in batches; those whose entry is ambiguous go without the labels
    file (their lines are the folder's, found before)."""
    report = UploadReport(dict(plan.counts_in))
    report.not_applied += plan.not_applied
    matched = [path for path in files if path not in plan.ambiguous]
    unmatched = [path for path in files if path in plan.ambiguous]
    with tqdm(total=len(files), unit="file", disable=args.quiet) as progress:
        for group, with_labels in ((matched, True), (unmatched, False)):
            for batch in _batches(group, args.batch_size, args.batch_bytes):
                report.add(_send_batch(api, args, batch, plan, annotators, with_labels))
                progress.update(len(batch))
    return report


def _dry_run(
    api: Api, args: argparse.Namespace, plan: FolderLabels, annotators: str | None
) -> UploadReport:
    """The people as the server would match them (asked with the labels file alone, no
    file sent), the counts in and what would not apply, from the folder read here."""
    report = UploadReport(dict(plan.counts_in))
    report.not_applied += plan.not_applied
    if args.labels_file and args.labels_from != FOLDERS:
        fields = [("labels_format", args.labels_from), *_options(args, annotators)]
        fields.append(("dry_run", "true"))
        body = MultipartBody(fields=fields, files=[("labels_file", Path(args.labels_file))])
        answer = api.post(f"projects/{args.project}/imports/", **body.request_arguments())
        for person in answer.get("people") or []:
            report.people.setdefault(person["key"], person)
    return report


def _batches(files: Sequence[Path], size: int, max_bytes: int) -> Iterator[list[Path]]:
    """Batches of at most `size` files and about `max_bytes` bytes (one big file alone)."""
    batch: list[Path] = []
    total = 0
    for path in files:
        length = path.stat().st_size
        if batch and (len(batch) >= size or total + length > max_bytes):
            yield batch
            batch, total = [], 0
        batch.append(path)
        total += length
    if batch:
        yield batch


def _send_batch(
    api: Api,
    args: argparse.Namespace,
    batch: Sequence[Path],
    plan: FolderLabels,
    annotators: str | None,
    with_labels: bool,
) -> dict[str, Any]:
    """Send one batch: to images/ without labels, else to imports/ with each file's path
    in the folder and its labels (or the labels file that names its annotators)."""
    files = [("files", path) for path in batch]
    if args.labels_from is None:
        body = MultipartBody(files=files)
        return api.post(f"projects/{args.project}/images/", **body.request_arguments())
    fields = [("paths", plan.paths[path]) for path in batch]
    if plan.per_person and with_labels:
        fields += [("labels_format", args.labels_from), *_options(args, annotators)]
        files.insert(0, ("labels_file", Path(args.labels_file)))
    elif not plan.per_person:
        fields += [("labels", ";".join(plan.labels[path] or [])) for path in batch]
        fields += _options(args, None)
    body = MultipartBody(fields=fields, files=files)
    return api.post(f"projects/{args.project}/imports/", **body.request_arguments())


def _options(args: argparse.Namespace, annotators: str | None) -> list[tuple[str, str]]:
    """The options every batch with labels sends alike."""
    fields = [("labels_as", args.labels_as)]
    if args.annotator:
        fields.append(("annotator", args.annotator))
    if args.create_labels:
        fields.append(("create_labels", "true"))
    if annotators is not None:
        fields.append(("annotators", annotators))
    return fields


def _counts_out(answer: dict[str, Any]) -> dict[str, int]:
    """The counts out of an answer of images/, which stores files without labels."""
    created, duplicates = answer.get("created", 0), answer.get("duplicates", 0)
    return {"images": created + duplicates, "images_created": created}


class MultipartBody:
    """A multipart/form-data body streamed from the files on disk, its length known.

    requests builds a form's whole body in memory (each file read, then copied into the
    body, then sent): for a batch of 50 photos that is 170 MB held and copied twice. Here
    each file is read when its turn comes and sent as read, and the Content-Length is
    summed from the files' sizes beforehand (the server needs it: a chunked form is not
    parsed). A file that changes size meanwhile is a ClientError, not a body that lies
    about its length.
    """

    READ_BYTES = 8 << 20  # a file is read and sent in pieces of at most this

    def __init__(
        self, *, fields: Sequence[tuple[str, str]] = (), files: Sequence[tuple[str, Path]] = ()
    ) -> None:
        self.boundary = os.urandom(16).hex()
        self.fields = list(fields)
        self.files = [(name, path, path.stat().st_size) for name, path in files]

    def _field_head(self, name: str) -> bytes:
        disposition = f"form-data; {format_multipart_header_param('name', name)}"
        return f"--{self.boundary}\r\nContent-Disposition: {disposition}\r\n\r\n".encode()

    def _file_head(self, name: str, path: Path) -> bytes:
        # Quoted as requests quotes a form's file names (urllib3's HTML5 style).
        disposition = (
            f"form-data; {format_multipart_header_param('name', name)}; "
            f"{format_multipart_header_param('filename', path.name)}"
        )
        return (
            f"--{self.boundary}\r\nContent-Disposition: {disposition}\r\n"
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()

    def _tail(self) -> bytes:
        return f"--{self.boundary}--\r\n".encode()

    def __len__(self) -> int:
        length = len(self._tail())
        for name, value in self.fields:
            length += len(self._field_head(name)) + len(value.encode()) + 2
        for name, path, size in self.files:
            length += len(self._file_head(name, path)) + size + 2
        return length

    def __iter__(self) -> Iterator[bytes]:
        for name, value in self.fields:
            yield self._field_head(name) + value.encode() + b"\r\n"
        for name, path, size in self.files:
            yield self._file_head(name, path)
            sent = 0
            with path.open("rb") as handle:
                while piece := handle.read(min(self.READ_BYTES, size - sent + 1)):
                    sent += len(piece)
                    if sent > size:
                        break
                    yield piece
            if sent != size:
                raise ClientError(f"{path} changed while it was being sent; send it again.")
            yield b"\r\n"
        yield self._tail()

    def request_arguments(self) -> dict[str, Any]:
        """The ``data`` and ``headers`` that send this body with requests."""
        content_type = f"multipart/form-data; boundary={self.boundary}"
        return {"data": self, "headers": {"Content-Type": content_type}}
