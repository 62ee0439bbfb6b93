from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "owabi.api"
    label = "api"
    verbose_name = "JSON API for the company's other systems"
