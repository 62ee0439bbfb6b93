from django.apps import AppConfig


class IncidentsConfig(AppConfig):
    name = "owabi.incidents"
    label = "incidents"
