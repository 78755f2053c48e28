from django.apps import AppConfig

from labeler.projects import settings_registry


class AgreementConfig(AppConfig):
    name = "labeler.agreement"
    label = "agreement"

    def ready(self) -> None:
        # The declarations name this layer's models and services: read once models are loaded.
        from labeler.agreement.project_settings import SETTINGS

        settings_registry.register(SETTINGS)
