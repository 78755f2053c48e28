"""The streaming zip writer: read back by zipfile, ZIP64 where needed, flat memory."""

from __future__ import annotations

import io
import os
import struct
import tracemalloc
import zipfile

import pytest

from labeler.exports.zipstream import (
    CENTRAL_HEADER,
    END_RECORD,
    ZIP64_END_RECORD,
    ZIP64_LOCATOR,
    ZipStreamWriter,
    central_record,
    dos_date_time,
    end_records,
)


class _Unseekable:
    """A sink with write alone, like a streamed response."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.chunks.append(data)

    def value(self) -> bytes:
        return b"".join(self.chunks)


def _zip(members: dict[str, tuple[bytes, bool]]) -> bytes:
    sink = _Unseekable()
    with ZipStreamWriter(sink, date_time=(2026, 11, 23, 14, 30, 58)) as writer:
        for name, (data, compress) in members.items():
            writer.add(name, data, compress=compress)
    return sink.value()


def test_zipfile_reads_stored_and_deflated_members_byte_for_byte():
    members = {
        "train/cat/1-a.png": (os.urandom(5000), False),
        "train/metadata.csv": (b"file_name,label\n" + b"1-a.png,cat\n" * 500, True),
        "empty.txt": (b"", True),
        "val/ünïcode/2-日本.jpg": (os.urandom(10), False),
    }
    with zipfile.ZipFile(io.BytesIO(_zip(members))) as archive:
        assert archive.testzip() is None
        assert archive.namelist() == list(members)
        for info in archive.infolist():
            data, compress = members[info.filename]
            assert archive.read(info) == data
            assert info.compress_type == (zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED)
            assert info.flag_bits & 0x800  # UTF-8 name
            assert info.date_time == (2026, 11, 23, 14, 30, 58)
            assert info.external_attr >> 16 == 0o100644
    deflated = archive.getinfo("train/metadata.csv")
    assert deflated.compress_size < deflated.file_size


def test_a_callable_sink_and_a_member_read_from_a_file():
    chunks: list[bytes] = []
    text = b"file_name,image_id,label\n" + b"12-photo.jpg,12,cat\n" * 100_000
    with ZipStreamWriter(chunks.append) as writer:
        writer.add_file("train/metadata.csv", io.BytesIO(text), compress=True)
        writer.add_file("raw.bin", io.BytesIO(b"abc"))
    with zipfile.ZipFile(io.BytesIO(b"".join(chunks))) as archive:
        assert archive.testzip() is None
        assert archive.read("train/metadata.csv") == text
        assert archive.read("raw.bin") == b"abc"


def test_the_iter_forms_yield_the_same_archive():
    writer = ZipStreamWriter(date_time=(2026, 11, 23, 14, 30, 58))
    data = b"".join([*writer.iter_add("a.txt", b"hello", compress=True), *writer.iter_close()])
    assert data == _zip({"a.txt": (b"hello", True)})


def test_more_than_65535_members_get_the_zip64_end_record():
    count = 70_000
    sink = _Unseekable()
    with ZipStreamWriter(sink) as writer:
        for n in range(count):
            writer.add(f"{n}", b"x")
    data = sink.value()
    end = END_RECORD.unpack_from(data, len(data) - END_RECORD.size)
    assert end[3:5] == (0xFFFF, 0xFFFF)  # the classic count points at the zip64 record
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        infos = archive.infolist()
        assert len(infos) == count
        assert infos[-1].filename == f"{count - 1}"
        assert archive.read(infos[-1]) == b"x"


def test_a_directory_record_past_4_gib_moves_its_offset_to_a_zip64_field():
    offset = 5 * 1024**3
    record = central_record(b"a.png", 0, dos_date_time((2026, 1, 1, 0, 0, 0)), 7, 10, 10, offset)
    fields = CENTRAL_HEADER.unpack_from(record)
    assert fields[2] == 45  # version needed: zip64
    assert fields[8:10] == (10, 10)  # sizes fit, stay in place
    assert fields[16] == 0xFFFFFFFF
    name_length, extra_length = fields[10], fields[11]
    assert extra_length == 12
    extra = record[CENTRAL_HEADER.size + name_length :]
    assert struct.unpack("<HHQ", extra) == (1, 8, offset)


def test_end_records_past_4_gib_hold_the_zip64_end_record_and_locator():
    directory_offset, directory_size = 6 * 1024**3, 300
    data = end_records(3, directory_size, directory_offset)
    record = ZIP64_END_RECORD.unpack_from(data)
    assert record[0] == 0x06064B50
    assert record[6:] == (3, 3, directory_size, directory_offset)
    locator = ZIP64_LOCATOR.unpack_from(data, ZIP64_END_RECORD.size)
    assert locator == (0x07064B50, 0, directory_offset + directory_size, 1)
    end = END_RECORD.unpack_from(data, ZIP64_END_RECORD.size + ZIP64_LOCATOR.size)
    assert end[3:7] == (3, 3, directory_size, 0xFFFFFFFF)


def test_small_archives_have_the_classic_end_record_alone():
    assert len(end_records(3, 300, 1000)) == END_RECORD.size


def test_memory_stays_flat_however_many_members():
    """Each member's directory record goes to a spooled file, not to a list."""
    writer = ZipStreamWriter(lambda data: None)
    for n in range(5_000):  # past the spool's memory bound: the directory is on disk
        writer.add(f"train/cat/{n}-warm-up.png", b"x" * 100)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for n in range(20_000):
            writer.add(f"train/cat/{n}-photo.png", b"x" * 100)
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    writer.close()
    assert grown < 200 * 1024, grown


def test_an_empty_folder_is_a_member_of_its_own_that_unzips_as_a_folder(tmp_path):
    """A name ending in '/' with no data, marked a directory: zipfile makes the folder."""
    writer = ZipStreamWriter()
    data = b"".join(
        [
            *writer.iter_add_directory("val/cat/"),
            *writer.iter_add("train/cat/1.png", b"png", compress=False),
            *writer.iter_close(),
        ]
    )
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.testzip() is None
        folder = archive.getinfo("val/cat/")
        assert folder.is_dir() and folder.file_size == 0
        assert folder.external_attr >> 16 == 0o40755 and folder.external_attr & 0x10
        archive.extractall(tmp_path)
    assert (tmp_path / "val" / "cat").is_dir() and not any((tmp_path / "val" / "cat").iterdir())


def test_a_folder_is_named_with_a_trailing_slash():
    with pytest.raises(ValueError, match="ends with '/'"):
        list(ZipStreamWriter().iter_add_directory("val/cat"))
