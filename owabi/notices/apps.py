from django.apps import AppConfig


class NoticesConfig(AppConfig):
    name = "owabi.notices"
    label = "notices"
