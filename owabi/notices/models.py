"""Notices: one per recipient per channel, with its registration code and what it says (sealed)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db import models

from owabi.core.fields import RowBound, SealedJSONField
from owabi.notices import codes

if TYPE_CHECKING:
    from owabi.incidents.models import Incident


class NoticeSetup(models.Model):
    """How an incident's notices go out and what they say beyond each person's own items. No PII: these
    texts are the same for everyone. Edited by the response team; `revision` counts the edits, and each
    notice records the revision it was prepared with."""

    class Policy(models.TextChoices):
        EMAIL_ELSE_LETTER = "email_else_letter", "メール（なければ郵送） / E-mail, else letter"
        LETTER = "letter", "郵送のみ / Letter only"
        BOTH = "both", "メールと郵送 / E-mail and letter"

    incident = models.OneToOneField(
        "incidents.Incident", on_delete=models.PROTECT, related_name="notice_setup"
    )
    policy = models.CharField(max_length=20, choices=Policy.choices, default=Policy.EMAIL_ELSE_LETTER)
    language = models.CharField(max_length=2, choices=[("ja", "日本語"), ("en", "English")], default="ja")
    sender_name = models.CharField(max_length=200, help_text="Company name as signed on the notice")
    sender_address = models.TextField(help_text="Return address printed on letters (〒 and address)")
    sender_email = models.EmailField(help_text="From address of notice e-mails (the official domain)")
    phone = models.CharField(max_length=30, help_text="The one official inquiry number")
    phone_hours = models.CharField(max_length=100)
    portal_url = models.URLField(help_text="The portal's address, typed by hand from the letter")
    redress_deadline = models.DateField(null=True, blank=True)
    # {"ja": {"summary", "cause", "measures", "redress", "representative", "common_risk",
    # "common_advice"}, "en": {…}}: plain text, one per language (owabi.notices.render.TEXT_KEYS).
    texts = models.JSONField(default=dict)
    # Internal source labels (a row's `source`, else its file's) -> the names readers know, per language:
    # {"ja": {"course_2012": "通信講座（2012年度会員）"}}. A notice shows only these names.
    sources = models.JSONField(default=dict, blank=True)
    # Risk and advice per group of data categories (owabi.notices.advice), per language, the built-in
    # texts merged with the team's changes when the setup was loaded: {"ja": {"card": {"title", "risk",
    # "advice"}, …}}. Stored whole so that the revision pins what a notice says.
    advice = models.JSONField(default=dict, blank=True)
    # Per-incident template overrides: {"ja/email.txt": "…"}; missing names use the built-in templates.
    templates = models.JSONField(default=dict, blank=True)
    # Reminder rules (owabi.notices.reminders.Rule), checked when loaded: [{"name", "unless", …}].
    reminders = models.JSONField(default=list, blank=True)
    revision = models.PositiveIntegerField(default=1)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"notice setup of {self.incident_id} (revision {self.revision})"


class Notice(RowBound):
    """One notice to one recipient over one channel. `code` is its public registration code; the login
    key is derived from it (owabi.notices.codes) and never stored. `content` is the snapshot of what it
    says about this recipient's people, sealed: the notice is rendered from it and the setup revision."""

    class Channel(models.TextChoices):
        EMAIL = "email", "メール / E-mail"
        LETTER = "letter", "郵送 / Letter"

    class Status(models.TextChoices):
        PREPARED = "prepared", "準備済 / Prepared"
        SENT = "sent", "送信済 / Sent"
        BOUNCED = "bounced", "不達 / Bounced"
        RETURNED = "returned", "返送 / Returned"
        CANCELLED = "cancelled", "取消 / Cancelled"

    # No index of its own: notices_send_order starts with the incident. Every index here is updated by
    # each mark of a sent e-mail (the status changes), so the table keeps only those it needs.
    incident = models.ForeignKey(
        "incidents.Incident", on_delete=models.PROTECT, related_name="notices", db_index=False
    )
    # SET_NULL: a re-run of resolve may merge a recipient away; the notice, and what it said, stay.
    recipient = models.ForeignKey(
        "records.Recipient", null=True, on_delete=models.SET_NULL, related_name="notices"
    )
    channel = models.CharField(max_length=10, choices=Channel.choices)
    # Unique among first notices (the partial index below, which also serves every lookup by code); a
    # reminder carries the code of the notice it reminds of (same key) and is found through it.
    code = models.CharField(max_length=20)
    # A reminder (owabi.notices.reminders): the first notice it reminds of, and the rule that made it.
    reminder_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="reminders", db_index=False
    )
    rule = models.CharField(max_length=40, blank=True)
    language = models.CharField(max_length=2, default="ja")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PREPARED)
    setup_revision = models.PositiveIntegerField()
    content = SealedJSONField()
    prepared_at = models.DateTimeField(auto_now_add=True)
    status_at = models.DateTimeField(auto_now=True)
    # E-mail sending (owabi.notices.sending): a sender leases the notice, records the hand-over just
    # before the message's content goes to the server (handed_at, message_id), records the server's
    # acceptance (sent_at), and the batch's end marks it sent with its audit event.
    sending_by = models.CharField(max_length=100, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    message_id = models.CharField(max_length=200, blank=True)
    handed_at = models.DateTimeField(null=True, blank=True)  # a hand-over whose outcome is not recorded yet
    sent_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=200, blank=True)  # an error class or SMTP code, never PII
    # The message may have gone out twice: a hand-over ended without the server's reply (its sender was
    # stopped, or the connection was lost after the message). Check the mail provider's log.
    needs_reconciliation = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["code"],
                condition=models.Q(reminder_of__isnull=True),
                name="notices_notice_code_unique",
            ),
            models.UniqueConstraint(
                fields=["recipient", "channel"],
                condition=~models.Q(status="cancelled") & models.Q(reminder_of__isnull=True),
                name="notices_notice_one_live_per_recipient_channel",
            ),
            models.UniqueConstraint(
                fields=["recipient", "rule"],
                condition=~models.Q(status="cancelled") & models.Q(reminder_of__isnull=False),
                name="notices_notice_one_reminder_per_recipient_rule",
            ),
        ]
        # With the id last, a sender's lease (the lowest free ids of a status) reads the index in order
        # and stops after its batch, instead of sorting every prepared notice for each batch.
        indexes = [
            models.Index(fields=["incident", "channel", "status", "id"], name="notices_send_order"),
            # Reminders only: first notices (nearly every row) stay out of it.
            models.Index(
                fields=["reminder_of"],
                condition=models.Q(reminder_of__isnull=False),
                name="notices_reminder_of",
            ),
        ]

    def __str__(self) -> str:
        kind = f"reminder {self.rule}" if self.reminder_of_id else "notice"
        return f"{kind} {self.code} ({self.channel})"


