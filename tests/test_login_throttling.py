"""Login throttling (django-axes): wrong passwords lock the account and the address
out for a while, with the login page saying so; staff unlock in the admin; only
configured proxies are believed about the client's address."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from axes.models import AccessAttempt
from django.core.management import call_command
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import timezone
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from videostudio.accounts.addresses import client_ip

from .helpers import PASSWORD

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"
LOCKED = "Too many failed sign-ins for this account or address"


def attempt(client: Client, username: str, password: str, **meta: Any) -> Any:
    return client.post(LOGIN, {"username": username, "password": password}, **meta)


def logged_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def test_the_fifth_wrong_password_locks_the_account_and_the_right_one_is_then_refused(
    client: Client, owner: Any
) -> None:
    for _ in range(4):
        response = attempt(client, "olivia", "wrong")
        assert response.status_code == 200
        assert LOCKED not in response.content.decode()
    fifth = attempt(client, "olivia", "wrong")
    assert fifth.status_code == 429
    page = fifth.content.decode()
    assert LOCKED in page
    assert "Try again in 15 minutes, or ask an admin to unlock it." in page
    assert 'class="topbar"' in page and 'name="password"' in page  # the normal layout
    right = attempt(client, "olivia", PASSWORD)
    assert right.status_code == 429 and LOCKED in right.content.decode()
    assert not logged_in(client)


def test_a_locked_account_stays_locked_from_every_address(client: Client, owner: Any) -> None:
    for n in range(5):
        attempt(client, "olivia", "wrong", REMOTE_ADDR=f"198.51.100.{n}")
    response = attempt(client, "olivia", PASSWORD, REMOTE_ADDR="203.0.113.77")
    assert response.status_code == 429
    assert not logged_in(client)


def test_a_locked_address_is_refused_for_every_account_but_others_get_in(
    client: Client, owner: Any, teammate: Any
) -> None:
    for n in range(5):
        attempt(client, f"guess{n}", "wrong", REMOTE_ADDR="198.51.100.9")
    assert attempt(client, "theo", PASSWORD, REMOTE_ADDR="198.51.100.9").status_code == 429
    assert not logged_in(client)
    elsewhere = attempt(client, "theo", PASSWORD, REMOTE_ADDR="203.0.113.5")
    assert elsewhere.status_code == 302 and logged_in(client)


def test_the_limit_and_the_time_come_from_the_settings(
    client: Client, owner: Any, settings: Any
) -> None:
    settings.AXES_FAILURE_LIMIT = 2
    settings.VIDEOSTUDIO_LOCKOUT_MINUTES = settings_minutes = 40
    settings.AXES_COOLOFF_TIME = timedelta(minutes=settings_minutes)
    assert attempt(client, "olivia", "wrong").status_code == 200
    second = attempt(client, "olivia", "wrong")
    assert second.status_code == 429
    assert "Try again in 40 minutes" in second.content.decode()


def test_the_lock_out_ends_after_the_cool_off(client: Client, owner: Any) -> None:
    start = timezone.now()
    with time_machine.travel(start, tick=False) as traveller:
        for _ in range(5):
            attempt(client, "olivia", "wrong")
        traveller.shift(timedelta(minutes=14))
        assert attempt(client, "olivia", PASSWORD).status_code == 429
        # Attempts while locked out do not stretch it: 15 minutes from the fifth failure.
        traveller.shift(timedelta(minutes=1, seconds=5))
        response = attempt(client, "olivia", PASSWORD)
    assert response.status_code == 302 and logged_in(client)


def test_a_forged_x_forwarded_for_does_not_dodge_the_address_lock(
    client: Client, owner: Any, teammate: Any
) -> None:
    for n in range(5):
        attempt(client, f"guess{n}", "wrong", HTTP_X_FORWARDED_FOR=f"192.0.2.{n}")
    response = attempt(client, "theo", PASSWORD, HTTP_X_FORWARDED_FOR="192.0.2.200")
    assert response.status_code == 429
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"127.0.0.1"}


def test_behind_a_trusted_proxy_each_client_is_counted_apart(
    client: Client, owner: Any, teammate: Any, settings: Any
) -> None:
    settings.VIDEOSTUDIO_TRUSTED_PROXIES = 1
    proxy = {"REMOTE_ADDR": "10.0.0.2"}
    for n in range(5):
        # nginx appends the address it saw; whatever the client sent stays on the left.
        forwarded = f"192.0.2.{n}, 203.0.113.50"
        attempt(client, f"guess{n}", "wrong", HTTP_X_FORWARDED_FOR=forwarded, **proxy)
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"203.0.113.50"}
    locked = attempt(client, "theo", PASSWORD, HTTP_X_FORWARDED_FOR="203.0.113.50", **proxy)
    assert locked.status_code == 429
    other = attempt(client, "theo", PASSWORD, HTTP_X_FORWARDED_FOR="198.51.100.4", **proxy)
    assert other.status_code == 302 and logged_in(client)


def test_staff_unlock_an_account_in_the_admin(client: Client, owner: Any, staff: Any) -> None:
    for _ in range(5):
        attempt(client, "olivia", "wrong")
    assert attempt(client, "olivia", PASSWORD).status_code == 429
    staff.is_superuser = True
    staff.save()
    admin = Client()
    admin.force_login(staff)
    listing = admin.get(reverse("admin:axes_accessattempt_changelist"))
    assert listing.status_code == 200 and "olivia" in listing.content.decode()
    ids = [str(pk) for pk in AccessAttempt.objects.values_list("pk", flat=True)]
    done = admin.post(
        reverse("admin:axes_accessattempt_changelist"),
        {"action": "unlock", "_selected_action": ids},
        follow=True,
    )
    assert "Unlocked olivia from 127.0.0.1: they can sign in again." in done.content.decode()
    assert not AccessAttempt.objects.exists()
    assert attempt(client, "olivia", PASSWORD).status_code == 302 and logged_in(client)


def test_the_command_line_lifts_a_lock_out_when_every_admin_is_locked_out(
    client: Client, owner: Any
) -> None:
    for _ in range(5):
        attempt(client, "olivia", "wrong")
    assert attempt(client, "olivia", PASSWORD).status_code == 429
    call_command("axes_reset_username", "olivia", stdout=io.StringIO())
    assert attempt(client, "olivia", PASSWORD).status_code == 302 and logged_in(client)


def test_the_admin_login_is_throttled_too(client: Client, staff: Any) -> None:
    url = reverse("admin:login")
    for _ in range(5):
        client.post(url, {"username": "stella", "password": "wrong"})
    response = client.post(url, {"username": "stella", "password": PASSWORD})
    assert response.status_code == 429 and LOCKED in response.content.decode()
    assert not logged_in(client)


def test_lock_outs_live_in_the_database_shared_by_every_process(
    client: Client, owner: Any, settings: Any
) -> None:
    assert settings.AXES_HANDLER == "axes.handlers.database.AxesDatabaseHandler"
    for _ in range(5):
        attempt(client, "olivia", "wrong")
    # Another process is another client with nothing in memory: the database decides.
    assert attempt(Client(), "olivia", PASSWORD).status_code == 429


# --- The client's address ------------------------------------------------------------


def address(remote: str, forwarded: str | None = None) -> str | None:
    meta: dict[str, Any] = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        meta["HTTP_X_FORWARDED_FOR"] = forwarded
    return client_ip(RequestFactory().get("/", **meta))


def test_without_trusted_proxies_only_the_socket_counts(settings: Any) -> None:
    settings.VIDEOSTUDIO_TRUSTED_PROXIES = 0
    assert address("10.0.0.2", "203.0.113.7") == "10.0.0.2"


def test_trusted_proxies_by_address_are_walked_from_the_right(settings: Any) -> None:
    settings.VIDEOSTUDIO_TRUSTED_PROXIES = ("10.0.0.0/8", "172.16.0.5/32")
    assert address("10.0.0.2", "192.0.2.1, 203.0.113.7, 172.16.0.5") == "203.0.113.7"
    # Straight from an address that is not a proxy: its header is not believed.
    assert address("198.51.100.3", "203.0.113.7") == "198.51.100.3"
    # A proxy with nothing to say: the proxy itself.
    assert address("10.0.0.2") == "10.0.0.2"
    assert address("10.0.0.2", "not-an-address") == "10.0.0.2"


ipv4 = st.ip_addresses(v=4).map(str)


@hypothesis_settings(max_examples=200, deadline=None)
@given(
    forged=st.lists(st.one_of(ipv4, st.text(max_size=12)), max_size=5),
    client=ipv4,
    hops=st.lists(ipv4, min_size=0, max_size=3),
)
def test_whatever_a_client_prepends_it_is_seen_at_its_own_address(
    forged: list[str], client: str, hops: list[str]
) -> None:
    """With N trusted proxies, each appending what it saw, the address found is the
    client's own whatever it wrote into X-Forwarded-For itself."""
    from django.test.utils import override_settings

    proxies = len(hops) + 1  # the hops between, then the one the app sees
    chain = [*(f.replace(",", "") for f in forged), client, *hops]
    with override_settings(VIDEOSTUDIO_TRUSTED_PROXIES=proxies):
        assert address("10.9.9.9", ", ".join(chain)) == client


def test_the_test_clients_login_works_when_given_a_request(client: Client, owner: Any) -> None:
    from django.http import HttpRequest

    assert client.login(request=HttpRequest(), username="olivia", password=PASSWORD)
    assert logged_in(client)
