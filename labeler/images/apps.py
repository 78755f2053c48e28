from django.apps import AppConfig
from django.conf import settings
from django.db.backends.signals import connection_created

from labeler.images.catalogue.text_case import sqlite_upper_install
from labeler.images.pixels import runtime_settings
from labeler.projects import settings_registry


class ImagesConfig(AppConfig):
    name = "labeler.images"
    label = "images"

    def ready(self) -> None:
        import pillow_heif
        from PIL import Image

        # The declarations name this layer's models: read once models are loaded.
        from labeler.images.project_settings import SETTINGS

        settings_registry.register(SETTINGS)

        # HEIC/HEIF, phones' default format: Pillow opens it through pillow-heif.
        pillow_heif.register_heif_opener()
        # Pillow warns above this many pixels and refuses twice as many; we reject
        # anything above it before decoding (see files.image_check).
        Image.MAX_IMAGE_PIXELS = settings.LABELER_MAX_IMAGE_PIXELS
        # Decoding and the model-input cache read their settings without importing
        # Django (worker/ml uses them too): in this process, from Django's settings.
        runtime_settings.settings_reader_set(lambda name: getattr(settings, name))
        # Case-blind comparisons alike on both databases (labeler.images.catalogue.text_case).
        connection_created.connect(sqlite_upper_install, dispatch_uid="labeler-sqlite-upper")
