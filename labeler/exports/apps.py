from django.apps import AppConfig

from labeler.projects import settings_registry


class ExportsConfig(AppConfig):
    name = "labeler.exports"
    label = "exports"

    def ready(self) -> None:
        # The declarations name this layer's models and services: read once models are loaded.
        from labeler.exports.project_settings import SETTINGS

        settings_registry.register(SETTINGS)
