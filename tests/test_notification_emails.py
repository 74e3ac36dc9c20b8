"""Email notifications, sent to a real SMTP server (aiosmtpd on 127.0.0.1): the message a
member gets for one event (both parts, links, headers), what a private video's prompt
never reaches, the member's choices (off, now, daily digest), exactly once under
retries and under several processes at once, and the preferences page."""

from __future__ import annotations

from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import time_machine
from aiosmtpd.smtp import AuthResult
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_q.models import Schedule

from videostudio.notifications import apps as notification_apps
from videostudio.notifications import emails, tasks
from videostudio.notifications.delivery import deliveries_send
from videostudio.notifications.models import (
    Delivery,
    DeliveryAttempt,
    EmailPreference,
    Event,
)
from videostudio.videos import events as ev
from videostudio.videos import states
from videostudio.videos.events import Happening
from videostudio.videos.models import Video

from .conftest import make_user
from .factories import a_video
from .helpers import together
from .mail_kit import SITE, MailServer, point_at, smtp
from .stock_words import assert_own_words

# The delivery loop sends from threads, each on its own database connection: they must
# see what the test wrote, so every test commits for real.
pytestmark = pytest.mark.django_db(transaction=True)
__all__ = ["smtp"]  # a fixture, used by name
ROOT = Path(__file__).resolve().parent.parent


# --- Helpers ----------------------------------------------------------------------------------


def member(name: str, **extra: Any) -> User:
    return make_user(name, email=f"{name}@example.com", **extra)


def finish(video: Video) -> None:
    """The tracker saw the job complete and saved its files: the real move, which tells
    its owner."""
    now = timezone.now()
    assert states.video_observed(
        video,
        fields={"status": Video.Status.COMPLETED, "progress": 100, "completed_at": now,
                "archived_at": now, "video_file": "videos/x/video.mp4"},
    )  # fmt: skip


def text_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


def html_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("html",))
    assert part is not None
    return str(part.get_content())


def send_all() -> int:
    """Everything due, as the worker's loop would (one batch suffices here)."""
    return deliveries_send()


# --- One email for one event -----------------------------------------------------------------


def test_a_finished_video_is_emailed_to_its_owner(smtp: MailServer) -> None:
    owner = member("olivia")
    video = a_video(owner=owner, running=True, prompt="a heron lifting off a misty lake")
    finish(video)
    delivery = Delivery.objects.get(channel=Delivery.Channel.EMAIL)
    assert delivery.recipient == owner and not delivery.digest

    assert send_all() == 1

    [message] = smtp.inbox.messages
    assert message["To"] == "olivia@example.com"
    assert message["X-Envelope-To"] == "olivia@example.com"
    assert message["From"] == "videostudio <studio@example.com>"
    assert message["Subject"] == "videostudio: Your video is ready"
    assert message["Message-ID"] == f"<videostudio.delivery.{delivery.pk}@studio.example.com>"
    assert message["Videostudio-Delivery"] == str(delivery.pk)
    assert message["Auto-Submitted"] == "auto-generated"
    link = SITE + reverse("videos:detail", args=[video.pk])
    preferences = SITE + reverse("notifications:settings")
    text, html = text_of(message), html_of(message)
    assert "“a heron lifting off a misty lake” finished and is saved." in text
    assert f"Open it: {link}" in text and preferences in text
    assert f'href="{link}"' in html and f'href="{preferences}"' in html
    assert "a heron lifting off a misty lake" in html
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.SENT and delivery.sent_at is not None
    [attempt] = DeliveryAttempt.objects.filter(delivery=delivery)
    assert attempt.ok and attempt.latency_ms is not None
    # Sent is sent: the next round has nothing to do.
    assert send_all() == 0
    assert len(smtp.inbox.messages) == 1


def test_a_private_videos_prompt_reaches_its_owner_only(smtp: MailServer) -> None:
    owner = member("olivia", is_staff=True)
    member("stella", is_staff=True)
    video = a_video(owner=owner, private=True, prompt="the secret launch teaser", title="Project K")
    ev.emit(
        Happening(
            kind=ev.ARCHIVE_AT_RISK,
            key=f"archive.at_risk:{video.pk}",
            video_id=video.pk,
            data={"expires_text": "14:05"},
        )
    )
    assert send_all() == 2

    [theirs] = smtp.inbox.to("stella@example.com")
    raw = theirs.as_string()
    assert "secret launch teaser" not in raw and "Project K" not in raw
    assert reverse("videos:detail", args=[video.pk]) not in raw
    assert "a private video (by olivia) is not saved here" in text_of(theirs)
    assert "a private video (by olivia)" in html_of(theirs)
    # Its owner (staff too) reads what it is.
    [own] = smtp.inbox.to("olivia@example.com")
    assert "“Project K” (by olivia)" in text_of(own)
    assert SITE + reverse("videos:detail", args=[video.pk]) in text_of(own)


