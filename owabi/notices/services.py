"""Prepare notices: one per recipient per channel, each with its code and a snapshot of what it says.

The snapshot holds, for the recipient, the name and address or e-mail the notice goes to; for each of
their people (themself, or each child), the name, the leaked items and the names of the services the
records came from (as the setup names them: never an internal label or a file name); each card once
(canonical brand, last 4 digits, whose records held it); and the incident's facts as stated on the day
of prepare (how many people, when it happened and was found). It is sealed like the records it comes
from. Notices are rendered from the snapshot and the incident's NoticeSetup (owabi.notices.render), so
what was said can be shown again exactly.

This module is the notices app's front door for writes: other apps and commands call what it defines
or names below (set up, prepare, send, print, sign in, engagement, reminders opt-out, lockouts), never
the modules behind it.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from django.db import connection, transaction
from django.db.models import Count, Max, Min
from django.utils import timezone

from owabi.core import audit, bulk, rowids
from owabi.core.linebreak import FontMissing
from owabi.incidents.models import Incident
from owabi.incidents.runs import IncidentBusy, changing_people
from owabi.notices import codes, snapshots
from owabi.notices.bounces import MESSAGE_ID, BounceFileError, apply_reports, read_reports
from owabi.notices.bounces import Report as BounceReport
from owabi.notices.engagement import SignInLimited, lift_lockout, reminders_off, sign_in
from owabi.notices.engagement import record as record_engagement
from owabi.notices.ledger import MAX_ATTEMPTS
from owabi.notices.letters import BATCH as LETTER_BATCH
from owabi.notices.letters import LetterTooLong, PrintUnsettled, letter_text, print_letters
from owabi.notices.letters import reference as letter_reference
from owabi.notices.models import Notice, NoticeSetup, PrepareRun, new_notice
from owabi.notices.reminders import RuleError, remind
from owabi.notices.render import render
from owabi.notices.resend import ResendError, resend
from owabi.notices.returned import ReturnedFileError, apply_returned, parse_letter, record_returned
from owabi.notices.sending import SendOptionError, send_email
from owabi.notices.setup import SetupError
from owabi.notices.setup import apply as apply_setup
from owabi.notices.setup import load as load_setup
from owabi.notices.snapshots import content_of, merge_cards
from owabi.records.models import LeakRecord, Recipient, SourceFile, Subject

__all__ = [
    "LETTER_BATCH",
    "MAX_ATTEMPTS",
    "MESSAGE_ID",
    "BounceFileError",
    "BounceReport",
    "FontMissing",
    "IncidentBusy",
    "LetterTooLong",
    "NoticeSetupMissing",
    "PreviewError",
    "PrintUnsettled",
    "ResendError",
    "ReturnedFileError",
    "RuleError",
    "SendOptionError",
    "SetupError",
    "SignInLimited",
    "apply_reports",
    "apply_returned",
    "apply_setup",
    "content_of",
    "facts_of",
    "letter_reference",
    "lift_lockout",
    "load_setup",
    "merge_cards",
    "new_notice",
    "parse_letter",
    "prepare",
    "preview",
    "print_letters",
    "read_reports",
    "record_engagement",
    "record_returned",
    "remind",
    "reminders_off",
    "resend",
    "send_email",
    "sign_in",
]

BATCH = 2000  # recipients per window (one transaction each)
LABELS_BATCH = 20_000  # records per window when reading the labels of rows with their own source
PARALLEL_MIN = 20_000  # recipients; fewer are prepared in-process: forking costs more than it saves

T = TypeVar("T")


class NoticeSetupMissing(Exception):
    """The incident's notices have not been set up (sender, phone, portal, texts)."""


class UnnamedSources(NoticeSetupMissing):
    """Records come from sources the setup gives no reader-facing name for. Refused rather than left
    out: which service a person's data came from is part of what a notice must say (DESIGN.md §2), and
    an internal label is meaningless or misleading to its reader."""


