"""Personal access tokens: made and shown once, kept only as a digest, refused once
revoked or expired or their member is switched off; and the pages where members make
and revoke theirs (and only theirs) and staff see and revoke everyone's."""

from __future__ import annotations

import hashlib
import html
import re
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.utils import timezone

from videostudio.api import services
from videostudio.api.models import ApiToken
from videostudio.api.services import token_authenticate, token_create, token_revoke

from .conftest import make_user
from .stock_words import assert_own_words
from .test_idrefs import problems

pytestmark = pytest.mark.django_db

TOKENS = "/account/tokens/"
ALL_TOKENS = "/account/tokens/all/"


def revoke_url(token: ApiToken) -> str:
    return f"/account/tokens/{token.pk}/revoke/"


def page(response: Any) -> str:
    assert_own_words(response)
    return html.unescape(response.content.decode())


def shown_token(response: Any) -> str | None:
    match = re.search(r'<code class="token-secret"[^>]*>([^<]*)</code>', response.content.decode())
    return match.group(1) if match else None


# --- Services ----------------------------------------------------------------------------


def test_a_new_token_is_handed_over_once_and_only_its_digest_is_kept(owner: User) -> None:
    token, raw = token_create(user=owner, name="product clips notebook")

    assert re.fullmatch(r"vs_[A-Za-z0-9_-]{43,}", raw)
    assert token.prefix == raw[:12] and token.user == owner
    assert token.digest == hashlib.sha256(raw.encode()).hexdigest()
    # Nothing in the database holds the token, or its secret part, in the clear.
    secret = raw[12:]
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM api_apitoken")
        rows = cursor.fetchall()
    assert len(rows) == 1
    assert not any(secret in str(value) for value in rows[0])
    again, other = token_create(user=owner, name="product clips notebook")
    assert other != raw and again.digest != token.digest


def test_a_good_token_authenticates_as_its_member(owner: User) -> None:
    token, raw = token_create(user=owner, name="bot")
    found = token_authenticate(raw)
    assert found == token and found is not None and found.user == owner


@pytest.mark.parametrize(
    "junk",
    [
        "",
        "vs_",
        "vs_" + "A" * 43,
        "Bearer vs_x",
        "sk-not-ours",
        "vs_é" + "a" * 40,
        "vs_" + "a" * 5000,
        "\x00",
    ],
)
def test_junk_authenticates_nobody(owner: User, junk: str) -> None:
    token_create(user=owner, name="bot")
    assert token_authenticate(junk) is None


def test_a_token_changed_by_one_character_authenticates_nobody(owner: User) -> None:
    _token, raw = token_create(user=owner, name="bot")
    flipped = raw[:-1] + ("A" if raw[-1] != "A" else "B")
    for near in (raw[:-1], raw + "x", flipped, raw.upper(), f" {raw}"):
        assert token_authenticate(near) is None


def test_a_revoked_token_is_refused_and_revoking_twice_changes_nothing(
    owner: User, staff: User
) -> None:
    token, raw = token_create(user=owner, name="bot")

    assert token_revoke(token=token, actor=owner) is True
    first = token.revoked_at
    assert token_authenticate(raw) is None
    assert token_revoke(token=token, actor=staff) is False
    token.refresh_from_db()
    assert token.revoked_at == first and token.revoked_by == owner
    assert token.status == ApiToken.Status.REVOKED


def test_staff_may_revoke_anyones_token_a_teammate_may_not(
    owner: User, teammate: User, staff: User
) -> None:
    token, raw = token_create(user=owner, name="bot")

    with pytest.raises(services.NotAllowed):
        token_revoke(token=token, actor=teammate)
    assert token_authenticate(raw) == token

    assert token_revoke(token=token, actor=staff) is True
    token.refresh_from_db()
    assert token.revoked_by == staff
    assert token_authenticate(raw) is None


def test_a_token_works_until_it_expires(owner: User) -> None:
    now = timezone.now()
    token, raw = token_create(user=owner, name="bot", expires_at=now + timedelta(days=7))

    assert token_authenticate(raw, now=now + timedelta(days=6, hours=23)) == token
    assert token_authenticate(raw, now=now + timedelta(days=7)) is None
    assert token_authenticate(raw, now=now + timedelta(days=8)) is None
    assert token.status_at(now + timedelta(days=8)) == ApiToken.Status.EXPIRED


def test_a_switched_off_members_tokens_are_refused(owner: User) -> None:
    _token, raw = token_create(user=owner, name="bot")
    owner.is_active = False
    owner.save()
    assert token_authenticate(raw) is None
    owner.is_active = True
    owner.save()
    assert token_authenticate(raw) is not None


def test_last_used_is_written_at_most_once_a_minute(
    owner: User, django_assert_num_queries: Any
) -> None:
    token, raw = token_create(user=owner, name="bot")
    assert token.last_used_at is None
    start = timezone.now()

    token_authenticate(raw, now=start)
    token.refresh_from_db()
    assert token.last_used_at == start

    # Within the minute: the lookup only, no write.
    with django_assert_num_queries(1):
        token_authenticate(raw, now=start + timedelta(seconds=59))
    token.refresh_from_db()
    assert token.last_used_at == start

    later = start + timedelta(seconds=61)
    token_authenticate(raw, now=later)
    token.refresh_from_db()
    assert token.last_used_at == later


