from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "labeler.audit"
    label = "audit"

    def ready(self) -> None:
        from labeler.audit import signals

        signals.connect()
