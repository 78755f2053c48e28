from django.apps import AppConfig


class DemoConfig(AppConfig):
    name = "labeler.demo"
    label = "demo"
