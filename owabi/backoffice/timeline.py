"""A person's timeline for the support console: what the records, notices and redress selectors say
about them, merged into one list in time order. Reads only; the view audits the viewing."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import cast

from owabi.backoffice.templatetags.staff import ja
from owabi.notices import selectors as notice_selectors
from owabi.notices.models import Notice
from owabi.records import selectors as record_selectors
from owabi.records.models import Subject
from owabi.redress import selectors as redress_selectors


@dataclass(frozen=True)
class Entry:
    at: datetime
    kind: str  # record, review, notice, portal, choice, request, claim, call
    text: str


@dataclass
class Timeline:
    subject: Subject
    person: record_selectors.Person
    records: list[record_selectors.RecordView]
    notices: list[tuple[Notice, bool]]  # (notice, sign-in locked now)
    redress: redress_selectors.PersonRedress
    entries: list[Entry] = field(default_factory=list)


def _notice_entries(notice: Notice) -> list[Entry]:
    what = f"{ja(notice.get_channel_display())} {notice_selectors.display_code(notice.code)}"
    if notice.reminder_of_id:
        what = f"催促 {notice.rule}：{what}"
    out = [Entry(notice.prepared_at, "notice", f"お知らせを準備：{what}")]
    if notice.sent_at:
        sent = "印刷・発送" if notice.channel == Notice.Channel.LETTER else "送信"
        out.append(Entry(notice.sent_at, "notice", f"お知らせを{sent}：{what}"))
    if notice.status in (Notice.Status.BOUNCED, Notice.Status.RETURNED, Notice.Status.CANCELLED):
        detail = f"（{notice.last_error}）" if notice.last_error else ""
        out.append(Entry(notice.status_at, "notice", f"{ja(notice.get_status_display())}{detail}：{what}"))
    return out


def timeline_of(subject: Subject) -> Timeline:
    own = record_selectors.people_of_subjects([subject.pk])[0]
    records = record_selectors.records_of(subject)
    notices = (
        notice_selectors.notices_of_recipients([subject.recipient_id]).get(subject.recipient_id, [])
        if subject.recipient_id
        else []
    )
    redress = redress_selectors.of_person(subject.pk, subject.recipient_id)
    found = Timeline(
        subject=subject,
        person=own,
        records=records,
        notices=[
            (notice, not notice.reminder_of_id and notice_selectors.sign_in_locked(notice))
            for notice in notices
        ],
        redress=redress,
    )
    entries = [
        Entry(record.imported_at, "record", f"記録を取り込み：{record.source}（{record.record_id}）")
        for record in records
    ]
    resolved = record_selectors.resolved_at(subject.incident_id)
    for pair in record_selectors.decisions_about([record.pk for record in records]):
        waiting = record_selectors.waits_for_resolve(pair, resolved)
        entries.append(
            Entry(
                cast(datetime, pair.decided_at),
                "review",
                f"名寄せの判断「{pair.get_decision_display()}」：記録 {pair.record_a.record_id} と "
                f"{pair.record_b.record_id}" + ("：未反映（次回の名寄せ resolve で反映）" if waiting else ""),
            )
        )
    for notice in notices:
        entries += _notice_entries(notice)
    codes_of = {notice.pk: notice_selectors.display_code(notice.code) for notice in notices}
    entries += [
        Entry(at, "portal", f"{text}：{codes_of.get(pk, '')}")
        for at, pk, _action, text in notice_selectors.portal_events(list(codes_of))
    ]
    for choice in redress.choices:
        entries.append(
            Entry(
                choice.created_at,
                "choice",
                f"補償の選択 {choice.reference}：{choice.option.label_ja}（{choice.get_status_display()}、"
                f"{choice.get_by_display()}）",
            )
        )
    for request in redress.requests:
        entries.append(
            Entry(
                request.created_at,
                "request",
                f"依頼 {request.reference}：{request.get_kind_display()}（{request.get_status_display()}、"
                f"{request.get_by_display()}）",
            )
        )
        if request.done_at:
            entries.append(Entry(request.done_at, "request", f"依頼 {request.reference} を完了"))
    for claim in redress.claims:
        entries.append(
            Entry(
                claim.created_at,
                "claim",
                f"請求 {claim.reference}：{claim.get_kind_display()} {claim.amount_yen:,}円"
                f"（{claim.get_status_display()}）",
            )
        )
    for call in redress.calls:
        follow = f"、{call.follow_up_on:%Y-%m-%d}までに対応" if call.follow_up_on else ""
        entries.append(
            Entry(
                call.created_at,
                "call",
                f"通話（スタッフ {call.staff_id}）：{call.get_topic_display()} → {call.get_outcome_display()}"
                f"{follow}：{call.notes.get('summary', '')}",
            )
        )
    found.entries = sorted(entries, key=lambda entry: entry.at)
    return found
