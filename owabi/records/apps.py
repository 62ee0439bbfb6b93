from django.apps import AppConfig


class RecordsConfig(AppConfig):
    name = "owabi.records"
    label = "records"
