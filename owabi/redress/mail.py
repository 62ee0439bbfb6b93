"""Receipts e-mailed to a person after they choose, ask or claim: one small function per kind of mail
(healthchecks' habit). Sent to the e-mail address the notice went to, from the incident's official
sender; a notice that went by letter to someone without an e-mail address gets no receipt mail (the
page showed it). Receipts carry references and what was chosen, never a gift code itself: that is
shown once on the page, and the management number lets support help if it is lost."""

from __future__ import annotations

from django.core.mail import EmailMessage

from owabi.notices.models import Notice, NoticeSetup
from owabi.redress.models import Choice, Claim, Option, Request

_SUBJECT = {
    "choice": ("【受付完了】お詫びの品のお手続き", "Your choice has been received"),
    "request": ("【受付完了】ご依頼を承りました", "We have received your request"),
    "claim": ("【受付完了】ご請求を承りました", "We have received your claim"),
    "request_done": ("【完了】ご依頼の対応が終わりました", "Your request has been dealt with"),
    "request_declined": ("【ご連絡】ご依頼について", "About your request"),
}


def _send(notice: Notice, what: str, lines_ja: list[str], lines_en: list[str]) -> bool:
    to = (notice.content.get("to") or {}).get("email") or ""
    setup = NoticeSetup.objects.filter(incident_id=notice.incident_id).first()
    if not to or setup is None:
        return False
    english = notice.language == "en"
    name = (notice.content.get("to") or {}).get("name") or ""
    greeting = f"Dear {name}," if english else f"{name} 様"
    footer = (
        [
            "",
            f"Questions: {setup.phone} ({setup.phone_hours})",
            "We will never ask for your card number, PIN or password, or for money.",
            setup.sender_name,
        ]
        if english
        else [
            "",
            f"お問い合わせ：{setup.phone}（{setup.phone_hours}）",
            "当社からカード番号・暗証番号・パスワードをおたずねしたり、お金を請求したりすることはありません。",
            setup.sender_name,
        ]
    )
    body = "\n".join([greeting, "", *(lines_en if english else lines_ja), *footer]) + "\n"
    subject = _SUBJECT[what][1 if english else 0] + f"（{setup.sender_name}）"
    EmailMessage(subject, body, f"{setup.sender_name} <{setup.sender_email}>", [to]).send()
    return True


def choice_receipt(notice: Notice, choice: Choice) -> bool:
    option = choice.option
    ja = [
        "お詫びの品のお手続きを承りました。",
        f"受付番号：{choice.reference}",
        f"お選びいただいたもの：{option.label_ja}（{option.amount_yen:,}円分）",
    ]
    en = [
        "We have received your choice.",
        f"Reference: {choice.reference}",
        f"Your choice: {option.label_en} ({option.amount_yen:,} yen)",
    ]
    code = getattr(choice, "gift_code", None)
    if code is not None:
        ja += [
            f"ギフトID：{code.sealed['gift_id']}",
            f"管理番号：{code.sealed['management_number']}",
            "コードは手続きの画面に一度だけ表示しました。紛失された場合は管理番号をお知らせください。",
        ]
        en += [
            f"Gift ID: {code.sealed['gift_id']}",
            f"Management number: {code.sealed['management_number']}",
            "The code was shown once on the page. If you lose it, call us with the management number.",
        ]
    if choice.status == Choice.Status.HELD:
        ja.append("同じ方のお手続きがすでにある可能性があるため、担当者が確認してからご連絡します。")
        en.append("A choice may already exist for the same person; our staff will check and contact you.")
    elif option.kind == Option.Kind.VOUCHER:
        ja.append("ご指定の送付先へ郵送します。お届けまでしばらくお待ちください。")
        en.append("We will post it to the address you gave.")
    elif option.kind == Option.Kind.DONATION:
        ja.append(f"{option.charity}へ寄付します。")
        en.append(f"We will donate it to {option.charity}.")
    return _send(notice, "choice", ja, en)


def request_receipt(notice: Notice, request: Request) -> bool:
    ja = [
        "ご依頼を承りました。担当者が確認し、完了しましたらご連絡します。",
        f"受付番号：{request.reference}",
        f"ご依頼の内容：{Request.Kind(request.kind).label}",
        f"回答の目安：{request.due_on.year}年{request.due_on.month}月{request.due_on.day}日まで",
    ]
    en = [
        "We have received your request. We will contact you when it is done.",
        f"Reference: {request.reference}",
        f"Request: {Request.Kind(request.kind).label}",
        f"We will reply by: {request.due_on.isoformat()}",
    ]
    return _send(notice, "request", ja, en)


def claim_receipt(notice: Notice, claim: Claim) -> bool:
    ja = [
        "ご請求を承りました。担当者が内容を確認します。審査の状況は専用ページでご確認いただけます。",
        f"受付番号：{claim.reference}",
        f"ご請求の内容：{Claim.Kind(claim.kind).label}　{claim.amount_yen:,}円",
    ]
    en = [
        "We have received your claim. Our staff will review it; you can follow its status on the portal.",
        f"Reference: {claim.reference}",
        f"Claim: {Claim.Kind(claim.kind).label}, {claim.amount_yen:,} yen",
    ]
    return _send(notice, "claim", ja, en)


# What each kind of request changed, as the person reads it when it is done.
_DONE = {
    Request.Kind.DELETE: (
        "ご依頼のとおり、当社の会員情報・顧客情報からお客さまの個人情報を削除しました。"
        "今回の件の記録（お知らせと対応の記録）は、法令に基づき必要な期間だけ保管し、その後消去します。",
        "As you asked, we have deleted your personal data from our customer records. The record of this "
        "incident (the notice and what we did) is kept only as long as the law requires, then erased.",
    ),
    Request.Kind.STOP_MARKETING: (
        "ご依頼のとおり、当社からの広告・ご案内の送付を停止しました。",
        "As you asked, we have stopped sending you advertising and marketing.",
    ),
    Request.Kind.CORRECT_CONTACT: (
        "ご依頼のとおり、ご連絡先を訂正しました。",
        "As you asked, we have corrected your contact details.",
    ),
    Request.Kind.MISUSE: (
        "お知らせいただいた連絡について確認し、対応を終えました。心当たりのない連絡には応じないでください。",
        "We have looked into the contact you told us about. Please do not respond to contacts you do "
        "not recognise.",
    ),
    Request.Kind.RESEND_NOTICE: (
        "お知らせをあらためて郵送しました。",
        "We have posted the notice to you again.",
    ),
}


def request_done(notice: Notice, request: Request) -> bool:
    """The confirmation that a request was dealt with, or could not be: references and what changed,
    never the staff's note (it may name systems and people)."""
    kind = Request.Kind(request.kind)
    if request.status == Request.Status.DONE:
        done_ja, done_en = _DONE[kind]
        ja = [done_ja, f"受付番号：{request.reference}", f"ご依頼の内容：{kind.label}"]
        en = [done_en, f"Reference: {request.reference}", f"Request: {kind.label}"]
        return _send(notice, "request_done", ja, en)
    ja = [
        "ご依頼の内容について、このままでは対応できませんでした。お手数ですが、お問い合わせ窓口へご連絡ください。",
        f"受付番号：{request.reference}",
        f"ご依頼の内容：{kind.label}",
    ]
    en = [
        "We could not complete your request as it stands. Please call our inquiry line.",
        f"Reference: {request.reference}",
        f"Request: {kind.label}",
    ]
    return _send(notice, "request_declined", ja, en)
