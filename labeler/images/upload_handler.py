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

import tempfile
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler, StopFutureHandlers
from django.http import HttpRequest


class SpooledUploadHandler(FileUploadHandler):
    """Every file of the request spooled, in memory within the request's budget."""

    def __init__(self, request: HttpRequest | None = None) -> None:
        super().__init__(request)
        self.budget = int(settings.LABELER_UPLOAD_MEMORY_BYTES)
        self.file: Any = None

    def new_file(self, *args: Any, **kwargs: Any) -> None:
        super().new_file(*args, **kwargs)
        self.file = tempfile.SpooledTemporaryFile(  # noqa: SIM115 - handed to the upload
            max_size=max(self.budget, 1), dir=settings.FILE_UPLOAD_TEMP_DIR
        )
        raise StopFutureHandlers()

    def receive_data_chunk(self, raw_data: bytes, start: int) -> None:
        self.file.write(raw_data)
        return None

    def file_complete(self, file_size: int) -> UploadedFile:
        if not getattr(self.file, "_rolled", True):  # held in memory: less for the next
            self.budget -= file_size
        self.file.seek(0)
        return UploadedFile(
            self.file, self.file_name or "", self.content_type or "", file_size, self.charset
        )
