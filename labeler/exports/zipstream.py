"""A zip written front to back onto a sink that cannot seek, in memory that stays flat.

Every member's size and CRC-32 are known before its local header is written (its bytes
are in memory, or spooled to a temporary file first), so no data descriptors are needed.
Each member's central directory record goes to a spooled temporary file as the member
ends and is copied to the sink at the close: the writer keeps no per-member state, so
its memory does not grow with the number of members (Python's zipfile keeps a ZipInfo
per member until the end). ZIP64 records are written where a size, an offset or the
member count overflows the classic fields; names are UTF-8 (flag bit 11).
"""

from __future__ import annotations

import struct
import tempfile
import time
import zlib
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import IO, Protocol

CHUNK = 1024 * 1024
# Central directory records stay in memory up to this size, then go to disk.
DIRECTORY_SPOOL_BYTES = 256 * 1024

MAX_32 = 0xFFFFFFFF  # classic 32-bit fields: this value itself means "see the zip64 field"
MAX_16 = 0xFFFF
VERSION = 20  # 2.0: deflate
VERSION_ZIP64 = 45  # 4.5: zip64 records
MADE_BY = (3 << 8) | VERSION_ZIP64  # Unix, so external_attr holds permissions
FLAG_UTF8 = 1 << 11
STORED, DEFLATED = 0, 8
FILE_MODE = 0o100644 << 16  # a regular file, rw-r--r--
# A folder, rwxr-xr-x, with MS-DOS's directory bit: an empty one is a member of its own.
DIRECTORY_MODE = 0o40755 << 16 | 0x10

LOCAL_HEADER = struct.Struct("<IHHHHHIIIHH")
CENTRAL_HEADER = struct.Struct("<IHHHHHHIIIHHHHHII")
END_RECORD = struct.Struct("<IHHHHIIH")
ZIP64_END_RECORD = struct.Struct("<IQHHIIQQQQ")
ZIP64_LOCATOR = struct.Struct("<IIQI")


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class Writable(Protocol):
    def write(self, data: bytes, /) -> object: ...


def dos_date_time(date_time: tuple[int, ...]) -> tuple[int, int]:
    """(date, time) in MS-DOS form from (year, month, day, hour, minute, second)."""
    year, month, day, hour, minute, second = date_time[:6]
    if year < 1980:
        year, month, day, hour, minute, second = 1980, 1, 1, 0, 0, 0
    return (year - 1980) << 9 | month << 5 | day, hour << 11 | minute << 5 | second // 2


def zip64_extra(*values: int) -> bytes:
    """The zip64 extended information field (tag 1) holding the given 8-byte values."""
    return struct.pack(f"<HH{len(values)}Q", 1, 8 * len(values), *values)


def local_header(
    name: bytes, method: int, stamp: tuple[int, int], crc: int, size: int, compressed: int
) -> bytes:
    """A member's local file header, with a zip64 field when a size overflows."""
    date, clock = stamp
    zip64 = size >= MAX_32 or compressed >= MAX_32
    extra = zip64_extra(size, compressed) if zip64 else b""
    sizes = (MAX_32, MAX_32) if zip64 else (compressed, size)
    version = VERSION_ZIP64 if zip64 else VERSION
    fields = (version, FLAG_UTF8, method, clock, date, crc, *sizes, len(name), len(extra))
    return LOCAL_HEADER.pack(0x04034B50, *fields) + name + extra


def central_record(
    name: bytes,
    method: int,
    stamp: tuple[int, int],
    crc: int,
    size: int,
    compressed: int,
    offset: int,
    mode: int = FILE_MODE,
) -> bytes:
    """A member's central directory record; fields that overflow move to a zip64 field."""
    date, clock = stamp
    overflowing = [value for value in (size, compressed, offset) if value >= MAX_32]
    extra = zip64_extra(*overflowing) if overflowing else b""
    size, compressed, offset = (min(value, MAX_32) for value in (size, compressed, offset))
    version = VERSION_ZIP64 if overflowing else VERSION
    fields = (MADE_BY, version, FLAG_UTF8, method, clock, date, crc, compressed, size)
    counts = (len(name), len(extra), 0, 0, 0, mode, offset)
    return CENTRAL_HEADER.pack(0x02014B50, *fields, *counts) + name + extra


def end_records(entries: int, directory_size: int, directory_offset: int) -> bytes:
    """The end of central directory record, preceded by the zip64 end record and its
    locator when the member count, the directory's size or its offset overflows."""
    zip64 = entries >= MAX_16 or directory_size >= MAX_32 or directory_offset >= MAX_32
    classic = END_RECORD.pack(
        0x06054B50,
        0,
        0,
        min(entries, MAX_16),
        min(entries, MAX_16),
        min(directory_size, MAX_32),
        min(directory_offset, MAX_32),
        0,
    )
    if not zip64:
        return classic
    zip64_offset = directory_offset + directory_size
    record = ZIP64_END_RECORD.pack(
        0x06064B50,
        ZIP64_END_RECORD.size - 12,  # the size of the rest of the record
        MADE_BY,
        VERSION_ZIP64,
        0,
        0,
        entries,
        entries,
        directory_size,
        directory_offset,
    )
    return record + ZIP64_LOCATOR.pack(0x07064B50, 0, zip64_offset, 1) + classic


