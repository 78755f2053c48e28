from django.apps import AppConfig


class ImportsConfig(AppConfig):
    name = "labeler.imports"
    label = "imports"
