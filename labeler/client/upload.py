"""``labeler upload``: a folder's images sent in batches, with their labels when asked."""

from __future__ import annotations

import argparse
import hashlib
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from tqdm import tqdm
from urllib3.fields import format_multipart_header_param

from labeler.client.api import Api, ClientError
from labeler.imports import sources
from labeler.imports.matching import label_hashes


def cmd_upload(api: Api, args: argparse.Namespace) -> None:
    """Upload a folder's images, in batches, with a progress bar; labels when asked."""
    root = Path(args.folder)
    if not root.is_dir():
        raise ClientError(f"{root} is not a folder.")
    files = [Path(path) for path in sources.folder_files(root, recursive=not args.no_recursive)]
    if not files:
        raise ClientError(f"No image files under {root}.")
    labels = _labels_for(root, files, args)
    totals = {"created": 0, "duplicates": 0, "rejected": 0}
    refused: list[str] = []
    with tqdm(total=len(files), unit="file", disable=args.quiet) as progress:
        for batch in _batches(files, args.batch_size, args.batch_bytes):
            report = _send_batch(api, args, batch, labels)
            for key in totals:
                totals[key] += report.get(key, 0)
            refused.extend(_refusals(report))
            progress.update(len(batch))
    for line in refused:
        print(line)
    summary = ", ".join(f"{value} {key}" for key, value in totals.items())
    print(f"Uploaded {len(files)} files to project {args.project}: {summary}.")


def _labels_for(
    root: Path, files: Sequence[Path], args: argparse.Namespace
) -> dict[Path, list[str]] | None:
    if args.labels_from is None:
        return None
    if args.labels_from == "folders":
        found = sources.imagefolder_labels(root)
    elif args.labels_file is None:
        raise ClientError(f"--labels-from {args.labels_from} needs --labels-file.")
    else:
        reader = sources.csv_labels if args.labels_from == "csv" else sources.label_studio_labels
        try:
            found = reader(Path(args.labels_file))
        except (OSError, ValueError) as exc:  # LabelSourceError is a ValueError
            raise ClientError(f"Cannot read {args.labels_file}: {exc}") from None
    relative = {path: path.relative_to(root).as_posix() for path in files}
    matcher = sources.LabelMatcher(found, files=relative.values(), hashes=label_hashes(found))
    labels: dict[Path, list[str]] = {}
    for path, name in relative.items():
        match = matcher.match(name, _sha256(path) if matcher.wants_hash else None)
        labels[path] = match.labels or []
        if match.labels is None and not args.quiet:
            why = "in no label's folder" if args.labels_from == "folders" else match.reason
            print(f"no labels {name}: {why}")
    if not args.quiet:
        for key in matcher.unmatched():
            print(f"not applied {key!r}: no file of the folder matched this labels entry.")
    return labels


def _sha256(path: Path) -> str | None:
    """The file's content hash, to find its labels by (None: unreadable, which its upload
    reports)."""
    try:
        with path.open("rb") as handle:
            return hashlib.file_digest(handle, "sha256").hexdigest()
    except OSError:
        return None


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
    labels: dict[Path, list[str]] | None,
) -> dict[str, Any]:
    if labels is None:
        body = MultipartBody(files=[("files", path) for path in batch])
        return api.post(f"projects/{args.project}/images/", **body.request_arguments())
    fields: list[tuple[str, str]] = [("labels", ";".join(labels[path])) for path in batch]
    fields.append(("labels_as", args.labels_as))
    if args.annotator:
        fields.append(("annotator", args.annotator))
    if args.create_labels:
        fields.append(("create_labels", "true"))
    body = MultipartBody(fields=fields, files=[("files", path) for path in batch])
    return api.post(f"projects/{args.project}/imports/", **body.request_arguments())


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


def _refusals(report: dict[str, Any]) -> list[str]:
    lines = []
    for result in report.get("results", []):
        if result.get("status") == "rejected":
            lines.append(f"rejected  {result['name']}: {result.get('reason', '')}")
        elif result.get("labels") == "refused":
            lines.append(f"unlabelled {result['name']}: {result.get('labels_reason', '')}")
    return lines
