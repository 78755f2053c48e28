from django.apps import AppConfig


class ExportsConfig(AppConfig):
    name = "labeler.exports"
    label = "exports"
