from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "owabi.core"
    label = "core"
    verbose_name = "owabi core"
