"""Password reset works where mail is configured, and is not there at all where it is
not; a mail that cannot be sent is said so, without a traceback."""

from __future__ import annotations

import email
import logging
import re
import socketserver
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from django.core import mail
from django.core.exceptions import ImproperlyConfigured
from django.test import Client
from django.urls import reverse

from videostudio.env import CONSOLE, SMTP, email_settings

from .conftest import make_user
from .helpers import PASSWORD

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a brand new lighthouse keeper"


@pytest.fixture
def with_mail(settings: Any) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.VIDEOSTUDIO_PASSWORD_RESET = True


@pytest.fixture
def without_mail(settings: Any) -> None:
    settings.EMAIL_BACKEND = SMTP
    settings.VIDEOSTUDIO_PASSWORD_RESET = False


def test_a_member_resets_a_forgotten_password_by_mail(client: Client, with_mail: None) -> None:
    make_user("olivia", email="olivia@example.com")
    login = client.get(reverse("login")).content.decode()
    assert reverse("password_reset") in login
    form = client.get(reverse("password_reset"))
    assert form.status_code == 200 and 'class="topbar"' in form.content.decode()

    sent = client.post(reverse("password_reset"), {"email": "olivia@example.com"}, follow=True)
    assert "Check your mail" in sent.content.decode()
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["olivia@example.com"] and "olivia" in message.body
    link = re.search(r"https?://[^/\s]+(/accounts/reset/\S+/)", str(message.body))
    assert link is not None, message.body

    choose = client.get(link.group(1), follow=True)
    assert "Choose a new password" in choose.content.decode()
    done = client.post(
        choose.redirect_chain[-1][0],
        {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
        follow=True,
    )
    assert "Password set" in done.content.decode()
    fresh = Client()
    response = fresh.post(reverse("login"), {"username": "olivia", "password": NEW_PASSWORD})
    assert response.status_code == 302 and "_auth_user_id" in fresh.session
    # The link works once.
    again = client.get(link.group(1), follow=True)
    assert "does not work any more" in again.content.decode()


def test_an_unknown_address_gets_the_same_answer_and_no_mail(
    client: Client, with_mail: None
) -> None:
    make_user("olivia", email="olivia@example.com")
    response = client.post(reverse("password_reset"), {"email": "nobody@example.com"})
    assert response.status_code == 302 and response["Location"] == reverse("password_reset_done")
    assert mail.outbox == []


def test_without_mail_there_is_no_reset_to_fake(client: Client, without_mail: None) -> None:
    make_user("olivia", email="olivia@example.com")
    login = client.get(reverse("login")).content.decode()
    assert "password_reset" not in login and "Forgot" not in login
    for url in (
        reverse("password_reset"),
        reverse("password_reset_done"),
        reverse("password_reset_confirm", args=["MQ", "set-password"]),
        reverse("password_reset_complete"),
    ):
        response = client.get(url)
        assert response.status_code == 404, url
        assert "This studio sends no email" in response.content.decode()
    posted = client.post(reverse("password_reset"), {"email": "olivia@example.com"})
    assert posted.status_code == 404
    assert mail.outbox == []


def test_a_mail_server_that_does_not_answer_is_said_so_without_a_traceback(
    client: Client, settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    settings.VIDEOSTUDIO_PASSWORD_RESET = True
    settings.EMAIL_BACKEND = SMTP
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 9, 2
    make_user("olivia", email="olivia@example.com")
    with caplog.at_level(logging.INFO):
        response = client.post(reverse("password_reset"), {"email": "olivia@example.com"})
    assert response.status_code == 200
    page = response.content.decode()
    assert "could not be sent just now" in page and "Check your mail" not in page
    errors = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert errors and all(r.exc_info is None for r in caplog.records)
    assert "Password reset mail for user" in errors[0].getMessage()


def test_a_member_changes_their_password_on_an_app_page(client: Client, owner: Any) -> None:
    client.force_login(owner)
    page = client.get(reverse("password_change")).content.decode()
    assert 'class="topbar"' in page and "Change your password" in page
    response = client.post(
        reverse("password_change"),
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
        follow=True,
    )
    assert "Password changed" in response.content.decode()


class _SMTPHandler(socketserver.StreamRequestHandler):
    """Just enough SMTP to take one mail: what a relay does, minus the relaying."""

    def handle(self) -> None:
        server: Any = self.server
        self.wfile.write(b"220 test ESMTP\r\n")
        body: list[bytes] | None = None
        while line := self.rfile.readline():
            if body is not None:
                if line.rstrip(b"\r\n") == b".":
                    server.messages.append(b"".join(body))
                    body = None
                    self.wfile.write(b"250 queued\r\n")
                else:
                    body.append(line[1:] if line.startswith(b"..") else line)
                continue
            verb = line[:4].upper()
            if verb == b"DATA":
                body = []
                self.wfile.write(b"354 end with a dot\r\n")
            elif verb == b"QUIT":
                self.wfile.write(b"221 bye\r\n")
                return
            else:
                self.wfile.write(b"250 OK\r\n")


@pytest.fixture
def smtp_server() -> Iterator[Any]:
    server: Any = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _SMTPHandler)
    server.daemon_threads = True
    server.messages = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_the_mail_goes_out_over_real_smtp_and_its_link_works(
    client: Client, settings: Any, smtp_server: Any
) -> None:
    settings.VIDEOSTUDIO_PASSWORD_RESET = True
    settings.EMAIL_BACKEND = SMTP
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", smtp_server.server_address[1]
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    make_user("olivia", email="olivia@example.com")
    response = client.post(reverse("password_reset"), {"email": "olivia@example.com"})
    assert response.status_code == 302
    assert len(smtp_server.messages) == 1
    message = email.message_from_bytes(smtp_server.messages[0])
    assert message["To"] == "olivia@example.com"
    assert message["Subject"] == "Your videostudio password"
    payload = message.get_payload(decode=True)
    assert isinstance(payload, bytes)
    link = re.search(r"https?://[^/\s]+(/accounts/reset/\S+/)", payload.decode())
    assert link is not None
    choose = client.get(link.group(1), follow=True)
    assert "Choose a new password" in choose.content.decode()


# --- Mail settings from the environment -----------------------------------------------


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("EMAIL_URL", "EMAIL_HOST", "EMAIL_PORT", "EMAIL_HOST_USER",
                 "EMAIL_HOST_PASSWORD", "EMAIL_USE_TLS", "EMAIL_USE_SSL"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_email_url_gives_host_port_login_and_tls(env: pytest.MonkeyPatch) -> None:
    env.setenv("EMAIL_URL", "smtp+tls://studio%40example.com:s%3Acret@mail.example.com:2525")
    found = email_settings(demo=False)
    assert found.enabled and found.backend == SMTP
    assert (found.host, found.port, found.user, found.password) == (
        "mail.example.com", 2525, "studio@example.com", "s:cret"
    )  # fmt: skip
    assert found.use_tls and not found.use_ssl
    env.setenv("EMAIL_URL", "smtps://mail.example.com")
    found = email_settings(demo=False)
    assert found.use_ssl and found.port == 465
    env.setenv("EMAIL_URL", "smtp://relay")
    assert email_settings(demo=False).port == 25


def test_email_host_and_friends_work_too(env: pytest.MonkeyPatch) -> None:
    env.setenv("EMAIL_HOST", "mail.example.com")
    env.setenv("EMAIL_USE_TLS", "true")
    env.setenv("EMAIL_HOST_USER", "studio")
    found = email_settings(demo=False)
    assert found.enabled and found.port == 587 and found.use_tls and found.user == "studio"


def test_no_mail_settings_mean_the_console_in_demo_mode_and_none_otherwise(
    env: pytest.MonkeyPatch,
) -> None:
    demo = email_settings(demo=True)
    assert demo.enabled and demo.backend == CONSOLE
    assert not email_settings(demo=False).enabled


@pytest.mark.parametrize(
    "url", ["http://mail.example.com", "smtp://", "smtp://mail.example.com:port"]
)
def test_a_wrong_email_url_stops_the_start(env: pytest.MonkeyPatch, url: str) -> None:
    env.setenv("EMAIL_URL", url)
    with pytest.raises(ImproperlyConfigured, match="EMAIL_URL"):
        email_settings(demo=False)
