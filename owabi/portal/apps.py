from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "owabi.portal"
    label = "portal"
    verbose_name = "Portal (public pages for affected people)"
