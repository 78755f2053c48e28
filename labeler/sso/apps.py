from django.apps import AppConfig


class SsoConfig(AppConfig):
    name = "labeler.sso"
    label = "sso"
    verbose_name = "Single sign-on"
