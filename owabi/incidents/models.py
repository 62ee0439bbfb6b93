from __future__ import annotations

from django.db import models


class Incident(models.Model):
    """One leak the company is responding to. Holds no PII: these facts go into public notices."""

    class Status(models.TextChoices):
        INVESTIGATING = "investigating", "調査中 / Investigating"
        NOTIFYING = "notifying", "通知中 / Notifying"
        REDRESS = "redress", "補償受付中 / Redress open"
        CLOSED = "closed", "終了 / Closed"

    slug = models.SlugField(max_length=50, unique=True)
    name = models.CharField(max_length=200)
    discovered_on = models.DateField(help_text="知った日: the day any department of the company knew")
    occurred_from = models.DateField(null=True, blank=True)
    occurred_to = models.DateField(null=True, blank=True)
    cause = models.TextField(blank=True)
    malicious = models.BooleanField(
        default=False, help_text="不正の目的 (attack, insider theft): final report due in 60 days, not 30"
    )
    declared_categories = models.JSONField(
        default=list, blank=True, help_text="Category codes leaked for every record (e.g. card_security_code)"
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.INVESTIGATING)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(occurred_from__isnull=True)
                | models.Q(occurred_to__isnull=True)
                | models.Q(occurred_from__lte=models.F("occurred_to")),
                name="incidents_incident_occurred_window_ordered",
            )
        ]

    def __str__(self) -> str:
        return self.slug
