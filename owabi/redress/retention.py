"""Retention: at the end of the response, crypto-shred an incident's personal data and keep a minimal
legal-hold record (docs/operations.md, "Retention").

owabi has one key ring for every incident (docs/decisions.md), so no per-incident key can be destroyed:
instead every sealed value of the incident is overwritten (with the erased marker, which holds no
ciphertext and opens as an empty value, or NULL where the column allows it), and every keyed hash that
could find a person again is cleared: lookup keys, choice keys, payee fingerprints, claim client
hashes, the lookup keys queued by "am I affected?", and the other systems' record ids (some are keyed
hashes of card numbers). What stays is the legal-hold record: the rows' skeleton (notices with their
codes, channels, statuses and dates; requests, claims and payouts with their references, kinds,
statuses, amounts and dates), the audit log (ids only, never PII), and one `LegalHold` row with the
counts and dates, written with its audit event.

The columns come from `owabi.core.keys.sealed_columns()`, so a sealed column added later is shredded
too; one whose table has no way to its incident stops retention (`RetentionError`) rather than being
skipped.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, models, transaction
from django.db.models import Max, Min, Sum
from django.db.models.functions import Concat
from django.utils import timezone

from owabi.core import audit, crypto, keys
from owabi.core.fields import SealedBlob, SealedBytesField
from owabi.core.models import ApiToken, Job
from owabi.incidents.models import Incident
from owabi.notices.models import Notice
from owabi.records.models import LeakRecord, LookupKey, Recipient, SourceFile, Subject
from owabi.records.resolve import discard_checkpoints
from owabi.redress import affected
from owabi.redress.models import (
    Choice,
    ChoiceKey,
    Claim,
    GiftCode,
    LegalHold,
    Payee,
    Payout,
    PayoutBatch,
    Request,
)

ERASED_ID = "erased-"  # record ids become erased-<row id>: unique per file, like the ids they replace


class RetentionError(Exception):
    """Why retention will not run, one line for the operator; never PII."""


@dataclass
class Plan:
    """What retention will do to one incident, all counts (the dry run prints it)."""

    sealed: dict[str, int] = field(default_factory=dict)  # "app.Model.column" -> rows to overwrite
    hashes: dict[str, int] = field(default_factory=dict)  # "app.Model.column" -> values to clear
    blockers: list[str] = field(default_factory=list)  # work still open: retention refuses
    warnings: list[str] = field(default_factory=list)
    hold: LegalHold | None = None  # an earlier run's record


def _incident_path(model: type[models.Model]) -> str:
    """The lookup from a sealed table to its incident: its own `incident`, or through one relation."""
    names = {f.name: f for f in model._meta.concrete_fields}
    incident = names.get("incident")
    if incident is not None and incident.related_model is Incident:
        return "incident"
    for relation in model._meta.concrete_fields:
        target = relation.related_model if relation.many_to_one or relation.one_to_one else None
        if isinstance(target, type) and issubclass(target, models.Model):
            inner = {f.name: f for f in target._meta.concrete_fields}.get("incident")
            if inner is not None and inner.related_model is Incident:
                return f"{relation.name}__incident"
    raise RetentionError(
        f"{model._meta.label}: a sealed column with no way to its incident; retention cannot tell whose "
        "it is (add an incident link before running retention)"
    )


def _sealed(incident: Incident) -> list[tuple[str, models.QuerySet[Any], SealedBytesField]]:
    out = []
    for model, column in keys.sealed_columns():
        rows = model._default_manager.filter(**{_incident_path(model): incident})
        out.append((f"{model._meta.label}.{column.name}", rows, column))
    return out


def _affected_jobs(incident: Incident) -> models.QuerySet[Job]:
    """Queued "am I affected?" searches of the incident: their payloads hold lookup keys."""
    return Job.objects.filter(kind=affected.KIND, payload__incident=incident.pk).exclude(
        payload={"incident": incident.pk}
    )


def _hashes(incident: Incident) -> dict[str, models.QuerySet[Any]]:
    """Each keyed hash (blind index) of the incident, as the rows that still hold one."""
    records = LeakRecord.objects.filter(incident=incident)
    return {
        "records.LookupKey.key": LookupKey.objects.filter(record__incident=incident),
        "records.LeakRecord.record_id": records.exclude(record_id__startswith=ERASED_ID),
        "redress.ChoiceKey.digest": ChoiceKey.objects.filter(incident=incident),
        "redress.Payee.fingerprint": Payee.objects.filter(incident=incident).exclude(fingerprint=""),
        "redress.Payout.payee_fingerprint": Payout.objects.filter(batch__incident=incident).exclude(
            payee_fingerprint=""
        ),
        "redress.Claim.client": Claim.objects.filter(incident=incident).exclude(client=""),
        "core.Job.payload (am I affected?)": _affected_jobs(incident),
    }


def plan(incident: Incident) -> Plan:
    """Count what retention would overwrite and clear, and what stops it. Reads counts only."""
    result = Plan(hold=LegalHold.objects.filter(incident=incident).first())
    for label, rows, column in _sealed(incident):
        result.sealed[label] = rows.filter(**{f"{column.name}__isnull": False}).count()
    result.hashes = {label: rows.count() for label, rows in _hashes(incident).items()}
    live = PayoutBatch.objects.filter(incident=incident, status__in=["draft", "approved", "exported"])
    for batch in live.order_by("pk"):
        result.blockers.append(
            f"payout batch {batch.reference} is {batch.status}: settle or cancel it first "
            "(its bank accounts are still needed)"
        )
    open_requests = Request.objects.filter(incident=incident, status__in=["open", "in_progress"]).count()
    if open_requests:
        result.blockers.append(f"{open_requests} requests are not finished: finish or decline them first")
    reviewing = Claim.objects.filter(
        incident=incident, status__in=["submitted", "info_requested", "recommended"]
    ).count()
    if reviewing:
        result.warnings.append(f"{reviewing} claims are still under review: their evidence goes too")
    unused = GiftCode.objects.filter(option__incident=incident, choice__isnull=True).count()
    if unused:
        result.warnings.append(
            f"{unused} gift codes were never handed out: they are destroyed too (return them to the "
            "provider first)"
        )
    return result


def _summary(incident: Incident) -> dict[str, Any]:
    """The legal-hold record: counts and dates, no person. Taken before anything is overwritten."""
    notices = Notice.objects.filter(incident=incident)
    sent = notices.aggregate(first=Min("sent_at"), last=Max("sent_at"), prepared=Min("prepared_at"))
    by_channel: Counter[str] = Counter()
    for channel, status, reminder in notices.values_list("channel", "status", "reminder_of"):
        by_channel[f"{'reminder' if reminder else 'notice'}:{channel}:{status}"] += 1
    requests: Counter[str] = Counter(
        f"{kind}:{status}"
        for kind, status in Request.objects.filter(incident=incident).values_list("kind", "status")
    )
    claims = Claim.objects.filter(incident=incident)
    paid = Payout.objects.filter(batch__incident=incident, status="paid").aggregate(yen=Sum("amount_yen"))
    choices: Counter[str] = Counter(
        f"{key}:{status}"
        for key, status in Choice.objects.filter(incident=incident).values_list("option__key", "status")
    )

    def day(value: Any) -> str | None:
        return timezone.localtime(value).date().isoformat() if value else None

    return {
        "incident": {"slug": incident.slug, "discovered_on": incident.discovered_on.isoformat()},
        "sources": [
            {"source": source, "sha256": sha, "rows_ok": ok, "imported_on": day(at)}
            for source, sha, ok, at in SourceFile.objects.filter(incident=incident)
            .order_by("pk")
            .values_list("source", "sha256", "rows_ok", "imported_at")
        ],
        "records": LeakRecord.objects.filter(incident=incident).count(),
        "subjects": Subject.objects.filter(incident=incident).count(),
        "recipients": Recipient.objects.filter(incident=incident).count(),
        "notices": dict(sorted(by_channel.items())),
        "notices_prepared_on": day(sent["prepared"]),
        "notices_first_sent_on": day(sent["first"]),
        "notices_last_sent_on": day(sent["last"]),
        "requests": dict(sorted(requests.items())),
        "choices": dict(sorted(choices.items())),
        "claims": dict(sorted(Counter(claims.values_list("status", flat=True)).items())),
        "paid_yen": paid["yen"] or 0,
    }


def _overwrite(rows: models.QuerySet[Any], column: SealedBytesField) -> int:
    """Replace the column's sealed values with the erased marker, or NULL where the column allows."""
    if column.null:
        return rows.filter(**{f"{column.name}__isnull": False}).update(**{column.name: None})
    return rows.update(**{column.name: SealedBlob(crypto.ERASED)})