# --- The pages ---------------------------------------------------------------------------


@pytest.fixture
def member(client: Client, owner: User) -> Client:
    client.force_login(owner)
    return client


def test_the_pages_ask_anonymous_visitors_to_log_in(client: Client, owner: User) -> None:
    token, _raw = token_create(user=owner, name="bot")
    for url in (TOKENS, ALL_TOKENS, revoke_url(token)):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/?next=")
    response = client.post(TOKENS, {"name": "sneaky", "expires": "never"})
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert client.post(revoke_url(token)).status_code == 302
    assert ApiToken.objects.count() == 1 and token_authenticate(_raw) is not None


def test_a_member_makes_a_token_and_sees_it_once(member: Client, owner: User) -> None:
    start = timezone.now()
    first = member.get(TOKENS)
    assert first.status_code == 200
    assert "You have no tokens yet." in page(first)
    assert f'href="{TOKENS}"' in first.content.decode()  # the header's link

    made = member.post(TOKENS, {"name": "nightly batch", "expires": "30"})
    assert made.status_code == 302 and made["Location"] == TOKENS

    shown = member.get(TOKENS)
    raw = shown_token(shown)
    assert raw is not None
    text = page(shown)
    assert "it is shown only this once" in text
    assert "no-store" in shown["Cache-Control"]
    token = token_authenticate(raw)
    assert token is not None and token.user == owner and token.name == "nightly batch"
    assert token.expires_at is not None
    assert timedelta(days=30) <= token.expires_at - start < timedelta(days=30, minutes=1)

    # Reloaded: listed by name and prefix, the token itself gone for good.
    again = member.get(TOKENS)
    assert shown_token(again) is None
    assert raw not in again.content.decode()
    listed = page(again)
    assert "nightly batch" in listed and f"{token.prefix}…" in listed and "Active" in listed
    assert raw not in str(dict(member.session))


def test_a_token_made_to_never_expire_has_no_expiry(member: Client) -> None:
    member.post(TOKENS, {"name": "forever bot", "expires": "never"})
    token = ApiToken.objects.get()
    assert token.expires_at is None
    assert "Never" in page(member.get(TOKENS))


@pytest.mark.parametrize(
    ("data", "message", "kept"),
    [
        ({"name": "", "expires": "30"}, "Give the token a name: what it is for.", None),
        ({"name": "   ", "expires": "30"}, "Give the token a name: what it is for.", None),
        (
            {"name": "n" * 101, "expires": "30"},
            "The name is 101 characters long; the limit is 100.",
            "n" * 101,
        ),
        (
            {"name": "my notebook", "expires": "forever"},
            "“forever” is not one of the expiries offered: choose in 7, 30 or 90 days, in a "
            "year, or never.",
            "my notebook",
        ),
        (
            {"name": "my notebook", "expires": ""},
            "Choose when the token expires (or Never).",
            "my notebook",
        ),
        ({"name": "my notebook"}, "Choose when the token expires (or Never).", "my notebook"),
        (
            {"name": "bad\x00name", "expires": "7"},
            "holds an invisible NUL character",
            None,
        ),
    ],
)
def test_bad_input_is_refused_in_words_and_keeps_what_was_typed(
    member: Client, data: dict[str, str], message: str, kept: str | None
) -> None:
    response = member.post(TOKENS, data)
    assert response.status_code == 200
    assert message in page(response)
    if kept is not None:
        assert f'value="{kept}"' in response.content.decode()
    assert shown_token(response) is None
    assert not ApiToken.objects.exists()


def test_a_member_revokes_their_token_after_being_told_what_it_does(
    member: Client, owner: User
) -> None:
    token, raw = token_create(user=owner, name="old bot")
    ask = member.get(revoke_url(token))
    assert ask.status_code == 200
    assert "Every script that uses it stops working at once" in page(ask)
    assert token_authenticate(raw) == token  # asking revokes nothing

    done = member.post(revoke_url(token))
    assert done.status_code == 302 and done["Location"] == TOKENS
    assert token_authenticate(raw) is None
    listed = page(member.get(TOKENS))
    assert "Revoked “old bot”" in listed and "Revoked" in listed
    assert revoke_url(token) not in listed

    # Sent again (a double click): nothing more happens, and it says so.
    member.post(revoke_url(token))
    assert "“old bot” was revoked already." in page(member.get(TOKENS))


def test_a_teammate_can_neither_see_nor_revoke_anothers_token(
    client: Client, owner: User, teammate: User
) -> None:
    token, raw = token_create(user=owner, name="olivia's secret bot")
    client.force_login(teammate)

    assert client.get(revoke_url(token)).status_code == 404
    assert client.post(revoke_url(token)).status_code == 404
    assert client.get(ALL_TOKENS).status_code == 404
    own = page(client.get(TOKENS))
    assert "olivia's secret bot" not in own and token.prefix not in own
    assert token_authenticate(raw) == token


