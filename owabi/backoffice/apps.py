from django.apps import AppConfig


class BackofficeConfig(AppConfig):
    name = "owabi.backoffice"
    label = "backoffice"
    verbose_name = "Back office (staff pages)"