def _delete_lookup_keys(incident: Incident) -> int:
    """One statement over the narrow table (its primary key is (key, record): no ORM delete by pk)."""
    table, records = LookupKey._meta.db_table, LeakRecord._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {table} WHERE record_id IN (SELECT id FROM {records} WHERE incident_id = %s)",  # noqa: S608
            [incident.pk],
        )
        return max(cursor.rowcount, 0)


def _clear_hashes(incident: Incident) -> dict[str, int]:
    found = _hashes(incident)
    done = {
        "records.LookupKey.key": _delete_lookup_keys(incident),
        "records.LeakRecord.record_id": found["records.LeakRecord.record_id"].update(
            record_id=Concat(models.Value(ERASED_ID), models.F("pk"), output_field=models.CharField())
        ),
        "redress.ChoiceKey.digest": found["redress.ChoiceKey.digest"]._raw_delete(connection.alias),
        "redress.Payee.fingerprint": found["redress.Payee.fingerprint"].update(fingerprint=""),
        "redress.Payout.payee_fingerprint": found["redress.Payout.payee_fingerprint"].update(
            payee_fingerprint=""
        ),
        "redress.Claim.client": found["redress.Claim.client"].update(client=""),
        "core.Job.payload (am I affected?)": found["core.Job.payload (am I affected?)"].update(
            payload={"incident": incident.pk}
        ),
    }
    return done


