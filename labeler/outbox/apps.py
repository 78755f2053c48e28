from django.apps import AppConfig


class OutboxConfig(AppConfig):
    name = "labeler.outbox"
    label = "outbox"
