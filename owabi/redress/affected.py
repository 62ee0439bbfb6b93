""" "Am I affected?": a person without a notice asks with their name and a phone number, a card's last 4
digits or an e-mail address. The page answers the same for everyone, match or not, in the same time:
it queues the search and says that if we hold their data, we will write to the contact we have on
record. The details go only there: an e-mail with the registration code and login key where we have an
e-mail address, else a request for staff to post the notice again. What was typed is never stored:
the queued job holds the lookup keys (keyed hashes, owabi.records.lookup) and nothing else.

Limits (owabi.core.ratelimit): per client address, and per identity (the keys asked for), so nobody can
use the page to flood a stranger's mailbox."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.core.mail import EmailMessage
from django.db import transaction
from django.utils import timezone, translation

from owabi.core import jobs, ratelimit
from owabi.incidents.models import Incident
from owabi.notices import selectors as notice_selectors
from owabi.notices.models import Notice, NoticeSetup
from owabi.records import lookup
from owabi.records.models import Subject
from owabi.redress.models import Request
from owabi.redress.references import new_reference

KIND = "redress.affected"


@dataclass(frozen=True)
class Asked:
    limited: bool


def ask(
    *, incident: Incident, name: str, phone: str = "", card_last4: str = "", email: str = "", client: str
) -> Asked:
    """Queue one "am I affected?" search. The same work happens whether or not anyone matches."""
    values = {"phone": phone.strip(), "card_last4": card_last4.strip(), "email": email.strip()}
    second = next((field for field in ("phone", "card_last4", "email") if values[field]), "")
    if second == "email":
        wanted = lookup.query(incident_id=incident.pk, email=values["email"])
    elif second:
        wanted = lookup.query(incident_id=incident.pk, name=name, **{second: values[second]})
    else:
        wanted = {}
    identity = min((key.hex() for key in wanted), default="-")
    if not ratelimit.hit("portal.lookup.client", client or "-") or not ratelimit.hit(
        "portal.lookup.identity", identity
    ):
        return Asked(limited=True)
    jobs.enqueue(
        kind=KIND,
        key=f"{timezone.now().isoformat(timespec='microseconds')}:{secrets.token_hex(8)}",
        payload={"incident": incident.pk, "keys": {key.hex(): str(role) for key, role in wanted.items()}},
    )
    return Asked(limited=False)


def answer(payload: dict[str, Any]) -> dict[str, Any]:
    """Write to each recipient the search found, through the contact on record, once per recipient."""
    incident = Incident.objects.filter(pk=payload["incident"]).first()
    wanted = {bytes.fromhex(key): lookup.Role(role) for key, role in payload["keys"].items()}
    if incident is None or not wanted:
        return {"recipients": 0}
    found = lookup.find_keys(incident=incident, wanted=wanted)
    recipients = set(
        Subject.objects.filter(
            memberships__record__in=[f.record.pk for f in found], recipient__isnull=False
        ).values_list("recipient_id", flat=True)
    )
    mailed = posted = 0
    for notice in Notice.objects.filter(recipient_id__in=recipients, reminder_of=None).exclude(
        status="cancelled"
    ):
        if notice.channel == Notice.Channel.EMAIL and notice.content.get("to", {}).get("email"):
            mailed += _mail(notice)
        elif notice.channel == Notice.Channel.LETTER:
            posted += _post_again(notice)
    return {"recipients": len(recipients), "mailed": mailed, "posted": posted}


def _mail(notice: Notice) -> int:
    setup = NoticeSetup.objects.filter(incident_id=notice.incident_id).first()
    if setup is None:
        return 0
    to = notice.content["to"]
    with translation.override(notice.language):
        english = notice.language == "en"
        lines = (
            [
                f"Dear {to.get('name', '')},",
                "",
                "Someone asked on our website whether their personal data was part of the leak. The details",
                "given match our records of you, so we write to the contact we have for you. If it was not",
                "you, you need do nothing; please keep this e-mail.",
                "",
                f"Our page: {setup.portal_url}",
                f"Registration code: {notice_selectors.display_code(notice.code)}",
                f"Login key: {notice_selectors.login_key_of(notice.code)}",
                "",
                f"Questions: {setup.phone} ({setup.phone_hours})",
                "We will never ask for your card number, PIN or password, or for money.",
                setup.sender_name,
            ]
            if english
            else [
                f"{to.get('name', '')} 様",
                "",
                "当社のウェブサイトで、個人情報の流出についてのお問い合わせがありました。入力された内容が",
                "当社の記録と一致したため、ご登録の連絡先にご案内をお送りします。お心当たりがない場合は",
                "何もしていただく必要はありません。このメールは大切に保管してください。",
                "",
                f"専用ページ：{setup.portal_url}",
                f"登録コード：{notice_selectors.display_code(notice.code)}",
                f"ログインキー：{notice_selectors.login_key_of(notice.code)}",
                "",
                f"お問い合わせ：{setup.phone}（{setup.phone_hours}）",
                "当社からカード番号・暗証番号・パスワードをおたずねしたり、お金を請求したりすることはありません。",
                setup.sender_name,
            ]
        )
        subject = (
            "Your personal data and our notice"
            if english
            else "【ご案内】個人情報の流出に関するお問い合わせについて"
        )
    EmailMessage(
        f"{subject}（{setup.sender_name}）",
        "\n".join(lines) + "\n",
        f"{setup.sender_name} <{setup.sender_email}>",
        [to["email"]],
    ).send()
    return 1


def _post_again(notice: Notice) -> int:
    """A letter-only recipient: staff post the notice again (an open request in their queue), once."""
    with transaction.atomic():
        waiting = Request.objects.filter(kind=Request.Kind.RESEND_NOTICE, status__in=["open", "in_progress"])
        if notice.recipient_id is None or waiting.filter(recipient_id=notice.recipient_id).exists():
            return 0
        Request.objects.create(
            incident_id=notice.incident_id,
            recipient_id=notice.recipient_id,
            notice=notice,
            kind=Request.Kind.RESEND_NOTICE,
            reference=new_reference("R"),
            due_on=timezone.localdate() + timedelta(days=7),
            by="portal",
        )
    return 1