class ZipStreamWriter:
    """Writes a zip member after member onto a sink, then the central directory at close.

    ``add``/``add_file``/``close`` write to the sink. Their ``iter_`` forms yield the
    bytes instead, for a caller that is itself a generator (a streamed download); each
    must be run to its end before the next call.
    """

    def __init__(
        self,
        sink: Callable[[bytes], object] | Writable | None = None,
        *,
        date_time: tuple[int, ...] | None = None,
    ) -> None:
        self._sink = sink if sink is None or callable(sink) else sink.write
        self._stamp = dos_date_time(date_time or time.localtime()[:6])
        self._offset = 0
        self._entries = 0
        # Lives as long as the writer: closed by close() or on leaving its context.
        spool = tempfile.SpooledTemporaryFile(DIRECTORY_SPOOL_BYTES)  # noqa: SIM115
        self._directory: IO[bytes] = spool
        self._closed = False

    def __enter__(self) -> ZipStreamWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self._directory.close()

    def add(self, name: str, data: bytes, *, compress: bool = False) -> None:
        """One member whose bytes are in memory: stored as they are, or deflated."""
        self._write(self.iter_add(name, data, compress=compress))

    def add_file(self, name: str, source: Readable, *, compress: bool = False) -> None:
        """One member read from an open file of any size (spooled to disk first)."""
        self._write(self.iter_add_file(name, source, compress=compress))

    def close(self) -> None:
        """The central directory and the end records: the archive's last bytes."""
        self._write(self.iter_close())

    def iter_add(self, name: str, data: bytes, *, compress: bool = False) -> Iterator[bytes]:
        """``add``, yielding the bytes."""
        crc, size = zlib.crc32(data), len(data)
        if compress:
            deflater = _deflater()
            data = deflater.compress(data) + deflater.flush()
        yield self._member_header(name, compress, crc, size, len(data))
        yield data
        self._offset += len(data)

    def iter_add_directory(self, name: str) -> Iterator[bytes]:
        """A folder (``name`` ends with "/"), so that it is made even when nothing is in it."""
        if not name.endswith("/"):
            raise ValueError(f"A folder's name ends with '/': {name!r}.")
        yield self._member_header(name, False, 0, 0, 0, mode=DIRECTORY_MODE)

    def iter_add_file(
        self, name: str, source: Readable, *, compress: bool = False
    ) -> Iterator[bytes]:
        """``add_file``, yielding the bytes in chunks."""
        crc = size = 0
        deflater = _deflater() if compress else None
        with tempfile.TemporaryFile() as spool:
            while chunk := source.read(CHUNK):
                crc, size = zlib.crc32(chunk, crc), size + len(chunk)
                spool.write(deflater.compress(chunk) if deflater else chunk)
            if deflater:
                spool.write(deflater.flush())
            compressed = spool.tell()
            spool.seek(0)
            yield self._member_header(name, compress, crc, size, compressed)
            while chunk := spool.read(CHUNK):
                self._offset += len(chunk)
                yield chunk

    def iter_close(self) -> Iterator[bytes]:
        """``close``, yielding the directory in chunks."""
        if self._closed:
            return
        self._closed = True
        with self._directory:
            directory_size = self._directory.tell()
            self._directory.seek(0)
            while chunk := self._directory.read(CHUNK):
                yield chunk
        yield end_records(self._entries, directory_size, self._offset)

    def _member_header(
        self, name: str, compress: bool, crc: int, size: int, compressed: int, mode: int = FILE_MODE
    ) -> bytes:
        """The local header; the member's directory record is filed as it is written."""
        if self._closed:
            raise ValueError("The zip is already closed.")
        encoded, method = name.encode(), DEFLATED if compress else STORED
        header = local_header(encoded, method, self._stamp, crc, size, compressed)
        record = central_record(
            encoded, method, self._stamp, crc, size, compressed, self._offset, mode
        )
        self._directory.write(record)
        self._entries += 1
        self._offset += len(header)
        return header

    def _write(self, chunks: Iterator[bytes]) -> None:
        if self._sink is None:
            raise TypeError("This writer has no sink: iterate its iter_ methods instead.")
        for chunk in chunks:
            self._sink(chunk)


def _deflater() -> zlib._Compress:
    """Raw deflate (no zlib header), at zipfile's default level."""
    return zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -15)
