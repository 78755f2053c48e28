"""Unpacking uploaded archives: their image files one at a time, unsafe entries refused.

Each member's bytes are checked as any upload's are (``labeler.images.pixels.files``);
here only what the archive itself may hold: paths, sizes, ratios, counts.
"""

from __future__ import annotations

import io
import lzma
import posixpath
import stat
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

from django.conf import settings

from labeler.images.pixels.files import RejectedFile

ARCHIVE_SUFFIXES = (".zip",)
# What zipfile lets escape from a damaged or exotic archive besides BadZipFile: the
# decompressors' own errors and NotImplementedError for unknown versions or methods.
_ZIP_READ_ERRORS = (
    zipfile.BadZipFile,
    OSError,
    ValueError,
    EOFError,
    NotImplementedError,
    zlib.error,
    lzma.LZMAError,
)


def is_archive(name: str) -> bool:
    """Whether the upload's name marks it as an archive to unpack."""
    return name.lower().endswith(ARCHIVE_SUFFIXES)


@dataclass(frozen=True)
class ArchiveMember:
    """One entry of an archive: its bytes, or why it was refused."""

    name: str
    data: bytes | None
    reason: str = ""


def archive_members(fileobj: io.IOBase | object) -> Iterator[ArchiveMember]:
    """Yield an archive's files, refusing unsafe paths and bomb-like entries.

    Raises RejectedFile when the archive as a whole cannot be read or is too big.
    """
    try:
        archive = zipfile.ZipFile(fileobj)  # type: ignore[arg-type]
    except _ZIP_READ_ERRORS as exc:
        raise RejectedFile(f"Not a readable zip archive: {exc}") from exc
    with archive:
        # Not ZipInfo.is_dir(): on Python 3.11 it fails on an entry with an empty name.
        entries = [info for info in archive.infolist() if not info.filename.endswith("/")]
        if not entries:
            raise RejectedFile("Archive holds no files.")
        if len(entries) > settings.LABELER_MAX_ARCHIVE_MEMBERS:
            raise RejectedFile(
                f"Archive holds {len(entries):,} files; the limit is "
                f"{settings.LABELER_MAX_ARCHIVE_MEMBERS:,}."
            )
        budget = settings.LABELER_MAX_ARCHIVE_UNCOMPRESSED_BYTES
        for info in entries:
            reason = _member_refusal(info) or _budget_refusal(info, budget)
            if reason:
                yield ArchiveMember(info.filename, None, reason)
                continue
            try:
                data = _read_bounded(archive, info, min(budget, settings.LABELER_MAX_IMAGE_BYTES))
            except RejectedFile as exc:
                yield ArchiveMember(info.filename, None, str(exc))
                continue
            budget -= len(data)
            yield ArchiveMember(info.filename, data)


def _member_refusal(info: zipfile.ZipInfo) -> str:
    name = info.filename
    if not name:
        return "Entry has no file name; entry skipped."
    parts = name.replace("\\", "/").split("/")
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":") or ".." in parts:
        return "Unsafe path in archive (absolute or with '..'); entry skipped."
    base = posixpath.basename(name.replace("\\", "/"))
    if parts[0] == "__MACOSX" or base.startswith("."):
        return "Hidden or system metadata file; entry skipped."
    if is_archive(base):
        return "Archives inside archives are not unpacked."
    if stat.S_ISLNK(info.external_attr >> 16):
        return "Symbolic links in archives are not followed; entry skipped."
    if info.flag_bits & 0x1:
        return "Encrypted archive entries are not supported."
    if info.file_size > settings.LABELER_MAX_IMAGE_BYTES:
        return (
            f"File is {info.file_size:,} bytes; the limit is {settings.LABELER_MAX_IMAGE_BYTES:,}."
        )
    ratio = info.file_size / max(info.compress_size, 1)
    if info.file_size > 1024 * 1024 and ratio > settings.LABELER_MAX_COMPRESSION_RATIO:
        return f"Compression ratio {ratio:.0f}:1 looks like a zip bomb; entry skipped."
    return ""


def _budget_refusal(info: zipfile.ZipInfo, budget: int) -> str:
    if info.file_size <= budget:
        return ""
    total = settings.LABELER_MAX_ARCHIVE_UNCOMPRESSED_BYTES
    return f"The archive's files add up to more than {total:,} bytes unpacked; entry skipped."


def _read_bounded(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int) -> bytes:
    # The sizes in the header can lie: never inflate more than the limit allows.
    try:
        with archive.open(info) as member:
            data = member.read(limit + 1)
    except _ZIP_READ_ERRORS as exc:
        raise RejectedFile(f"Entry cannot be read from the archive: {exc}") from exc
    if len(data) > limit:
        raise RejectedFile("Entry inflates beyond the size limit; possible zip bomb.")
    return data
