"""The webhook pages, as each persona sees them: a member's own webhooks (nobody
else's), staff's team-wide ones, the secret shown once, the test event, the log,
and every refusal in the app's own words with what was typed kept."""

from __future__ import annotations

import html
import re
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from videostudio.notifications import delivery
from videostudio.notifications.models import Delivery, DeliveryAttempt, Event, Webhook
from videostudio.videos import events as ev

from . import test_webhooks
from .stock_words import assert_own_words
from .test_idrefs import check

pytestmark = pytest.mark.django_db

receiver = test_webhooks.receiver  # the real HTTP receiver, as a fixture here too

PUBLIC = "https://8.8.8.8/hooks/videostudio"  # an address, not a name: nothing to look up


def text(response: Any) -> str:
    assert_own_words(response)
    return html.unescape(response.content.decode())


def new(client: Client, **data: Any) -> Any:
    form = {"name": "Render farm", "url": PUBLIC, "format": "json", **data}
    return client.post(reverse("notifications:webhook_new"), form)


def a_webhook(owner: User | None, **fields: Any) -> Webhook:
    fields.setdefault("name", "Team chat" if owner is None else f"{owner.username}'s hook")
    return Webhook.objects.create(owner=owner, url=PUBLIC, **fields)


def pages(webhook: Webhook) -> list[tuple[str, str]]:
    """Every page of one webhook, with the method it takes."""
    return [
        ("get", reverse("notifications:webhook", args=[webhook.pk])),
        ("post", reverse("notifications:webhook", args=[webhook.pk])),
        ("get", reverse("notifications:webhook_log", args=[webhook.pk])),
        ("get", reverse("notifications:webhook_delete", args=[webhook.pk])),
        ("post", reverse("notifications:webhook_delete", args=[webhook.pk])),
        ("post", reverse("notifications:webhook_enable", args=[webhook.pk])),
        ("post", reverse("notifications:webhook_test", args=[webhook.pk])),
        ("post", reverse("notifications:webhook_secret", args=[webhook.pk])),
    ]


# --- Who sees what -------------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_log_in(client: Client, owner: User) -> None:
    webhook = a_webhook(owner)
    for method, url in [("get", reverse("notifications:webhooks")), *pages(webhook)]:
        response = getattr(client, method)(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("login")), url
    assert Webhook.objects.filter(pk=webhook.pk).exists()


def test_a_teammate_cannot_see_or_touch_a_members_webhook(
    client: Client, owner: User, teammate: User
) -> None:
    webhook = a_webhook(owner, name="Olivia's farm")
    secret = webhook.secret
    client.force_login(teammate)
    assert "Olivia's farm" not in text(client.get(reverse("notifications:webhooks")))
    for method, url in pages(webhook):
        assert getattr(client, method)(url).status_code == 404, (method, url)
    webhook.refresh_from_db()
    assert webhook.secret == secret and webhook.active
    assert not Event.objects.exists()


def test_staff_see_the_teams_webhooks_but_not_another_members(
    client: Client, owner: User, staff: User
) -> None:
    mine = a_webhook(owner, name="Olivia's farm")
    team = a_webhook(None, name="Team chat")
    client.force_login(staff)
    page = text(client.get(reverse("notifications:webhooks")))
    assert "The team's" in page and "Team chat" in page
    assert "Olivia's farm" not in page
    assert client.get(reverse("notifications:webhook", args=[team.pk])).status_code == 200
    assert client.get(reverse("notifications:webhook_log", args=[team.pk])).status_code == 200
    for method, url in pages(mine):
        assert getattr(client, method)(url).status_code == 404, (method, url)