@dataclass
class PrepareResult:
    created: dict[str, int] = field(default_factory=lambda: {"email": 0, "letter": 0})
    existing: int = 0  # recipient/channel pairs that already had a notice
    unreachable: int = 0  # recipients with neither a usable e-mail address nor a postal address
    resumed: int = 0  # times the run was taken up again after it stopped (owabi.notices.models.PrepareRun)


def prepare(
    *,
    incident: Incident,
    actor: str,
    progress: Callable[[int, int], None] | None = None,
    workers: int | None = None,
    window: int | None = None,
) -> PrepareResult:
    """Create the notices that do not exist yet. Re-running creates nothing twice; a recipient added by
    a later import and resolve gets its notice on the next run.

    A `window` of recipients at a time (default BATCH): read in a few set-based queries (records still
    sealed), built and sealed by `workers` processes (owabi.notices.snapshots; default one per core for
    incidents of PARALLEL_MIN recipients or more, else in-process), written in order in one transaction
    per window (COPY on PostgreSQL) with the run's checkpoint (PrepareRun). Memory stays bounded at any
    size; a run stopped at any moment is taken up again by the next call where its last window ended,
    with the facts it started with, and ends as an uninterrupted run would have. While it runs, another
    prepare or a resolve of the incident is refused (IncidentBusy), and this one is refused during theirs."""
    with changing_people(incident, "owabi notices prepare"):
        return _prepare(incident, actor, progress, workers, window)


def _prepare(
    incident: Incident,
    actor: str,
    progress: Callable[[int, int], None] | None,
    workers: int | None,
    window: int | None,
) -> PrepareResult:
    setup = NoticeSetup.objects.filter(incident=incident).first()
    if setup is None:
        raise NoticeSetupMissing(
            f"incident {incident.slug}: set up its notices first (owabi notices setup --incident "
            f"{incident.slug} --from FILE.toml)"
        )
    bounds = Recipient.objects.filter(incident=incident).aggregate(
        low=Min("pk"), high=Max("pk"), total=Count("pk")
    )
    if workers is None:
        workers = min(os.cpu_count() or 1, 4) if (bounds["total"] or 0) >= PARALLEL_MIN else 1
    size = window or BATCH
    pool = multiprocessing.get_context("fork").Pool(workers) if workers > 1 else None
    try:
        names = _source_names(incident, setup, pool)
        run = _checkpoint(incident, setup, bounds["low"] or 0)
        context = snapshots.Context(
            incident=incident.pk,
            policy=setup.policy,
            language=setup.language,
            revision=setup.revision,
            declared=list(incident.declared_categories),
            names=names,
            facts=run.facts,
            file_sources=dict(SourceFile.objects.filter(incident=incident).values_list("pk", "source")),
            copy=connection.vendor == "postgresql",
        )
        starts = range(run.next_recipient, (bounds["high"] or -1) + 1, size)
        windows = ((context, _window(incident, start, size)) for start in starts)
        for start, built in zip(starts, _in_order(pool, snapshots.build, windows), strict=True):
            # Never past the highest recipient this run saw: a recipient made later (a resolve between a
            # crash and the resume) must not fall in a gap the checkpoint jumped over.
            run.next_recipient = min(start + size, (bounds["high"] or -1) + 1)
            run.done += built.recipients
            run.created_email += built.created["email"]
            run.created_letter += built.created["letter"]
            run.existing += built.existing
            run.unreachable += built.unreachable
            with transaction.atomic():
                if context.copy:
                    bulk.insert_copy_binary(Notice, snapshots.FIELDS, built.rows, analyze=False)
                else:
                    bulk.insert(Notice, snapshots.FIELDS, built.rows)
                run.save()
            if progress and built.recipients:
                progress(run.done, bounds["total"])
    finally:
        if pool is not None:
            pool.terminate()
            pool.join()
    result = PrepareResult(
        created={"email": run.created_email, "letter": run.created_letter},
        existing=run.existing,
        unreachable=run.unreachable,
        resumed=run.resumed,
    )
    with transaction.atomic():
        run.finished_at = timezone.now()
        run.save(update_fields=["finished_at"])
        audit.record(
            actor=actor,
            action="notices.prepare",
            object_type="incident",
            object_id=incident.pk,
            data={
                "created": result.created,
                "existing": result.existing,
                "unreachable": result.unreachable,
                "setup_revision": setup.revision,
                "resumed": run.resumed,
            },
        )
    return result


