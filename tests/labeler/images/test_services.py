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

    The failure is logged, not raised to the uploader: the image committed before it stays
    whole (its row and its file) and is reported as created.
    """

    def thumbnail_fails(*, image_id: int) -> None:
        raise RuntimeError("thumbnail task failed")

    monkeypatch.setattr(services, "image_make_thumbnail", thumbnail_fails)

    [result] = services.images_ingest(
        project=project, files=[SimpleUploadedFile("a.png", image_bytes())]
    )

    assert result.status == "created"
    image = Image.objects.get()
    assert image.pk == result.image_id
    assert (Path(media_root) / image.file.name).is_file()
    assert not image.thumbnail