def test_members_never_see_nor_make_team_wide_webhooks(client: Client, owner: User) -> None:
    team = a_webhook(None, name="Team chat")
    client.force_login(owner)
    page = text(client.get(reverse("notifications:webhooks")))
    assert "Team chat" not in page and "The team's" not in page
    assert "For the whole team" not in text(client.get(reverse("notifications:webhook_new")))
    for method, url in pages(team):
        assert getattr(client, method)(url).status_code == 404, (method, url)
    # Asking for one by hand makes the member's own.
    response = new(client, team="on")
    assert response.status_code == 302
    assert Webhook.objects.get(name="Render farm").owner == owner


def test_staff_set_up_a_team_wide_webhook(client: Client, staff: User) -> None:
    client.force_login(staff)
    refused = new(client, team="on", kinds=[ev.VIDEO_COMPLETED, ev.BUDGET_WARNING])
    assert refused.status_code == 200
    assert (
        "A team-wide webhook is not sent a member's own events: untick I have used 80% of my "
        "monthly budget." in text(refused)
    )
    assert not Webhook.objects.exists()
    response = new(client, team="on", name="Team chat", kinds=[ev.VIDEO_COMPLETED])
    assert response.status_code == 302
    made = Webhook.objects.get()
    assert made.owner is None and made.created_by == staff and made.kinds == [ev.VIDEO_COMPLETED]
    page = text(client.get(response["Location"]))
    assert "Team-wide webhook" in page


def test_the_notifications_page_links_to_the_webhooks(client: Client, owner: User) -> None:
    client.force_login(owner)
    page = client.get(reverse("notifications:list")).content.decode()
    assert f'href="{reverse("notifications:webhooks")}"' in page


# --- The secret --------------------------------------------------------------------------


def test_the_secret_is_shown_once_after_it_is_made_and_after_a_new_one(
    client: Client, owner: User
) -> None:
    client.force_login(owner)
    response = new(client, kinds=[ev.VIDEO_COMPLETED, ev.VIDEO_FAILED])
    made = Webhook.objects.get()
    assert made.owner == owner and made.url == PUBLIC
    assert made.kinds == [ev.VIDEO_COMPLETED, ev.VIDEO_FAILED]
    first = client.get(response["Location"])
    assert made.secret in text(first)
    assert "it is shown only this once" in text(first)
    assert "no-store" in first["Cache-Control"]
    again = text(client.get(response["Location"]))
    assert made.secret not in again
    assert f"…{made.secret[-4:]}" in again

    rotated = client.post(reverse("notifications:webhook_secret", args=[made.pk]))
    made.refresh_from_db()
    shown = text(client.get(rotated["Location"]))
    assert made.secret in shown and "A new secret is made" in shown
    assert made.secret not in text(client.get(rotated["Location"]))
    assert made.secret not in text(client.get(reverse("notifications:webhooks")))
    assert made.secret not in text(client.get(reverse("notifications:webhook_log", args=[made.pk])))


# --- Changing, turning on, deleting -------------------------------------------------------


def test_a_webhook_is_changed_on_its_page(client: Client, owner: User) -> None:
    webhook = a_webhook(owner)
    client.force_login(owner)
    url = reverse("notifications:webhook", args=[webhook.pk])
    page = check(client.get(url))
    assert "Settings" in page
    response = client.post(
        url,
        {
            "name": "Chat",
            "url": "https://8.8.4.4/slack",
            "format": "slack",
            "kinds": ["video.failed"],
        },
    )
    assert response.status_code == 302
    webhook.refresh_from_db()
    assert (webhook.name, webhook.url, webhook.format, webhook.kinds) == (
        "Chat",
        "https://8.8.4.4/slack",
        "slack",
        ["video.failed"],
    )


