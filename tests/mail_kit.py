"""A real SMTP server for the tests (aiosmtpd on 127.0.0.1): `smtp` starts one and
points the studio's mail settings at it; `smtp.inbox` holds what it received."""

from __future__ import annotations

import email
import email.policy
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller

SITE = "https://studio.example.com"
SMTP_BACKEND = "django.core.mail.backends.smtp.EmailBackend"


@dataclass
class Inbox:
    """What the server received; `refuse` maps an address to the reply its RCPT gets."""

    messages: list[EmailMessage] = field(default_factory=list)
    refuse: dict[str, str] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        message["X-Envelope-To"] = ", ".join(envelope.rcpt_tos)
        with self.lock:
            self.messages.append(message)
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if m["To"] == address]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class MailServer:
    def __init__(self, **smtp: Any) -> None:
        self.inbox = Inbox()
        self.port = free_port()
        self.smtp = smtp
        self.controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(
            self.inbox, hostname="127.0.0.1", port=self.port, ready_timeout=10, **self.smtp
        )
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


def point_at(settings: Any, port: int) -> None:
    settings.EMAIL_BACKEND = SMTP_BACKEND
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = port
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 5
    settings.VIDEOSTUDIO_PASSWORD_RESET = True  # services.email_enabled()
    settings.VIDEOSTUDIO_SITE_URL = SITE
    settings.DEFAULT_FROM_EMAIL = "videostudio <studio@example.com>"


@pytest.fixture
def smtp(settings: Any) -> Iterator[MailServer]:
    server = MailServer()
    server.start()
    point_at(settings, server.port)
    yield server
    server.stop()
