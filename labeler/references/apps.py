from django.apps import AppConfig


class ReferencesConfig(AppConfig):
    name = "labeler.references"
    label = "references"