def test_a_missing_token_is_not_found(member: Client) -> None:
    assert member.get("/account/tokens/999999/revoke/").status_code == 404
    assert member.post("/account/tokens/999999/revoke/").status_code == 404


def test_staff_list_every_members_tokens_and_revoke_any(
    client: Client, owner: User, teammate: User, staff: User
) -> None:
    mine, mine_raw = token_create(user=owner, name="olivia's notebook")
    theirs, _ = token_create(user=teammate, name="theo's bot")
    token_revoke(token=theirs, actor=teammate)
    client.force_login(staff)

    listed = client.get(ALL_TOKENS)
    assert listed.status_code == 200
    text = page(listed)
    for token in (mine, theirs):
        assert token.name in text and f"{token.prefix}…" in text
        assert token.digest not in text
    assert "olivia" in text and "theo" in text
    assert text.count("Revoke…") == 1  # the revoked one offers no revoking

    ask = client.get(revoke_url(mine), {"next": ALL_TOKENS})
    assert ask.status_code == 200 and "olivia's token" in page(ask)
    done = client.post(revoke_url(mine), {"next": ALL_TOKENS})
    assert done.status_code == 302 and done["Location"] == ALL_TOKENS
    mine.refresh_from_db()
    assert mine.revoked_by == staff and token_authenticate(mine_raw) is None
    assert "Revoked “olivia's notebook”" in page(client.get(done["Location"]))
    # Staff's own page lists only staff's own tokens.
    assert "olivia's notebook" not in page(client.get(TOKENS))


def test_a_revoke_sent_with_a_next_off_the_site_goes_back_to_the_list(
    member: Client, owner: User
) -> None:
    token, _raw = token_create(user=owner, name="bot")
    response = member.post(revoke_url(token), {"next": "https://evil.example/"})
    assert response.status_code == 302 and response["Location"] == TOKENS


def test_the_staff_list_answers_a_page_number_it_does_not_have(client: Client, staff: User) -> None:
    client.force_login(staff)
    for junk in ("x", "0", "99999999999999999999"):
        response = client.get(ALL_TOKENS, {"page": junk})
        assert response.status_code == 200
        page(response)


def test_every_tokens_page_points_only_at_what_it_holds(
    client: Client, owner: User, staff: User
) -> None:
    """Labels, aria references and in-page links name elements of the page, each id once:
    the list as it is, with the form's errors, with a new token, and staff's pages."""
    token, _raw = token_create(user=owner, name="bot")
    client.force_login(owner)
    pages = [
        client.get(TOKENS),
        client.post(TOKENS, {"name": "", "expires": "junk"}),
        client.get(revoke_url(token)),
    ]
    client.post(TOKENS, {"name": "another", "expires": "7"})
    with_new = client.get(TOKENS)
    assert shown_token(with_new) is not None
    pages.append(with_new)
    client.force_login(staff)
    pages += [client.get(ALL_TOKENS), client.get(revoke_url(token))]
    for response in pages:
        assert response.status_code == 200
        html_text = response.content.decode()
        assert not problems(html_text), problems(html_text)


# --- The admin ---------------------------------------------------------------------------


def test_the_admin_shows_tokens_read_only_and_never_their_digest(client: Client) -> None:
    root = make_user("root", is_staff=True, is_superuser=True)
    token, raw = token_create(user=root, name="admin's bot")
    client.force_login(root)

    listed = client.get("/admin/api/apitoken/")
    assert listed.status_code == 200
    shown = client.get(f"/admin/api/apitoken/{token.pk}/change/")
    assert shown.status_code == 200
    for response in (listed, shown):
        body = response.content.decode()
        assert "admin&#x27;s bot" in body or "admin's bot" in body
        assert token.digest not in body and raw not in body
    assert 'name="name"' not in shown.content.decode()  # nothing to edit
    assert client.get("/admin/api/apitoken/add/").status_code == 403
    assert (
        client.post(f"/admin/api/apitoken/{token.pk}/delete/", {"post": "yes"}).status_code == 403
    )
    assert ApiToken.objects.filter(pk=token.pk).exists()


def test_a_member_has_at_most_so_many_working_tokens(
    client: Client, owner: User, settings: Any
) -> None:
    settings.VIDEOSTUDIO_API_TOKENS_PER_MEMBER = 2
    first, _ = token_create(user=owner, name="one")
    token_create(user=owner, name="two", expires_at=timezone.now() - timedelta(days=1))
    token_create(user=owner, name="three")
    with pytest.raises(services.TooMany):
        token_create(user=owner, name="four")
    client.force_login(owner)
    response = client.post(TOKENS, {"name": "four", "expires": "30"})
    assert response.status_code == 200 and shown_token(response) is None
    assert "the most a member may have: revoke one you no longer use first" in page(response)
    assert 'value="four"' in page(response)  # what was typed stays
    assert_own_words(response)
    token_revoke(token=first, actor=owner)  # a revoked one frees its place
    token_create(user=owner, name="four")
