from django.apps import AppConfig

from labeler.projects import settings_registry


class AnnotationsConfig(AppConfig):
    name = "labeler.annotations"
    label = "annotations"

    def ready(self) -> None:
        # The declarations name this layer's models and services: read once models are loaded.
        from labeler.annotations.project_settings import SETTINGS

        settings_registry.register(SETTINGS)