class Engagement(models.Model):
    """What a recipient has done since their notice, as far as reminders care: the portal records it
    (owabi.notices.engagement) and the reminder rules read it. One row per recipient, made on the first
    event; no row means nothing has happened yet. Times only, no PII."""

    recipient = models.OneToOneField(
        "records.Recipient", on_delete=models.CASCADE, related_name="engagement", db_constraint=False
    )
    signed_in_at = models.DateTimeField(null=True, blank=True)  # first sign-in with any of their codes
    redress_chosen_at = models.DateTimeField(null=True, blank=True)  # chose compensation for everyone
    finished_at = models.DateTimeField(null=True, blank=True)  # nothing left to do: no more reminders
    reminders_off_at = models.DateTimeField(null=True, blank=True)  # asked for no reminders
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"engagement of recipient {self.recipient_id}"


class PrepareRun(models.Model):
    """The checkpoint of one `notices prepare` run (owabi.notices.services.prepare): recipients with ids
    below `next_recipient` are done, and the counts so far. Written in the same transaction as each
    window's notices, so a run killed at any moment resumes where its last window ended, with the facts it
    started with (so every notice of the run states the same facts, as an uninterrupted run's would). A
    finished run is kept as the record of what it did. No PII: ids, counts and the incident's facts."""

    incident = models.ForeignKey("incidents.Incident", on_delete=models.PROTECT, related_name="+")
    setup_revision = models.PositiveIntegerField()
    facts = models.JSONField(default=dict)  # owabi.notices.services.facts_of, as of the run's start
    next_recipient = models.BigIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)  # recipients done
    created_email = models.PositiveIntegerField(default=0)
    created_letter = models.PositiveIntegerField(default=0)
    existing = models.PositiveIntegerField(default=0)
    unreachable = models.PositiveIntegerField(default=0)
    resumed = models.PositiveIntegerField(default=0)  # times the run was taken up again after a stop
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["incident"],
                condition=models.Q(finished_at__isnull=True),
                name="notices_prepare_run_one_open_per_incident",
            )
        ]

    def __str__(self) -> str:
        return f"prepare run of {self.incident_id} at recipient {self.next_recipient}"


def new_notice(
    incident: Incident,
    setup: NoticeSetup,
    recipient_id: int,
    channel: str,
    content: dict[str, Any],
    language: str,
) -> Notice:
    """An unsaved notice with a fresh registration code."""
    return Notice(
        incident=incident,
        recipient_id=recipient_id,
        channel=channel,
        code=codes.new_code(),
        language=language,
        setup_revision=setup.revision,
        content=content,
    )
