from django.apps import AppConfig


class ErasureConfig(AppConfig):
    name = "labeler.erasure"
    label = "erasure"
    default_auto_field = "django.db.models.BigAutoField"
