from django.apps import AppConfig


class IdempotencyConfig(AppConfig):
    name = "labeler.idempotency"
    label = "idempotency"
