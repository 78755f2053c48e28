"""manage.py images_render_previews: display copies for images stored before they existed."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from PIL import Image as PILImage

from labeler import flows
from labeler.images.models import Image
from tests.api.test_images import assert_storage_matches_rows
from tests.factories import image_bytes
from tests.labeler.images import samples

pytestmark = pytest.mark.django_db(transaction=True)  # the renders run on threads


def _stored_as_before(project, name: str, data: bytes) -> Image:
    """An image stored and thumbnailed the way it was before display copies existed."""
    [result] = flows.images_ingest(project=project, files=[SimpleUploadedFile(name, data)])
    image = Image.objects.get(pk=result.image_id)
    assert image.thumbnail
    if image.display:
        image.display.storage.delete(image.display.name)
        Image.objects.filter(pk=image.pk).update(display="")
    return Image.objects.get(pk=image.pk)


def test_images_stored_before_display_copies_get_one(project, media_root, settings):
    large = _stored_as_before(project, "large.jpg", samples.jpeg_turned())  # 20 x 40
    small = _stored_as_before(project, "small.png", image_bytes(size=(20, 10)))
    settings.LABELER_DISPLAY_SIZE = 30  # the first is now larger than a page shows
    out = StringIO()

    call_command("images_render_previews", "--threads", "2", stdout=out)

    assert "1 images rendered again, 1 now with a display copy" in out.getvalue()
    large.refresh_from_db()
    assert large.display.name == f"displays/{project.pk}/{large.sha256}.jpg"
    assert PILImage.open(Path(media_root) / large.display.name).size == (15, 30)  # upright
    assert Image.objects.get(pk=small.pk).display.name == ""
    assert_storage_matches_rows(media_root)  # the old thumbnail went with its row's name

    out = StringIO()
    call_command("images_render_previews", stdout=out)  # again: nothing left to do
    assert "0 images rendered again" in out.getvalue()


def test_an_unknown_project_or_no_threads_is_refused():
    with pytest.raises(CommandError, match="Project 999 does not exist"):
        call_command("images_render_previews", "--project", "999")
    with pytest.raises(CommandError, match="--threads must be at least 1"):
        call_command("images_render_previews", "--threads", "0")