def shred(*, incident: Incident, actor: str) -> LegalHold:
    """Overwrite every sealed value of the incident and clear its keyed hashes, in one transaction,
    and keep the legal-hold record. Refuses while work is open (see `plan`). Running it again is
    harmless: it overwrites whatever sealed value is there (nothing personal is left to find), keeps the
    first run's record and counts the run."""
    found = plan(incident)
    if found.blockers:
        raise RetentionError(f"incident {incident.slug}: {found.blockers[0]}")
    now = timezone.now()
    # What a stopped resolve left (record positions, probabilities, the model: no value) goes first;
    # a resolve can make it again, so a shred that fails after this loses nothing.
    checkpoints = discard_checkpoints(incident)
    with transaction.atomic():
        if connection.vendor == "sqlite":  # freed pages are zeroed, not left holding old blobs
            with connection.cursor() as cursor:
                cursor.execute("PRAGMA secure_delete = ON")
        hold = LegalHold.objects.select_for_update().filter(incident=incident).first()
        summary = _summary(incident) if hold is None else hold.summary
        overwritten = {label: _overwrite(rows, column) for label, rows, column in _sealed(incident)}
        cleared = _clear_hashes(incident)
        if hold is None:
            hold = LegalHold.objects.create(
                incident=incident,
                summary=summary,
                done={"overwritten": overwritten, "cleared": cleared},
                shredded_at=now,
                shredded_by=actor,
                last_run_at=now,
            )
        else:
            hold.runs += 1
            hold.last_run_at = now
            hold.save(update_fields=["runs", "last_run_at"])
        Incident.objects.filter(pk=incident.pk).update(status=Incident.Status.CLOSED)
        # The other systems' API tokens for the incident stop working: there is nothing left to serve.
        revoked = ApiToken.objects.filter(incident=incident, revoked_at__isnull=True).update(revoked_at=now)
        audit.record(
            actor=actor,
            action="retention.shred",
            object_type="incident",
            object_id=incident.pk,
            data={
                "run": hold.runs,
                "resolve_checkpoints_deleted": checkpoints,
                "overwritten": overwritten,
                "cleared": cleared,
                "api_tokens_revoked": revoked,
                "records": summary["records"],
                "notices": sum(summary["notices"].values()),
            },
        )
    return hold
