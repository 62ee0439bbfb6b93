"""Notice e-mails are composed by owabi.notices.mime; the standard library must read them back exactly."""

from __future__ import annotations

import email
from email import policy
from email.utils import parsedate_to_datetime

import pytest
from django.core import mail
from django.test import override_settings

from owabi.notices.mime import NoticeEmail

TEXT = "中村 由美 様\n\nこのたびは…\n登録コード：ABCDE-FGHJK-MNPQR\n"
HTML = "<p>中村 由美 様</p>\n<p>登録コード：<strong>ABCDE-FGHJK-MNPQR</strong></p>\n"


def _mail(**changes: object) -> NoticeEmail:
    fields: dict = {
        "sender_name": "株式会社サンプル旅行",
        "sender_address": "oshirase@sample-travel.example.jp",
        "message_id": "<owabi.1.42@sample-travel.example.jp>",
        "subject": "【重要】個人情報の流出に関するお詫びとお知らせ（株式会社サンプル旅行）",
        "body": TEXT,
        "to": ["yumi@example.jp"],
        **changes,
    }
    html = fields.pop("html", HTML)
    message = NoticeEmail(**fields)
    message.attach_alternative(html, "text/html")
    return message


def _read(message: NoticeEmail) -> email.message.EmailMessage:
    raw = message.message().as_bytes(linesep="\r\n")
    assert b"\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b"")  # CRLF only, for SMTP
    assert all(len(line) <= 998 for line in raw.split(b"\r\n"))
    return email.message_from_bytes(raw, policy=policy.default)  # type: ignore[return-value]


def _content(message: email.message.EmailMessage, kind: str) -> str:
    """A part's text with the wire's CRLF read as newlines (as a mail client shows it)."""
    return str(message.get_body((kind,)).get_content()).replace("\r\n", "\n")


def test_the_composed_message_reads_back_as_what_django_would_have_sent() -> None:
    ours = _read(_mail())
    djangos = email.message_from_bytes(
        super(NoticeEmail, _mail()).message().as_bytes(), policy=policy.default
    )
    for header in ("Subject", "From", "To", "Message-ID", "MIME-Version"):
        assert str(ours[header]).strip() == str(djangos[header]).strip(), header
    assert str(ours["From"]) == "株式会社サンプル旅行 <oshirase@sample-travel.example.jp>"
    assert ours.get_content_type() == "multipart/alternative" and not ours.defects
    assert _content(ours, "plain") == TEXT and _content(ours, "html") == HTML
    assert parsedate_to_datetime(str(ours["Date"])).tzinfo is not None


def test_a_line_longer_than_smtp_allows_goes_base64_and_reads_back() -> None:
    long = "長い説明。" * 300 + "\n"  # 4,500 octets in one line
    ours = _read(_mail(body=long, html=f"<p>{long}</p>"))
    plain = ours.get_body(("plain",))
    assert plain["Content-Transfer-Encoding"] == "base64" and _content(ours, "plain") == long


def test_a_non_ascii_address_falls_back_to_djangos_own_message() -> None:
    message = _mail(to=["由美@例え.jp"])
    assert not hasattr(message.message(), "data")  # Django's SafeMIMEMultipart, not ours
    read = email.message_from_bytes(message.message().as_bytes(), policy=policy.default)
    assert read.get_body(("plain",)).get_content() == TEXT


@pytest.mark.parametrize("backend", ["filebased", "console", "locmem"])
def test_every_django_backend_takes_it(backend: str, tmp_path, capsys) -> None:
    with override_settings(
        EMAIL_BACKEND=f"django.core.mail.backends.{backend}.EmailBackend", EMAIL_FILE_PATH=tmp_path
    ):
        assert _mail().send() == 1
    if backend == "filebased":
        [written] = tmp_path.iterdir()
        assert "中村 由美 様" in written.read_text(encoding="utf-8")
    elif backend == "console":
        assert "中村 由美 様" in capsys.readouterr().out
    else:
        assert mail.outbox[0].to == ["yumi@example.jp"]
