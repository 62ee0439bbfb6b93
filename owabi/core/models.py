"""Core tables: the audit chain, database-backed jobs and rate-limit buckets.

None of these tables ever holds PII: audit rows and jobs carry ids, counts and keyed hashes only.
"""

from __future__ import annotations

from django.db import models


class AuditEvent(models.Model):
    """One append-only, hash-chained audit row. `hash` = HMAC(audit key, prev_hash + canonical row)."""

    seq = models.BigIntegerField(unique=True)
    at = models.DateTimeField()
    actor = models.CharField(max_length=100)
    action = models.CharField(max_length=100, db_index=True)
    object_type = models.CharField(max_length=50, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    reason = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    class Meta:
        ordering = ["seq"]
        # "What happened to this object": the support timeline reads a person's sign-ins by notice id.
        indexes = [models.Index(fields=["object_type", "object_id"], name="core_audit_object_idx")]

    def __str__(self) -> str:
        return f"#{self.seq} {self.action} {self.object_type}:{self.object_id}"


class AuditHead(models.Model):
    """The single row naming the chain's last event; appends lock it, so the chain never forks."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    seq = models.BigIntegerField(default=0)
    hash = models.CharField(max_length=64, default="")
    mac = models.CharField(max_length=64, default="")

    def __str__(self) -> str:
        return f"audit head #{self.seq}"


class Job(models.Model):
    """Background work, claimed by a worker under a lease; (kind, key) makes enqueueing idempotent."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"

    kind = models.CharField(max_length=100)
    key = models.CharField(max_length=200)
    payload = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    attempts = models.PositiveIntegerField(default=0)
    max_attempts = models.PositiveIntegerField(default=5)
    run_after = models.DateTimeField()
    locked_by = models.CharField(max_length=100, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    result = models.JSONField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["kind", "key"], name="core_job_kind_key_unique")]
        indexes = [models.Index(fields=["status", "run_after"], name="core_job_ready")]

    def __str__(self) -> str:
        return f"job {self.pk} {self.kind}:{self.key} {self.status}"


class RateLimitBucket(models.Model):
    """Fixed-window counter. `key` is a keyed hash of policy + subject, never the subject itself."""

    key = models.CharField(max_length=64)
    window_start = models.BigIntegerField()
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["key", "window_start"], name="core_ratelimit_key_window_unique")
        ]

    def __str__(self) -> str:
        return f"bucket {self.key[:8]}@{self.window_start}={self.count}"


class ApiToken(models.Model):
    """A credential for the JSON API (owabi.api), bound to one incident and a set of operations.

    Only the token's SHA-256 is stored: the token is 256 random bits, so a plain hash cannot be turned
    back by guessing, and a stolen table opens nothing. The token itself is shown once, at creation.
    It lives in core (beside the audit chain) because the API app owns no models (docs/decisions.md)."""

    incident = models.ForeignKey("incidents.Incident", on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=100)
    scopes = models.JSONField(default=list)
    digest = models.CharField(max_length=64, unique=True)
    created_by = models.CharField(max_length=100)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["incident", "name"], name="core_apitoken_incident_name_unique")
        ]

    def __str__(self) -> str:
        return f"api token {self.pk} {self.name}"
