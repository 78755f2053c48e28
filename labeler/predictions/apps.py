from django.apps import AppConfig

from labeler.projects import settings_registry


class PredictionsConfig(AppConfig):
    name = "labeler.predictions"
    label = "predictions"

    def ready(self) -> None:
        # The declarations name this layer's models and services: read once models are loaded.
        from labeler.predictions.project_settings import SETTINGS

        settings_registry.register(SETTINGS)