def test_a_webhook_turned_off_says_why_and_is_turned_on_again(client: Client, owner: User) -> None:
    webhook = a_webhook(
        owner,
        active=False,
        disabled_at=timezone.now(),
        disabled_reason="The receiver answered 500 (Internal Server Error).",
        consecutive_failures=15,
    )
    client.force_login(owner)
    page = text(client.get(reverse("notifications:webhook", args=[webhook.pk])))
    assert "The receiver answered 500 (Internal Server Error)." in page
    assert "Turn it on again" in page and "Send a test event" not in page
    refused = client.post(reverse("notifications:webhook_test", args=[webhook.pk]), follow=True)
    assert "This webhook is off: turn it on again first" in text(refused)
    assert not Event.objects.exists()
    response = client.post(reverse("notifications:webhook_enable", args=[webhook.pk]), follow=True)
    assert "is on again" in text(response)
    webhook.refresh_from_db()
    assert webhook.active and webhook.consecutive_failures == 0 and not webhook.disabled_reason


def test_a_webhook_is_deleted_after_asking(client: Client, owner: User) -> None:
    webhook = a_webhook(owner, name="Old farm")
    client.force_login(owner)
    url = reverse("notifications:webhook_delete", args=[webhook.pk])
    assert "Delete this webhook?" in text(client.get(url))
    assert Webhook.objects.filter(pk=webhook.pk).exists()
    response = client.post(url, follow=True)
    assert "Webhook “Old farm” is deleted" in text(response)
    assert not Webhook.objects.filter(pk=webhook.pk).exists()


# --- Bad input ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"name": ""}, "Fill in “Name”."),
        ({"name": "x" * 101}, "“Name” is 101 characters long; the limit is 100."),
        ({"url": ""}, "Fill in “Address”."),
        ({"url": "not an address at all"}, "“Address” takes a web address, such as"),
        ({"url": "ftp://8.8.8.8/x"}, "Webhooks call http:// and https:// addresses only."),
        (
            {"url": "https://8.8.8.8/" + "x" * 500},
            "“Address” is 516 characters long; the limit is 500.",
        ),
        ({"url": "https://8.8.8.8:99999/x"}, "There is no port 99999: ports go from 1 to 65535."),
        ({"format": "xml"}, "“xml” is not one of the choices for “Format”: choose JSON or Slack"),
        ({"kinds": ["video.nope"]}, "“video.nope” is not one of the choices for “Events”"),
        ({"kinds": [ev.TEAM_OUT_OF_POINTS]}, "“team.out_of_points” is not one of the choices"),
        ({"name": "a\x00b"}, "“Name” holds an invisible NUL character"),
    ],
)
def test_junk_is_refused_in_words_and_what_was_typed_is_kept(
    client: Client, owner: User, change: dict[str, Any], message: str
) -> None:
    client.force_login(owner)
    data = {"name": "Render farm", "url": PUBLIC, "format": "json", **change}
    response = client.post(reverse("notifications:webhook_new"), data)
    assert response.status_code == 200
    page = text(response)
    assert message in page
    if "name" not in change:
        assert 'value="Render farm"' in response.content.decode()
    assert not Webhook.objects.exists()
    check(response)  # its references hold with the errors shown


REFUSED = {
    "http://127.0.0.1/hook": "“127.0.0.1” is a loopback address (this server itself)",
    "http://localhost:8000/hook": "“localhost” is this server itself",
    "http://10.0.0.1/hook": "“10.0.0.1” is a private address",
    "http://169.254.169.254/latest/meta-data/": "“169.254.169.254” is a link-local address",
    "http://[::1]/hook": "“::1” is a loopback address",
    "http://[::ffff:127.0.0.1]/hook": "“::ffff:127.0.0.1” is a loopback address",
}