def test_titles_and_prompts_with_markup_are_plain_in_text_and_escaped_in_html(
    smtp: MailServer,
) -> None:
    owner = member("olivia")
    video = a_video(owner=owner, running=True, prompt='cats & dogs <b>"loud"</b>')
    finish(video)
    send_all()
    [message] = smtp.inbox.messages
    assert 'cats & dogs <b>"loud"</b>' in text_of(message)
    assert "<b>" not in html_of(message) and "cats &amp; dogs &lt;b&gt;" in html_of(message)


# --- Choices ----------------------------------------------------------------------------------


def choose(client: Client, user: User, **choices: str) -> Any:
    client.force_login(user)
    return client.post(
        reverse("notifications:settings"),
        {f"email-{kind.replace('__', '.')}": choice for kind, choice in choices.items()},
    )


def test_off_sends_nothing(smtp: MailServer, client: Client) -> None:
    owner = member("olivia")
    assert choose(client, owner, video__completed="off").status_code == 302
    finish(a_video(owner=owner, running=True))
    assert Event.objects.filter(kind=ev.VIDEO_COMPLETED).exists()
    assert send_all() == 0
    assert emails.digests_send() == 0
    assert smtp.inbox.messages == []
    assert not Delivery.objects.filter(channel=Delivery.Channel.EMAIL).exists()


def test_the_digest_gathers_a_members_events_into_one_email_once(
    smtp: MailServer, client: Client
) -> None:
    owner, teammate = member("olivia"), member("theo")
    assert choose(client, owner, video__completed="digest").status_code == 302
    first = a_video(owner=owner, running=True, prompt="first light over the dunes")
    second = a_video(owner=owner, running=True, prompt="second wave at noon")
    finish(first)
    finish(second)
    # A teammate's remix: a digest by default.
    remix = a_video(owner=teammate, kind=Video.Kind.REMIX, parent=first, root=first, depth=1)
    ev.emit(
        Happening(
            kind=ev.VIDEO_REMIXED,
            key=f"video.remixed:{remix.pk}",
            video_id=remix.pk,
            user_id=owner.pk,
            actor_id=teammate.pk,
        )
    )
    # Theo's own job still mails him at once.
    finish(a_video(owner=teammate, running=True))

    assert send_all() == 1
    assert [m["To"] for m in smtp.inbox.messages] == ["theo@example.com"]
    waiting = Delivery.objects.filter(recipient=owner, digest=True)
    assert waiting.count() == 3 and all(d.status == "pending" for d in waiting)

    assert emails.digests_send() == 1
    [digest] = smtp.inbox.to("olivia@example.com")
    assert digest["Subject"] == "videostudio: your daily digest (3 notifications)"
    assert digest["Videostudio-Delivery"] == ",".join(
        str(pk)
        for pk in waiting.order_by("event__created_at", "event_id").values_list("pk", flat=True)
    )
    text, html = text_of(digest), html_of(digest)
    for words in ("first light over the dunes", "second wave at noon", "theo remixed your video"):
        assert words in text and words in html
    assert SITE + reverse("videos:detail", args=[remix.pk]) in text
    assert SITE + reverse("notifications:settings") in html
    assert set(waiting.values_list("status", flat=True)) == {"sent"}
    assert DeliveryAttempt.objects.filter(delivery__in=waiting, ok=True).count() == 3

    # Exactly once: nothing waits, nothing goes.
    assert emails.digests_send() == 0
    assert len(smtp.inbox.to("olivia@example.com")) == 1


# --- When the mail server fails ---------------------------------------------------------------


def test_a_server_that_is_down_is_tried_again_later_and_the_email_goes_once(
    smtp: MailServer,
) -> None:
    owner = member("olivia")
    smtp.stop()
    finish(a_video(owner=owner, running=True))
    before = timezone.now()

    assert send_all() == 1
    delivery = Delivery.objects.get(channel=Delivery.Channel.EMAIL)
    assert delivery.status == Delivery.Status.PENDING and delivery.attempts == 1
    assert delivery.next_attempt_at is not None and delivery.next_attempt_at > before + timedelta(
        seconds=20
    )  # VIDEOSTUDIO_NOTIFY_RETRY_SECONDS (30 s) with jitter
    assert delivery.lease_token is None
    [attempt] = delivery.tries.all()
    assert not attempt.ok
    assert attempt.error == f"The mail server at 127.0.0.1:{smtp.port} refused the connection."
    assert delivery.last_error == attempt.error
    assert send_all() == 0  # not due yet

    smtp.start()
    with time_machine.travel(delivery.next_attempt_at + timedelta(seconds=1), tick=True):
        assert send_all() == 1
        assert send_all() == 0
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.SENT and delivery.attempts == 2
    assert len(smtp.inbox.messages) == 1
    assert [t.ok for t in delivery.tries.order_by("at", "id")] == [False, True]


