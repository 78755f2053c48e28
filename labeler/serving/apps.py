from django.apps import AppConfig

from labeler.projects import settings_registry


class ServingConfig(AppConfig):
    name = "labeler.serving"
    label = "serving"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # The declarations are read once models are loaded, as every layer's are.
        from labeler.serving.project_settings import SETTINGS

        settings_registry.register(SETTINGS)
