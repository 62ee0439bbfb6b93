from django.apps import AppConfig


class RedressConfig(AppConfig):
    name = "owabi.redress"
    label = "redress"
    verbose_name = "Redress (compensation, requests, claims)"