@pytest.mark.parametrize(
    ("reply", "status", "code", "error"),
    [
        (
            "550 5.1.1 No such mailbox",
            Delivery.Status.FAILED,
            550,
            "The mail server refused the member's address (550); not tried again.",
        ),
        (
            "450 4.2.1 Mailbox busy",
            Delivery.Status.PENDING,
            450,
            "The mail server turned the member's address away for now (450).",
        ),
    ],
)
def test_a_refused_address_is_given_up_on_only_when_the_refusal_is_permanent(
    smtp: MailServer, reply: str, status: str, code: int, error: str
) -> None:
    owner = member("olivia")
    smtp.inbox.refuse["olivia@example.com"] = reply
    finish(a_video(owner=owner, running=True))
    assert send_all() == 1
    delivery = Delivery.objects.get(channel=Delivery.Channel.EMAIL)
    assert delivery.status == status and delivery.last_error == error
    [attempt] = delivery.tries.all()
    assert attempt.status_code == code and attempt.error == error
    assert smtp.inbox.messages == []


def test_a_member_without_an_address_is_given_up_on_in_the_apps_words(smtp: MailServer) -> None:
    owner = member("olivia")
    finish(a_video(owner=owner, running=True))
    User.objects.filter(pk=owner.pk).update(email="")  # removed before the worker got to it
    assert send_all() == 1
    delivery = Delivery.objects.get(channel=Delivery.Channel.EMAIL)
    assert delivery.status == Delivery.Status.FAILED
    assert delivery.last_error == "The member has no email address on their account."
    assert smtp.inbox.messages == []


def test_a_refused_login_is_told_without_the_password(settings: Any) -> None:
    server = MailServer(
        authenticator=lambda *args: AuthResult(success=False, handled=False),
        auth_require_tls=False,
    )
    server.start()
    try:
        point_at(settings, server.port)
        settings.EMAIL_HOST_USER = "studio"
        settings.EMAIL_HOST_PASSWORD = "hunter2-correct-horse"
        owner = member("olivia")
        finish(a_video(owner=owner, running=True))
        assert send_all() == 1
    finally:
        server.stop()
    delivery = Delivery.objects.get(channel=Delivery.Channel.EMAIL)
    assert delivery.status == Delivery.Status.PENDING  # the deployment's to fix: tried again
    assert delivery.last_error.startswith(
        f"The mail server at 127.0.0.1:{server.port} refused the login (535)"
    )
    for text in [delivery.last_error, *delivery.tries.values_list("error", flat=True)]:
        assert "hunter2" not in text
    assert server.inbox.messages == []


def test_a_failed_digest_is_retried_for_its_member_only(smtp: MailServer, client: Client) -> None:
    owner, teammate = member("olivia"), member("theo")
    choose(client, owner, video__completed="digest")
    choose(client, teammate, video__completed="digest")
    finish(a_video(owner=owner, running=True, prompt="the one that waited"))
    smtp.stop()

    assert emails.digests_send() == 0
    waiting = Delivery.objects.get(recipient=owner)
    assert waiting.status == "pending" and waiting.attempts == 1
    assert waiting.next_attempt_at is not None and waiting.next_attempt_at > timezone.now()
    retry = Schedule.objects.get(name=emails.DIGEST_RETRY)
    assert retry.func == "videostudio.notifications.tasks.digest_retry"
    assert retry.next_run == waiting.next_attempt_at

    smtp.start()
    finish(a_video(owner=teammate, running=True))  # waits for Theo's daily digest
    with time_machine.travel(waiting.next_attempt_at + timedelta(seconds=1), tick=True):
        assert tasks.digest_retry() == "sent 1 digests again"
        assert emails.digests_send(retries_only=True) == 0
    [message] = smtp.inbox.messages
    assert message["To"] == "olivia@example.com" and "the one that waited" in text_of(message)
    assert Delivery.objects.get(recipient=teammate).status == "pending"
    assert emails.digests_send() == 1  # Theo's, at the daily run
    assert len(smtp.inbox.messages) == 2


