"""Resend a notice: support staff send a recipient their notice again, by e-mail or by letter, to the
contact on record or to a corrected one.

A resend is a new notice of the chosen channel, saying what the recipient's notice said (its sealed
snapshot, corrected address or e-mail aside), with a new registration code; the recipient's live notice
of that channel, if any, is cancelled, so a letter that went astray no longer opens the portal. The
e-mail sender and the letter printer pick it up like any prepared notice (`owabi notices send`,
`owabi notices print`)."""

from __future__ import annotations

import copy
import unicodedata
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from owabi.core import audit
from owabi.incidents.selectors import closed_reason
from owabi.notices.models import Notice, NoticeSetup, new_notice
from owabi.records import normalize

MAX_ADDRESS = 200


class ResendError(ValueError):
    """A resend that cannot be made as asked (the message names no value)."""


def _corrected(
    to: dict[str, Any], channel: str, postal_code: str, address: str, email: str
) -> dict[str, Any]:
    to = dict(to)
    if channel == Notice.Channel.EMAIL and email.strip():
        try:
            to["email"] = normalize.email(email)
        except normalize.NormalizeError:
            raise ResendError(_("メールアドレスの形式が正しくありません")) from None
    if channel == Notice.Channel.LETTER and (postal_code.strip() or address.strip()):
        if not (postal_code.strip() and address.strip()):
            raise ResendError(_("訂正する場合は郵便番号と住所の両方を入力してください"))
        try:
            digits = normalize.postal_code(postal_code)
        except normalize.NormalizeError:
            raise ResendError(_("郵便番号の形式が正しくありません")) from None
        cleaned = " ".join(unicodedata.normalize("NFKC", address).split())
        if len(cleaned) > MAX_ADDRESS:
            raise ResendError(_("住所が長すぎます"))
        to["postal_code"], to["address"] = f"{digits[:3]}-{digits[3:]}", cleaned
    if channel == Notice.Channel.EMAIL and not to.get("email"):
        raise ResendError(_("メールアドレスがありません。入力するか、郵送を選んでください"))
    if channel == Notice.Channel.LETTER and not (to.get("postal_code") and to.get("address")):
        raise ResendError(_("住所がありません。入力するか、メールを選んでください"))
    return to


def resend(
    *,
    recipient_id: int,
    channel: str,
    actor: str,
    reason: str,
    postal_code: str = "",
    address: str = "",
    email: str = "",
) -> Notice:
    """Prepare the recipient's notice again on `channel`, to a corrected contact where one is given."""
    if channel not in Notice.Channel.values:
        raise ResendError(_("送付方法を選んでください"))
    if not reason.strip():
        raise ResendError(_("理由を記入してください"))
    with transaction.atomic():
        live = list(
            Notice.objects.select_for_update()
            .filter(recipient_id=recipient_id, reminder_of__isnull=True)
            .exclude(status=Notice.Status.CANCELLED)
            .order_by("-pk")
        )
        source = next((n for n in live if n.channel == channel), live[0] if live else None)
        if source is None:
            raise ResendError(_("この方にはまだお知らせがありません"))
        if any(n.channel == channel and n.handed_at is not None for n in live):
            raise ResendError(_("このお知らせはいま送信中です。しばらくしてからお試しください"))
        if closed_reason(source.incident):  # retention ran: the content is erased, nothing true to send
            raise ResendError(_("この件の個人データは消去済みのため、お知らせは送れません"))
        setup = NoticeSetup.objects.get(incident_id=source.incident_id)
        content = copy.deepcopy(source.content)
        content["to"] = _corrected(content.get("to") or {}, channel, postal_code, address, email)
        replaced = [n.pk for n in live if n.channel == channel]
        Notice.objects.filter(pk__in=replaced).update(status=Notice.Status.CANCELLED, last_error="resent")
        # Their reminders not yet handed over carry the dead code: they do not go out either.
        Notice.objects.filter(
            reminder_of_id__in=replaced, status=Notice.Status.PREPARED, handed_at__isnull=True
        ).update(status=Notice.Status.CANCELLED, last_error="resent")
        notice = new_notice(source.incident, setup, recipient_id, channel, content, source.language)
        notice.save()
        audit.record(
            actor=actor,
            action="notices.resend",
            object_type="notice",
            object_id=notice.pk,
            reason=reason.strip(),
            data={
                "channel": channel,
                "replaces": replaced,
                "corrected": content["to"] != source.content.get("to"),
            },
        )
    return notice