def _checkpoint(incident: Incident, setup: NoticeSetup, low: int) -> PrepareRun:
    """The incident's unfinished run, taken up again where it stopped; else a new run from the first
    recipient. A run left by an earlier setup revision is closed, not resumed: its notices stay as they
    were made, and the new run (which skips them) states today's facts for the rest."""
    with transaction.atomic():
        run = PrepareRun.objects.select_for_update().filter(incident=incident, finished_at=None).first()
        if run is not None and run.setup_revision == setup.revision:
            run.resumed += 1
            run.save(update_fields=["resumed"])
            return run
        if run is not None:
            run.finished_at = timezone.now()
            run.save(update_fields=["finished_at"])
        return PrepareRun.objects.create(
            incident=incident, setup_revision=setup.revision, facts=facts_of(incident), next_recipient=low
        )


def _window(incident: Incident, start: int, size: int) -> snapshots.Window:
    """Recipients start..start+size-1 of the incident, their subjects and their records (still sealed),
    their live notices, and ids reserved for the notices they may get."""
    span = {"gte": start, "lt": start + size}
    recipients = _rows(
        Recipient.objects.filter(incident=incident, pk__gte=span["gte"], pk__lt=span["lt"])
        .order_by("number")
        .values_list("pk", "kind", "contact_record_id")
    )
    if not recipients:
        return snapshots.Window([], [], [], set(), [], "")
    subjects = _rows(
        Subject.objects.filter(incident=incident, recipient_id__gte=span["gte"], recipient_id__lt=span["lt"])
        .order_by("number")
        .values_list("pk", "number", "is_minor", "best_record_id", "recipient_id")
    )
    records = _rows(
        LeakRecord.objects.filter(
            membership__subject__incident=incident,
            membership__subject__recipient_id__gte=span["gte"],
            membership__subject__recipient_id__lt=span["lt"],
        ).values_list("pk", "sealed", "categories", "source_file_id", "role", "membership__subject_id")
    )
    live = set(
        Notice.objects.filter(
            incident=incident, recipient_id__gte=span["gte"], recipient_id__lt=span["lt"], reminder_of=None
        )
        .exclude(status=Notice.Status.CANCELLED)
        .values_list("recipient_id", "channel")
    )
    wanted = snapshots.CHANNELS_AT_MOST * len(recipients) - len(live)
    now = timezone.now()
    stamp = (
        now.isoformat()
        if connection.vendor == "postgresql"
        else connection.ops.adapt_datetimefield_value(now)
    )
    return snapshots.Window(
        cast("list[tuple[int, str, int | None]]", recipients),
        cast("list[tuple[int, int, bool, int | None, int]]", subjects),
        cast("list[tuple[int, Any, Any, int, str, int]]", records),
        cast("set[tuple[int, str]]", live),
        rowids.allocate(Notice, wanted),
        cast(str, stamp),
    )


def _rows(queryset: Any) -> list[tuple[Any, ...]]:
    """The rows of a values_list query as the driver gives them: without Django's per-value converters
    (sealed blobs stay bytes, JSON stays text), which cost more than the query; the workers convert."""
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cast("list[tuple[Any, ...]]", cursor.fetchall())


def _in_order(pool: Any, function: Callable[..., T], jobs: Iterable[tuple[Any, ...]]) -> Iterator[T]:
    """`function(*job)` for each job, in order; with a pool, a few jobs are read ahead (in this thread,
    which holds the database connection) while the workers run the earlier ones."""
    if pool is None:
        for job in jobs:
            yield function(*job)
        return
    pending: deque[Any] = deque()
    for job in jobs:
        pending.append(pool.apply_async(function, job))
        if len(pending) > 2 * pool._processes:
            yield pending.popleft().get()
    while pending:
        yield pending.popleft().get()