# --- Several processes at once ----------------------------------------------------------------

SENDER = r"""
import json, sys, time
from django.conf import settings
settings.DATABASES["default"]["NAME"] = sys.argv[1]  # the test database
import django
django.setup()
from videostudio.notifications.delivery import deliveries_send
from videostudio.notifications.emails import digests_send
what = sys.argv[2]
print("ready", flush=True)
start = float(sys.stdin.readline())
while time.time() < start:
    time.sleep(0.002)
done = 0
if what == "digests":
    done = digests_send()
else:
    while True:
        tried = deliveries_send(most=3)
        if not tried:
            break
        done += tried
print(json.dumps({"done": done}))
"""


def run_together(what: str, port: int, processes: int = 3) -> list[int]:
    env = {"EMAIL_HOST": "127.0.0.1", "EMAIL_PORT": str(port), "VIDEOSTUDIO_SITE_URL": SITE,
           "EMAIL_URL": ""}  # fmt: skip
    return [report["done"] for report in together(SENDER, what, processes=processes, env=env)]


def test_senders_in_several_processes_send_each_email_once(smtp: MailServer) -> None:
    members = [member(f"member{i}") for i in range(6)]
    for index in range(30):
        finish(a_video(owner=members[index % 6], running=True))
    emailed = Delivery.objects.filter(channel=Delivery.Channel.EMAIL)
    assert emailed.count() == 30

    tried = run_together("deliveries", smtp.port)

    assert sum(tried) == 30
    ids = sorted(m["Message-ID"] for m in smtp.inbox.messages)
    assert ids == sorted(
        f"<videostudio.delivery.{pk}@studio.example.com>"
        for pk in emailed.values_list("pk", flat=True)
    )
    assert set(emailed.values_list("status", flat=True)) == {"sent"}
    assert DeliveryAttempt.objects.count() == 30


def test_digests_in_several_processes_go_once_per_member(smtp: MailServer) -> None:
    members = [member(f"member{i}") for i in range(8)]
    EmailPreference.objects.bulk_create(
        EmailPreference(user=user, kind=ev.VIDEO_COMPLETED, choice="digest") for user in members
    )
    for index in range(24):
        finish(a_video(owner=members[index % 8], running=True))

    sent = run_together("digests", smtp.port)

    assert sum(sent) == 8
    assert sorted(m["To"] for m in smtp.inbox.messages) == sorted(u.email for u in members)
    assert all("(3 notifications)" in m["Subject"] for m in smtp.inbox.messages)
    assert set(Delivery.objects.values_list("status", flat=True)) == {"sent"}
    assert DeliveryAttempt.objects.count() == 24


# --- The digest's hour ------------------------------------------------------------------------


def test_the_digest_runs_daily_at_the_digest_hour_in_local_time(settings: Any) -> None:
    settings.TIME_ZONE = "Europe/Paris"
    settings.VIDEOSTUDIO_DIGEST_HOUR = 7
    name = "videostudio: daily notification digest"
    notification_apps._ensure_schedules()
    schedule = Schedule.objects.get(name=name)
    at = timezone.localtime(schedule.next_run)
    assert (at.hour, at.minute, at.second) == (7, 0, 0)
    assert timezone.now() < schedule.next_run <= timezone.now() + timedelta(days=1)
    assert schedule.schedule_type == Schedule.DAILY

    # Migrating again keeps the run planned; a new hour moves it.
    notification_apps._ensure_schedules()
    assert Schedule.objects.get(name=name).next_run == schedule.next_run
    settings.VIDEOSTUDIO_DIGEST_HOUR = 19
    notification_apps._ensure_schedules()
    assert timezone.localtime(Schedule.objects.get(name=name).next_run).hour == 19


# --- The preferences page ---------------------------------------------------------------------


def page(client: Client) -> str:
    response = client.get(reverse("notifications:settings"))
    assert response.status_code == 200
    assert_own_words(response)
    return response.content.decode()


