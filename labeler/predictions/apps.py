from django.apps import AppConfig


class PredictionsConfig(AppConfig):
    name = "labeler.predictions"
    label = "predictions"
