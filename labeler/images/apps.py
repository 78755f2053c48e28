from django.apps import AppConfig
from django.conf import settings


class ImagesConfig(AppConfig):
    name = "labeler.images"
    label = "images"

    def ready(self) -> None:
        from PIL import Image

        # Pillow warns above this many pixels and refuses twice as many; we reject
        # anything above it before decoding (see files.image_check).
        Image.MAX_IMAGE_PIXELS = settings.LABELER_MAX_IMAGE_PIXELS