def test_the_page_shows_a_choice_per_kind_and_saves_them(client: Client, settings: Any) -> None:
    settings.VIDEOSTUDIO_PASSWORD_RESET = True
    owner = member("olivia")
    client.force_login(owner)
    html = page(client)
    assert "My video is ready" in html and "A teammate remixed my video" in html
    assert "The team is out of points" not in html  # staff only
    assert 'name="email-video.completed" value="now" checked' in html
    assert 'name="email-video.remixed" value="digest" checked' in html
    assert "<legend>My video is ready</legend>" in html
    assert "Emails go to olivia@example.com." in html

    response = client.post(
        reverse("notifications:settings"),
        {
            "email-video.completed": "digest",
            "email-video.remixed": "off",
            "email-video.failed": "now",
        },
        follow=True,
    )
    assert response.status_code == 200
    assert "Saved: 2 choices changed." in response.content.decode()
    assert dict(EmailPreference.objects.filter(user=owner).values_list("kind", "choice")) == {
        "video.completed": "digest",
        "video.remixed": "off",
    }  # the default (now, for a failure) is no row
    html = page(client)
    assert 'name="email-video.completed" value="digest" checked' in html
    assert 'name="email-video.remixed" value="off" checked' in html

    # Back to the default: the row goes, the choice reads the same.
    client.post(reverse("notifications:settings"), {"email-video.completed": "now"})
    assert not EmailPreference.objects.filter(user=owner, kind="video.completed").exists()
    assert 'name="email-video.completed" value="now" checked' in page(client)


def test_staff_choose_for_the_teams_events_too(client: Client, settings: Any) -> None:
    settings.VIDEOSTUDIO_PASSWORD_RESET = True
    staff = member("stella", is_staff=True)
    client.force_login(staff)
    assert 'name="email-team.out_of_points" value="now" checked' in page(client)
    client.post(reverse("notifications:settings"), {"email-archive.at_risk": "digest"})
    assert EmailPreference.objects.get(user=staff).choice == "digest"


@pytest.mark.parametrize(
    ("data", "said"),
    [
        (
            {"email-video.exploded": "now"},
            "“video.exploded” is not a kind of event you can get emails about",
        ),
        (
            {"email-team.out_of_points": "off"},
            "“team.out_of_points” is not a kind of event you can get",
        ),
        (
            {"email-video.completed": "sometimes"},
            "Choose Off, Immediately or Daily digest for “My video is ready”",
        ),
        (
            {"email-video.completed": ["off", "digest"]},
            "Choose Off, Immediately or Daily digest for “My video is ready”",
        ),
    ],
)
def test_junk_is_refused_in_the_apps_words_and_changes_nothing(
    client: Client, settings: Any, data: dict[str, Any], said: str
) -> None:
    settings.VIDEOSTUDIO_PASSWORD_RESET = True
    owner = member("olivia")
    EmailPreference.objects.create(user=owner, kind="video.failed", choice="off")
    client.force_login(owner)
    response = client.post(
        reverse("notifications:settings"), {"email-video.failed": "digest", **data}
    )
    assert response.status_code == 400
    assert_own_words(response)
    body = response.content.decode().replace("&#x201C;", "“").replace("&#x201D;", "”")
    assert said in body and "nothing was saved" in body
    assert list(EmailPreference.objects.values_list("kind", "choice")) == [("video.failed", "off")]


def test_a_form_without_choices_is_refused(client: Client, settings: Any) -> None:
    settings.VIDEOSTUDIO_PASSWORD_RESET = True
    client.force_login(member("olivia"))
    response = client.post(reverse("notifications:settings"), {"note": "hello"})
    assert response.status_code == 400
    assert "for each kind of event: nothing was saved." in response.content.decode()
    assert not EmailPreference.objects.exists()


def test_without_mail_the_page_says_so_and_takes_no_choice(client: Client, settings: Any) -> None:
    settings.VIDEOSTUDIO_PASSWORD_RESET = False
    owner = member("olivia")
    client.force_login(owner)
    html = page(client)
    assert "This studio is not set up to send email" in html
    assert '<fieldset class="kinds" disabled>' in html and ">Save</button>" not in html
    response = client.post(reverse("notifications:settings"), {"email-video.completed": "off"})
    assert response.status_code == 400
    assert "This studio does not send email: nothing was saved." in response.content.decode()
    assert not EmailPreference.objects.exists()


def test_a_member_without_an_address_is_told(client: Client, settings: Any) -> None:
    settings.VIDEOSTUDIO_PASSWORD_RESET = True
    client.force_login(make_user("noaddress"))
    assert "Your account has no email address, so no email can reach you." in page(client)


def test_the_page_is_for_members_only_and_linked_from_notifications(client: Client) -> None:
    response = client.get(reverse("notifications:settings"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    response = client.post(reverse("notifications:settings"), {"email-video.completed": "off"})
    assert response.status_code == 302 and not EmailPreference.objects.exists()
    client.force_login(member("olivia"))
    listing = client.get(reverse("notifications:list")).content.decode()
    assert f'href="{reverse("notifications:settings")}"' in listing
