"""Ingest's all-or-nothing per file, where only a committed transaction can show it."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from labeler.images import services
from labeler.images.models import Image
from tests.factories import image_bytes


@pytest.mark.django_db(transaction=True)
def test_failing_follow_up_after_commit_never_deletes_a_stored_image(
    project, media_root, monkeypatch
):
    """In autocommit the thumbnail task runs at commit; if it fails, the row keeps its file.

    The failure still surfaces (tasks run in-process propagate), but the image that was
    committed before it stays whole: its row and its file.
    """

    def thumbnail_fails(*, image_id: int) -> None:
        raise RuntimeError("thumbnail task failed")

    monkeypatch.setattr(services, "image_make_thumbnail", thumbnail_fails)

    with pytest.raises(RuntimeError, match="thumbnail task failed"):
        services.images_ingest(project=project, files=[SimpleUploadedFile("a.png", image_bytes())])

    image = Image.objects.get()
    assert (Path(media_root) / image.file.name).is_file()
