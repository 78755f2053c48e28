"""Uploaded files: in memory while the request's budget lasts, in temporary files past it."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadhandler import StopFutureHandlers
from django.http.multipartparser import MultiPartParser
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart

from labeler.images.upload_handler import SpooledUploadHandler


def on_disk(upload) -> bool:
    return not isinstance(upload.file, io.BytesIO)


def parsed(settings, budget: int, contents: list[bytes]) -> list:
    settings.LABELER_UPLOAD_MEMORY_BYTES = budget
    files = [io.BytesIO(content) for content in contents]
    for number, file in enumerate(files):
        file.name = f"f{number}.bin"
    body = encode_multipart(BOUNDARY, {"files": files})
    meta = {"CONTENT_TYPE": MULTIPART_CONTENT, "CONTENT_LENGTH": str(len(body))}
    _, uploaded = MultiPartParser(meta, io.BytesIO(body), [SpooledUploadHandler()]).parse()
    return uploaded.getlist("files")


def test_files_within_the_budget_stay_in_memory_and_the_rest_spill(settings):
    contents = [bytes([n]) * 1000 for n in range(4)]

    uploads = parsed(settings, 2_500, contents)

    assert [u.read() for u in uploads] == contents
    assert [u.size for u in uploads] == [1000] * 4
    assert [u.name for u in uploads] == ["f0.bin", "f1.bin", "f2.bin", "f3.bin"]
    # Two files fit; the third rolls over part way; a file on disk takes nothing of the
    # budget, but only 500 bytes are left: the fourth rolls over too.
    assert [on_disk(u) for u in uploads] == [False, False, True, True]


def test_a_file_spilled_to_disk_leaves_the_budget_to_those_after_it(settings):
    uploads = parsed(settings, 1_500, [b"a" * 2000, b"b" * 1000])

    assert [on_disk(u) for u in uploads] == [True, False]
    assert uploads[1].read() == b"b" * 1000


def test_the_handler_takes_every_file_alone(settings):
    with pytest.raises(StopFutureHandlers):  # else later handlers would see the file too
        SpooledUploadHandler().new_file("files", "a.png", "image/png", None)
