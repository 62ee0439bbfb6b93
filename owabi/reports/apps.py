from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "owabi.reports"
    label = "reports"
    verbose_name = "Reports (dashboard figures, regulator reports)"
