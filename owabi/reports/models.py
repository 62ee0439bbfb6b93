"""Regulator reporting: whether an incident must be reported (and under which situations), and the
reports themselves, each saved version kept. Counts, category codes and staff-written text only: no
value from any leaked record is stored here."""

from __future__ import annotations

from django.db import models

SITUATIONS = ("sensitive", "financial", "malicious", "many_people")


class Assessment(models.Model):
    """One person's judgement of 施行規則第7条 for an incident: which of the four situations apply, the
    facts owabi derived for each, whether the 高度な暗号化 exemption holds, and the conclusion. Never
    edited: a new judgement is a new row, and the latest one counts."""

    incident = models.ForeignKey("incidents.Incident", on_delete=models.PROTECT, related_name="+")
    sensitive = models.BooleanField(help_text="第1号: 要配慮個人情報 included")
    financial = models.BooleanField(
        help_text="第2号: misuse may cause financial harm (card data, credentials)"
    )
    malicious = models.BooleanField(
        help_text="第3号: may have been done with a wrongful purpose (attack, insider)"
    )
    many_people = models.BooleanField(help_text="第4号: more than the threshold of people (1,000)")
    # Per situation: what owabi derived from the data ({"derived": bool, "basis": {...}}) and the
    # person's note, required where they decided otherwise.
    facts = models.JSONField(default=dict)
    encrypted = models.BooleanField(default=False, help_text="高度な暗号化 at the time of the leak")
    key_safe = models.BooleanField(
        default=False, help_text="The means to decrypt did not leak and is well kept"
    )
    exemption_note = models.TextField(blank=True)
    regimes = models.JSONField(default=list, help_text="Regimes whose clocks run (regimes.toml keys)")
    aware_at = models.DateTimeField(
        null=True, blank=True, help_text="The moment of awareness, for hour clocks"
    )
    reportable = models.BooleanField()
    confirmed_by = models.CharField(max_length=150)
    confirmed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-confirmed_at", "-pk"]

    def __str__(self) -> str:
        return f"assessment {self.pk} of incident {self.incident_id}"

    @property
    def situations(self) -> list[str]:
        return [name for name in SITUATIONS if getattr(self, name)]

    @property
    def exempt(self) -> bool:
        return self.encrypted and self.key_safe


class Report(models.Model):
    """One report to a regulator for an incident at one stage (APPI: 速報, 確報)."""

    class Stage(models.TextChoices):
        PRELIMINARY = "preliminary", "速報 / Preliminary"
        FINAL = "final", "確報 / Final"

    incident = models.ForeignKey("incidents.Incident", on_delete=models.PROTECT, related_name="+")
    regime = models.CharField(max_length=20, default="appi")
    stage = models.CharField(max_length=20, choices=Stage.choices)
    submitted_on = models.DateField(null=True, blank=True)
    submitted_by = models.CharField(max_length=150, blank=True)
    submitted_version = models.ForeignKey(
        "ReportVersion", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["incident", "regime", "stage"], name="reports_report_one_per_stage"
            )
        ]

    def __str__(self) -> str:
        return f"{self.regime} {self.stage} report of incident {self.incident_id}"


class ReportVersion(models.Model):
    """One saved version of a report: the staff-written texts and the figures as of `as_of`. Never
    edited: each save is a new version, numbered from 1."""

    report = models.ForeignKey(Report, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField()
    texts = models.JSONField(default=dict)
    figures = models.JSONField(default=dict)  # key -> count, as counted at `as_of`
    as_of = models.DateTimeField()
    saved_by = models.CharField(max_length=150)
    saved_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["report", "number"], name="reports_version_number_unique")
        ]
        ordering = ["report", "-number"]

    def __str__(self) -> str:
        return f"version {self.number} of report {self.report_id}"


class AnnouncementVersion(models.Model):
    """One saved version of the incident's public announcement (公表): the text the portal's public page
    shows once it is published. Never edited, except to record its publication; checked before it is
    kept and again before it is published to hold no value from the incident's records
    (owabi.reports.personal_data). The page shows the version published last."""

    incident = models.ForeignKey("incidents.Incident", on_delete=models.PROTECT, related_name="+")
    number = models.PositiveIntegerField()
    title = models.CharField(max_length=200)
    body = models.TextField()
    body_en = models.TextField(blank=True, help_text="English text, shown on the English page if given")
    saved_by = models.CharField(max_length=150)
    saved_at = models.DateTimeField(auto_now_add=True)
    published_at = models.DateTimeField(null=True, blank=True)
    published_by = models.CharField(max_length=150, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["incident", "number"], name="reports_announcement_number_unique")
        ]
        ordering = ["incident", "-number"]

    def __str__(self) -> str:
        return f"announcement version {self.number} of incident {self.incident_id}"
