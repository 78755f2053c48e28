from django.apps import AppConfig

from labeler.projects import settings_registry


class MonitoringConfig(AppConfig):
    name = "labeler.monitoring"
    label = "monitoring"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # The declarations are read once models are loaded, as the other layers' are.
        from labeler.monitoring.project_settings import SETTINGS

        settings_registry.register(SETTINGS)
