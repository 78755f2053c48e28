"""Uploaded files held in memory up to a budget per request, on disk past it.

Django keeps a multipart request's files in memory only when the whole request is under
FILE_UPLOAD_MAX_MEMORY_SIZE, and otherwise writes every file of it to a temporary file:
ten 3.5 MB photos in one request went to disk and were read back, which cost more CPU
than hashing them (``bench/photos.py``). Here each file is a SpooledTemporaryFile that
stays in memory while the request's files together are within
``LABELER_UPLOAD_MEMORY_BYTES`` and rolls over to a temporary file past it, so a batch of
photos is parsed in memory while a 2 GB archive still goes to disk.
"""

from __future__ import annotations

import io
import tempfile
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler, StopFutureHandlers
from django.http import HttpRequest


class SpooledUploadHandler(FileUploadHandler):
    """Every file of the request spooled, in memory within the request's budget.

    In memory a file is its chunks, joined once at its end (a growing in-memory file
    copied a photo's 3.5 MB again and again as it grew: 2 ms a photo); past the budget
    they go to a temporary file, and the rest of the file follows them there.
    """

    chunk_size = 1024 * 1024

    def __init__(self, request: HttpRequest | None = None) -> None:
        super().__init__(request)
        self.budget = int(settings.LABELER_UPLOAD_MEMORY_BYTES)
        self.chunks: list[bytes] = []
        self.held = 0  # bytes of this file in chunks
        self.file: Any = None  # the temporary file, once past the budget

    def new_file(self, *args: Any, **kwargs: Any) -> None:
        super().new_file(*args, **kwargs)
        self.chunks, self.held, self.file = [], 0, None
        raise StopFutureHandlers()

    def receive_data_chunk(self, raw_data: bytes, start: int) -> None:
        if self.file is None and self.held + len(raw_data) <= self.budget:
            self.chunks.append(raw_data)
            self.held += len(raw_data)
            return None
        if self.file is None:  # past the budget: to disk with what came before
            self.file = tempfile.TemporaryFile(dir=settings.FILE_UPLOAD_TEMP_DIR)  # noqa: SIM115
            self.file.writelines(self.chunks)
            self.chunks = []
        self.file.write(raw_data)
        return None

    def file_complete(self, file_size: int) -> UploadedFile:
        if self.file is None:  # held in memory: less for the next
            self.budget -= self.held
            content: Any = io.BytesIO(b"".join(self.chunks))
            self.chunks = []
        else:
            content = self.file
            content.seek(0)
        return UploadedFile(
            content, self.file_name or "", self.content_type or "", file_size, self.charset
        )
