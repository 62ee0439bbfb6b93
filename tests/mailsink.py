"""A real SMTP server for tests (aiosmtpd on 127.0.0.1) that keeps every message it accepts."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller


class Sink:
    """Keeps every message it accepts; refuses recipients starting "nobody" (550 5.1.1); counts the
    connections greeted (one EHLO each); offers PIPELINING when `pipelining` (aiosmtpd reads pipelined
    commands in order but does not offer it by itself)."""

    def __init__(self, *, pipelining: bool = False) -> None:
        self.messages: list[tuple[list[str], bytes]] = []
        self.lock = threading.Lock()
        self.pipelining = pipelining
        self.greetings = 0

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        self.greetings += 1
        session.host_name = hostname
        if self.pipelining:
            responses.insert(-1, "250-PIPELINING")
        return responses

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if address.startswith("nobody"):
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            self.messages.append((list(envelope.rcpt_tos), bytes(envelope.content)))
        return "250 Message accepted for delivery"

    def parsed(self) -> list[tuple[list[str], EmailMessage]]:
        with self.lock:
            return [
                (to, message_from_bytes(raw, policy=policy.default))  # type: ignore[misc]
                for to, raw in self.messages
            ]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def serving(handler: Any) -> Iterator[int]:
    """An aiosmtpd server on 127.0.0.1 with `handler`, for the duration; yields its port."""
    port = free_port()  # aiosmtpd's controller cannot be given port 0
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


@pytest.fixture
def sink() -> Iterator[tuple[Sink, int]]:
    handler = Sink()
    with serving(handler) as port:
        yield handler, port


def smtp_settings(port: int) -> dict[str, Any]:
    return {
        "EMAIL_BACKEND": "owabi.notices.mime.SMTPBackend",  # as the settings select it
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": port,
        "EMAIL_USE_TLS": False,
        "EMAIL_TIMEOUT": 10,  # a client out of step with the server fails instead of waiting for ever
    }
