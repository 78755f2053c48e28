from django.apps import AppConfig


class AgreementConfig(AppConfig):
    name = "labeler.agreement"
    label = "agreement"
