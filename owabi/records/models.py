"""Leaked records as imported. All PII sits in `sealed` (encrypted); lookups use blind indexes."""

from __future__ import annotations

from django.db import models

from owabi.core.fields import SealedJSONField


class SourceFile(models.Model):
    """One import of one export file; its sha256 makes a second import of the same file a no-op."""

    incident = models.ForeignKey("incidents.Incident", on_delete=models.PROTECT, related_name="source_files")
    source = models.CharField(max_length=100, help_text="Which system the export came from")
    file_name = models.CharField(max_length=255)
    sha256 = models.CharField(max_length=64)
    encoding = models.CharField(max_length=20, blank=True)
    mapping = models.JSONField(default=dict, blank=True, help_text="Input column -> standard column")
    rows_in = models.PositiveIntegerField(default=0)
    rows_ok = models.PositiveIntegerField(default=0)
    rows_rejected = models.PositiveIntegerField(default=0)
    imported_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["incident", "sha256"], name="records_sourcefile_once_per_incident"
            )
        ]

    def __str__(self) -> str:
        return f"{self.source}:{self.file_name}"


class LeakRecord(models.Model):
    """One leaked row. `sealed` holds the normalized PII; `categories` the leaked item codes (not PII)."""

    incident = models.ForeignKey("incidents.Incident", on_delete=models.PROTECT, related_name="records")
    source_file = models.ForeignKey(SourceFile, on_delete=models.PROTECT, related_name="records")
    record_id = models.CharField(max_length=100, help_text="The record's id as given in the export")
    line_no = models.PositiveIntegerField()
    sealed = SealedJSONField()
    categories = models.JSONField(default=list)
    # Blind indexes (owabi.core.crypto.blind_index) for the support console and the portal lookup.
    bx_name_phone = models.BinaryField(max_length=16, default=b"", db_index=True)
    bx_name_card = models.BinaryField(max_length=16, default=b"", db_index=True)
    bx_email = models.BinaryField(max_length=16, default=b"", db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["source_file", "record_id"], name="records_leakrecord_unique_id_per_file"
            )
        ]

    def __str__(self) -> str:
        return f"record {self.record_id}"
