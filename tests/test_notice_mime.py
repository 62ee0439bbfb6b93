"""Notice e-mails are composed by owabi.notices.mime; the standard library must read them back exactly."""

from __future__ import annotations

import contextlib
import email
import smtplib
from collections.abc import Iterator
from email import policy
from email.utils import parsedate_to_datetime
from typing import Any

import pytest
from django.core import mail
from django.core.mail import get_connection
from django.test import override_settings

from owabi.notices.mime import NoticeEmail
from tests.mailsink import Sink, serving, smtp_settings

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


class Strict(Sink):
    """The test sink, which also refuses some senders and recipients in the ways servers do, records
    each envelope's sender, and notes whether RCPT and DATA were already waiting behind each MAIL."""

    def __init__(self, pipelining: bool) -> None:
        super().__init__(pipelining=pipelining)
        self.senders: list[str] = []
        self.pipelined: list[bool] = []

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if address.startswith("closing"):
            return "421 4.3.2 service shutting down"
        if address.startswith("sloppy"):  # refuses the recipient, yet takes DATA (RFC 2920 says it must not)
            envelope.rcpt_tos.append(address)
            return "550 5.1.1 refused"
        return await super().handle_RCPT(server, session, envelope, address, options)

    async def handle_MAIL(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        self.pipelined.append(b"DATA" in bytes(server._reader._buffer))
        if address.startswith("blocked"):
            return "553 5.7.1 sender not allowed"
        self.senders.append(address)
        envelope.mail_from = address
        return "250 OK"


@pytest.fixture(params=[False, True], ids=["one command at a time", "pipelined"])
def strict(request: pytest.FixtureRequest) -> Iterator[tuple[Strict, int]]:
    handler = Strict(pipelining=request.param)
    with serving(handler) as port:
        yield handler, port


@contextlib.contextmanager
def _connected(port: int) -> Iterator[Any]:
    """An open connection of the SMTP backend the settings select, to the test server at `port`."""
    with override_settings(**smtp_settings(port)):
        connection = get_connection()
        connection.open()
        try:
            yield connection
        finally:
            connection.close()


def test_over_smtp_the_envelope_and_dotted_lines_arrive_as_sent(strict) -> None:
    """The notice path speaks SMTP itself (mime.transact): a line that starts with a dot must be
    dot-stuffed on the wire and arrive as written."""
    handler, port = strict
    dotted = "一行目\n.\n..二つ\n.ドットで始まる行\n最後\n"
    with override_settings(**smtp_settings(port)):
        assert _mail(body=dotted, html="<p>x</p>\n.<p>y</p>\n").send() == 1
    [(to, message)] = handler.parsed()
    assert to == ["yumi@example.jp"] and handler.senders == ["oshirase@sample-travel.example.jp"]
    assert handler.pipelined == [handler.pipelining]  # MAIL, RCPT and DATA in one write when offered
    assert _content(message, "plain") == dotted
    assert _content(message, "html") == "<p>x</p>\n.<p>y</p>\n"


def test_over_smtp_refusals_raise_as_smtplib_would_and_the_connection_goes_on(strict) -> None:
    handler, port = strict
    with _connected(port) as connection:
        with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
            _mail(to=["nobody@example.jp"], connection=connection).send()
        assert refused.value.recipients == {"nobody@example.jp": (550, b"5.1.1 no such mailbox")}
        with pytest.raises(smtplib.SMTPSenderRefused) as sender:
            _mail(sender_address="blocked@sample-travel.example.jp", connection=connection).send()
        assert sender.value.smtp_code == 553
        assert _mail(connection=connection).send() == 1  # the same connection, reset after each refusal
    assert [to for to, _ in handler.messages] == [["yumi@example.jp"]]
    assert handler.pipelined == [handler.pipelining] * 3


def test_over_smtp_a_server_that_is_closing_ends_the_connection_and_a_new_one_delivers(strict) -> None:
    handler, port = strict
    with _connected(port) as connection:
        with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
            _mail(to=["closing@example.jp"], connection=connection).send()
        assert refused.value.recipients["closing@example.jp"][0] == 421
        assert connection.connection.sock is None  # closed, as smtplib closes on 421
        with override_settings(**smtp_settings(port)):
            assert _mail().send() == 1  # a new connection
    assert [to for to, _ in handler.messages] == [["yumi@example.jp"]]


def test_over_smtp_a_server_taking_data_after_a_refused_recipient_stays_in_step(strict) -> None:
    """Pipelined, MAIL, RCPT and DATA are sent before any reply is read; a server that refuses the
    recipient but still answers DATA with 354 must get its (empty) message ended, or the next message's
    replies would be read out of step."""
    handler, port = strict
    with _connected(port) as connection:
        with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
            _mail(to=["sloppy@example.jp"], connection=connection).send()
        assert refused.value.recipients == {"sloppy@example.jp": (550, b"5.1.1 refused")}
        assert _mail(connection=connection).send() == 1
    *ended, (to, last) = handler.messages
    assert to == ["yumi@example.jp"] and b"ABCDE-FGHJK-MNPQR" in last
    # One command at a time, DATA is never sent after the refusal; pipelined, the empty message ended.
    assert [content.strip() for _, content in ended] == ([b""] if handler.pipelining else [])