@pytest.mark.parametrize("url", list(REFUSED))
def test_an_address_inside_the_network_is_refused_when_saved(
    client: Client, owner: User, url: str, settings: Any
) -> None:
    settings.VIDEOSTUDIO_WEBHOOK_ALLOW_PRIVATE = False
    client.force_login(owner)
    response = new(client, url=url)
    assert response.status_code == 200
    page = text(response)
    assert REFUSED[url] in page
    assert "webhooks may call only addresses on the public internet here" in page
    assert not Webhook.objects.exists()
    # Changing an existing one to it is refused too.
    webhook = a_webhook(owner)
    edited = client.post(
        reverse("notifications:webhook", args=[webhook.pk]),
        {"name": "x", "url": url, "format": "json"},
    )
    assert REFUSED[url] in text(edited)
    webhook.refresh_from_db()
    assert webhook.url == PUBLIC
    # With the rule lifted, it is taken.
    settings.VIDEOSTUDIO_WEBHOOK_ALLOW_PRIVATE = True
    assert new(client, url=url).status_code == 302


def test_a_host_not_found_is_saved_and_said(client: Client, owner: User) -> None:
    """`.invalid` never resolves: the webhook is kept (the name may exist later), and said."""
    client.force_login(owner)
    response = new(client, url="https://hooks.example.invalid/x")
    assert response.status_code == 302
    page = text(client.get(response["Location"]))
    assert "The host “hooks.example.invalid” cannot be found. Calls fail until it can be." in page


# --- The test event and the log -----------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_send_test_event_reaches_the_receiver_and_the_log_shows_it(
    client: Client, owner: User, receiver: test_webhooks.Receiver
) -> None:
    client.force_login(owner)
    response = new(client, url=receiver.url("/flaky"))  # 500 first, then 200
    webhook = Webhook.objects.get()
    receiver.secrets["/flaky"] = webhook.secret
    said = client.post(reverse("notifications:webhook_test", args=[webhook.pk]), follow=True)
    assert "A test event is on its way" in text(said)
    assert response["Location"] == said.redirect_chain[-1][0]
    test = Delivery.objects.get(webhook=webhook)
    assert test.event.kind == ev.TEST and test.event.key.startswith("test:")
    delivery.deliveries_send()
    delivery.deliveries_send(now=timezone.now() + timedelta(minutes=5))  # past the backoff
    (first, second) = receiver.seen("/flaky")
    assert first.headers["Videostudio-Delivery"] == second.headers["Videostudio-Delivery"]
    assert second.valid and second.json["type"] == "test"

    log = check(client.get(reverse("notifications:webhook_log", args=[webhook.pk])))
    page = html.unescape(log)
    assert "Test event" in page and "Sent" in page and "2 tries" in page
    assert "The receiver answered 500 (Internal Server Error)." in page
    rows = re.findall(r"<td>(\d{3})</td>", log)
    assert rows == ["200", "500"]  # newest first
    assert all(t.latency_ms is not None for t in DeliveryAttempt.objects.all())


def test_the_log_is_paged(client: Client, owner: User) -> None:
    webhook = a_webhook(owner)
    for n in range(25):
        event = Event.objects.create(kind=ev.TEST, key=f"test:{n}")
        Delivery.objects.create(event=event, channel=Delivery.Channel.WEBHOOK, webhook=webhook)
    client.force_login(owner)
    url = reverse("notifications:webhook_log", args=[webhook.pk])
    first = check(client.get(url))
    assert first.count('class="delivery ') == 20 and "Page 1 of 2" in first
    assert check(client.get(url, {"page": 2})).count('class="delivery ') == 5
    junk = text(client.get(url, {"page": "many"}))
    assert "“many” is not a page number: the first page is shown." in junk
    assert "There is no page 9" in text(client.get(url, {"page": 9}))


def test_every_page_holds_its_references(client: Client, owner: User, staff: User) -> None:
    client.force_login(staff)
    webhook = a_webhook(staff)
    check(client.get(reverse("notifications:webhooks")))
    check(client.get(reverse("notifications:webhook_new")))
    check(new(client, name="", url="nope", kinds=["x"]))
    check(client.get(reverse("notifications:webhook", args=[webhook.pk])))
    check(client.get(reverse("notifications:webhook_delete", args=[webhook.pk])))
    check(client.get(reverse("notifications:webhook_log", args=[webhook.pk])))
