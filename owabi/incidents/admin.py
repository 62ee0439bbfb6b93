from django.contrib import admin

from owabi.incidents.models import Incident


@admin.register(Incident)
class IncidentAdmin(admin.ModelAdmin):
    list_display = ["slug", "name", "discovered_on", "malicious", "status"]
    readonly_fields = ["created_at"]
