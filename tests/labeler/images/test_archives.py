"""Uploaded archives: what archive_members yields, and what it refuses."""

from __future__ import annotations

import io
import re
import zipfile

import pytest

from labeler.images.archives import archive_members
from labeler.images.pixels.files import RejectedFile
from tests.factories import image_bytes
from tests.labeler.images import samples


def members_of(data: bytes) -> dict[str, str | bytes]:
    """Each member's bytes, or its reason when it was refused."""
    return {
        m.name: m.data if m.data is not None else m.reason
        for m in archive_members(io.BytesIO(data))
    }


def test_archive_yields_its_files_and_skips_folders():
    """Members come out with their bytes under their names; folder entries are skipped."""
    one, two = image_bytes(), image_bytes("JPEG")
    data = samples.zip_of({"batch/": b"", "batch/one.png": one, "two.jpg": two})

    assert members_of(data) == {"batch/one.png": one, "two.jpg": two}


@pytest.mark.parametrize(
    "name", ["../evil.png", "batch/../../evil.png", "..\\evil.png", "/abs.png", "\\abs.png",
             "C:\\x.png", "C:/x.png", "C:x.png"],
)  # fmt: skip
def test_unsafe_paths_are_refused(name):
    """Entries that climb out of or start outside the archive are refused, never read."""
    data = samples.zip_of({name: image_bytes()})

    assert members_of(data) == {
        name: "Unsafe path in archive (absolute or with '..'); entry skipped."
    }


@pytest.mark.parametrize(
    "name", ["__MACOSX/._a.png", "__MACOSX/batch/a.png", ".DS_Store", "batch/._a.png"]
)
def test_metadata_and_dotfiles_are_refused(name):
    """macOS resource forks and dotfiles are refused as metadata."""
    data = samples.zip_of({name: image_bytes()})

    assert members_of(data) == {name: "Hidden or system metadata file; entry skipped."}


def test_nested_archive_is_not_unpacked():
    """A zip inside the zip is refused, not opened."""
    data = samples.zip_of({"inner.ZIP": samples.zip_of({"a.png": image_bytes()})})

    assert members_of(data) == {"inner.ZIP": "Archives inside archives are not unpacked."}


def test_zip_bomb_entry_is_refused_from_its_header():
    """50 MB of zeros in 50 KB is refused for its compression ratio, without inflating it."""
    reason = members_of(samples.zip_bomb())["zeros.png"]

    assert re.fullmatch(r"Compression ratio \d+:1 looks like a zip bomb; entry skipped\.", reason)


def test_entry_whose_header_understates_its_size_is_refused():
    """A header claiming 1,000 bytes for 50 MB yields a checksum error, not 50 MB."""
    reason = members_of(samples.zip_lying_about_size(1000))["zeros.png"]

    assert reason == "Entry cannot be read from the archive: Bad CRC-32 for file 'zeros.png'"


def test_entry_inflates_no_further_than_its_header_says():
    """Even with a forged checksum, an entry yields at most the size its header claims."""
    data = members_of(samples.zip_lying_about_size(1000, crc_of_prefix=True))["zeros.png"]

    assert data == bytes(1000)


def test_entry_over_the_image_size_cap_is_refused(settings):
    """An entry whose size is above LABELER_MAX_IMAGE_BYTES is refused unread."""
    settings.LABELER_MAX_IMAGE_BYTES = 100

    reason = members_of(samples.zip_of({"a.png": image_bytes()}))["a.png"]

    assert reason.startswith("File is ") and reason.endswith("bytes; the limit is 100.")


def test_entries_past_the_unpacked_budget_are_refused(settings):
    """Once the archive's files add up to LABELER_MAX_ARCHIVE_UNCOMPRESSED_BYTES, the rest wait."""
    first, second = image_bytes(), image_bytes()
    settings.LABELER_MAX_ARCHIVE_UNCOMPRESSED_BYTES = len(first) + len(second) // 2

    members = members_of(samples.zip_of({"1.png": first, "2.png": second}))

    assert members["1.png"] == first
    assert "add up to more than" in members["2.png"]


@pytest.mark.parametrize(
    "compression", [zipfile.ZIP_DEFLATED, zipfile.ZIP_LZMA], ids=["deflate", "lzma"]
)
def test_entry_with_corrupt_compressed_data_is_refused(compression):
    """Garbage inside a deflate or LZMA stream refuses that entry instead of crashing."""
    reason = members_of(samples.zip_with_corrupt_data(compression))["a.png"]

    assert reason.startswith("Entry cannot be read from the archive:")


def test_encrypted_entry_is_refused():
    """An entry flagged as encrypted is refused: there is no password to ask for."""
    assert members_of(samples.zip_marked_encrypted()) == {
        "a.png": "Encrypted archive entries are not supported."
    }


def test_nameless_entry_is_refused():
    """An entry whose name reads as empty is refused instead of crashing the listing."""
    assert members_of(samples.zip_with_nameless_entry()) == {
        "": "Entry has no file name; entry skipped."
    }


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "Not a readable zip archive"),
        (b"PK\x03\x04 this is not really a zip", "Not a readable zip archive"),
        (samples.truncated(samples.zip_of({"a.png": image_bytes()})), "Not a readable zip archive"),
        (image_bytes(), "Not a readable zip archive"),
        (samples.zip_needing_version(99), "Not a readable zip archive: zip file version 9.9"),
        (samples.zip_of({}), "Archive holds no files."),
        (samples.zip_of({"empty/": b""}), "Archive holds no files."),
    ],
    ids=["empty", "garbage", "truncated", "png", "future-version", "no-entries", "only-folders"],
)
def test_unreadable_or_empty_archive_is_rejected_whole(data, message):
    """An archive that cannot be listed, or lists no files, is one rejection with a reason."""
    with pytest.raises(RejectedFile, match=re.escape(message)):
        list(archive_members(io.BytesIO(data)))


def test_archive_with_too_many_members_is_rejected_whole(settings):
    """Above LABELER_MAX_ARCHIVE_MEMBERS files the archive is refused before any is read."""
    settings.LABELER_MAX_ARCHIVE_MEMBERS = 3
    data = samples.zip_of({f"{i}.png": image_bytes() for i in range(4)})

    with pytest.raises(RejectedFile, match="Archive holds 4 files; the limit is 3"):
        list(archive_members(io.BytesIO(data)))