def facts_of(incident: Incident) -> dict[str, Any]:
    """What a notice states about the whole incident, as of today: how many people (the incident's
    subjects now), when it happened and when it was found. Kept in each snapshot: the count a notice
    stated stays what it stated, whatever later imports change."""

    def day(value: Any) -> str:
        return value.isoformat() if value else ""

    return {
        "people": Subject.objects.filter(incident=incident).count(),
        "as_of": timezone.localdate().isoformat(),
        "discovered_on": day(incident.discovered_on),
        "occurred_from": day(incident.occurred_from),
        "occurred_to": day(incident.occurred_to),
    }


def _source_names(incident: Incident, setup: NoticeSetup, pool: Any) -> dict[str, dict[str, str]]:
    """The setup's names for the incident's source labels, per language; UnnamedSources when a label in
    use has no name in the setup's language (checked before any notice is made, so a run never stops
    half-way). A row's own `source` value is read only from files that have that column: their records
    are read in windows of ids and opened by the pool's workers (or here, without a pool)."""
    files = list(SourceFile.objects.filter(incident=incident).exclude(rows_ok=0))
    labels = {file.source for file in files if "source" not in file.mapping.values()}
    with_column = {file.pk: file.source for file in files if "source" in file.mapping.values()}
    if with_column:
        records = LeakRecord.objects.filter(source_file__in=list(with_column))
        bounds = records.aggregate(low=Min("pk"), high=Max("pk"))
        windows = (
            (
                _rows(
                    records.filter(pk__gte=start, pk__lt=start + LABELS_BATCH).values_list(
                        "pk", "sealed", "source_file_id"
                    )
                ),
                with_column,
            )
            for start in range(bounds["low"] or 0, (bounds["high"] or -1) + 1, LABELS_BATCH)
        )
        for found in _in_order(pool, snapshots.labels, windows):
            labels |= found
    known = setup.sources.get(setup.language, {})
    unnamed = sorted(label for label in labels if label not in known)
    if unnamed:
        shown = ", ".join(label[:40] for label in unnamed[:10])
        more = f" and {len(unnamed) - 10} more" if len(unnamed) > 10 else ""
        raise UnnamedSources(
            f"incident {incident.slug}: {len(unnamed)} source labels have no name for readers in the notice "
            f"setup ([sources.{setup.language}]): {shown}{more}"
        )
    return {language: dict(names) for language, names in setup.sources.items()}


class PreviewError(ValueError):
    """No notice to preview: a code that is not one, or not this incident's (the message names no value)."""


def preview(*, incident: Incident, code_typed: str, part: str, rule: str, actor: str, reason: str) -> str:
    """One notice (or its `rule` reminder) as it goes out: `part` is "email" (subject and text), "html"
    or "letter" (the letter's text). Looking is audited with the reason, as any staff view of PII is."""
    try:
        code = codes.parse_code(code_typed)
    except codes.CodeError as error:
        raise PreviewError(str(error)) from None
    notice = Notice.objects.filter(incident=incident, code=code, reminder_of=None).first()
    if notice is not None and rule:
        notice = notice.reminders.filter(rule=rule).first()
    if notice is None:
        what = f"{rule!r} reminder" if rule else "notice"
        raise PreviewError(f"this incident has no {what} with that code")
    notice.incident = incident
    audit.record(
        actor=actor,
        action="notices.preview",
        object_type="notice",
        object_id=notice.pk,
        data={"part": part},
        reason=reason,
    )
    setup = NoticeSetup.objects.get(incident=incident)
    if part == "letter":
        return letter_text(notice, setup)
    rendered = render(notice, setup)
    if part == "email":
        return f"Subject: {rendered.subject}\n\n{rendered.text}"
    return rendered.html
