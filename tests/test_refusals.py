"""Every refusal in the app's own words, for requests edited by hand too: what was
wrong, what is allowed, and (where it makes sense) the form back with what was typed.
No stock Django message reaches anyone (tests/stock_words.py gathers them; the input
fuzz of tests/test_inputs.py checks every answer of every URL for them as well)."""

from __future__ import annotations

import html
import re
import uuid
from datetime import timedelta
from typing import Any

import pytest
from django import forms
from django.contrib.auth.models import User
from django.contrib.auth.tokens import default_token_generator
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from videostudio import forms as own_forms
from videostudio.catalog.models import CatalogEntry
from videostudio.forms import StudioForm
from videostudio.gallery.forms import GalleryFilters
from videostudio.gallery.models import Star
from videostudio.provider.client import ProviderClient
from videostudio.videos.forms import STALE_FORM
from videostudio.videos.models import Video

from .conftest import make_user, png_bytes
from .factories import a_video
from .helpers import PASSWORD
from .stock_words import assert_own_words, stock_words, stock_words_in

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}
NEW_VIDEO = {
    "model": "Sora-2",
    "prompt": "a lighthouse at dawn",
    "seconds": "4",
    "size": "720x1280",
}


def text(response: Any) -> str:
    """The page as a reader sees it (entities decoded), checked for stock words."""
    assert_own_words(response)
    return html.unescape(response.content.decode())


def typed(response: Any, value: str) -> bool:
    """Whether the form came back holding what was typed (as its textarea's text)."""
    return html.escape(value) in response.content.decode().replace("&#x27;", "&#39;")


def token_in(response: Any) -> str:
    match = re.search(r'name="token" value="([^"]*)"', response.content.decode())
    assert match, "the form carries a token"
    return match.group(1)


@pytest.fixture
def member(client: Client, owner: User) -> Client:
    client.force_login(owner)
    return client


@pytest.fixture
def staff_client(client: Client, staff: User) -> Client:
    client.force_login(staff)
    return client


@pytest.fixture
def root(client: Client) -> Client:
    client.force_login(make_user("root", is_staff=True, is_superuser=True))
    return client


# --- The check itself ---------------------------------------------------------------------


def test_the_stock_list_holds_djangos_refusals_as_django_words_them() -> None:
    templates = {stock.template for stock in stock_words()}
    for expected in [
        "Select a valid choice. %(value)s is not one of the available choices.",
        "Select a valid choice. That choice is not one of the available choices.",
        "Enter a valid UUID.",
        "This field is required.",
        "Ensure this value has at most %(limit_value)d characters (it has %(show_value)d).",
        "Ensure this value has at most %(limit_value)d character (it has %(show_value)d).",
        "Enter a whole number.",
        "Enter a valid date.",
        "Null characters are not allowed.",
        "%(model_name)s with this %(field_label)s already exists.",
        "Please enter a correct %(username)s and password. Note that both fields may be "
        "case-sensitive.",
        "The two password fields didn\u2019t match.",
        "This password is too common.",
        "Enter a valid %(protocol)s address.",
        "That page number is not an integer",
    ]:
        assert expected in templates
    assert len(templates) > 80


@pytest.mark.parametrize("stock", stock_words(), ids=lambda s: s.where)
def test_every_stock_message_is_found_as_a_page_shows_it(stock: Any) -> None:
    # Filled in with values as Django would, and escaped as a template escapes it.
    shown = own_forms.DATE_EXAMPLE.join(
        re.split(r"%\(\w+\)[sdrfi]|%[sdrfi]|\{\w*\}", stock.template.replace("%%", "%"))
    )
    page = f'<p class="field-error" role="alert">{html.escape(shown)}</p>'
    assert stock in stock_words_in(page)


def test_an_own_message_is_not_taken_for_a_stock_one() -> None:
    page = html.escape(
        "“16” is not a length Sora 2 makes: choose 4, 8, 12, 16 or 20 seconds. Fill in “Title”."
    )
    assert stock_words_in(page) == []


def test_the_check_catches_a_field_left_in_djangos_words(
    member: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The check can fail: with the sort filter's words and the conversion switched
    off, a hand-edited sort in the gallery's address shows Django's "Select a valid
    choice", and it is caught."""
    url = reverse("gallery:index")
    sort = GalleryFilters.base_fields["sort"]
    stock = forms.ChoiceField.default_error_messages["invalid_choice"]
    monkeypatch.setitem(sort.error_messages, "invalid_choice", stock)
    monkeypatch.setattr(own_forms, "in_own_words", lambda form: None)
    response = member.get(url, {"sort": "random"})
    found = stock_words_in(response.content.decode())
    assert [s.template for s in found] == [
        "Select a valid choice. %(value)s is not one of the available choices.",
        "Select a valid choice",
    ]
    with pytest.raises(AssertionError, match="Select a valid choice"):
        assert_own_words(response)
    monkeypatch.undo()
    assert "“random” is not a way to sort the gallery" in text(member.get(url, {"sort": "random"}))


def test_a_form_of_the_app_without_words_of_its_own_still_gets_the_apps() -> None:
    class Bare(StudioForm):
        count = forms.IntegerField(label="Copies", max_value=9)
        when = forms.DateField(label="Day")
        colour = forms.ChoiceField(label="Colour", choices=[("red", "Red"), ("blue", "Blue")])
        note = forms.CharField(label="Note", max_length=5, required=False)

    form = Bare({"count": "12", "when": "2026-02-30", "colour": "green", "note": "a\x00long"})
    assert not form.is_valid()
    assert form.errors == {
        "count": ["“Copies” can be at most 9."],
        "when": ["“Day” takes a date, such as 2026-12-01."],
        "colour": ["“green” is not one of the choices for “Colour”: choose Red or Blue."],
        "note": [
            "“Note” is 6 characters long; the limit is 5.",
            "“Note” holds an invisible NUL character, which cannot be saved: remove it.",
        ],
    }
    assert Bare({}).errors["count"] == ["Fill in “Copies”."]
    assert Bare({}).errors["colour"] == ["Choose “Colour”."]


# --- A new video -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"seconds": "7"}, "“7” is not a length Sora 2 makes: choose 4, 8, 12, 16 or 20 seconds."),
        ({"seconds": "abc"}, "“abc” is not a length Sora 2 makes: choose 4, 8, 12, 16 or 20"),
        ({"seconds": ""}, "Choose a duration: Sora 2 makes 4, 8, 12, 16 or 20 seconds."),
        (
            {"size": "640x480"},
            "“640x480” is not a size Sora 2 makes: choose 720x1280 (portrait) or "
            "1280x720 (landscape).",
        ),
        ({"model": "Veo-3", "seconds": "12"}, "“12” is not a length Veo 3 makes: choose 4, 6 or 8"),
        ({"prompt": "x" * 4001}, "The prompt is 4001 characters long; the limit is 4000."),
    ],
)
def test_a_new_video_edited_by_hand_is_refused_in_words_and_keeps_the_prompt(
    member: Client, change: dict[str, str], message: str
) -> None:
    data = {**NEW_VIDEO, **change}
    for headers in (HTMX, {}):
        response = member.post(reverse("videos:new"), data, headers=headers)
        assert response.status_code == 200
        assert message in text(response)
        assert typed(response, data["prompt"])
    assert not Video.objects.exists()


def test_a_model_retired_since_the_page_was_loaded_is_said_once(member: Client) -> None:
    CatalogEntry.objects.filter(name="Sora-2").update(retired_at=timezone.now())
    response = member.post(reverse("videos:new"), {**NEW_VIDEO, "seconds": "20"}, headers=HTMX)
    page = text(response)
    assert "“Sora-2” is not a model offered here now: choose Sora 2 Pro (1080p), Veo 2" in page
    assert "is not a length" not in page  # checked against another model's: not said
    assert typed(response, NEW_VIDEO["prompt"])
    assert not Video.objects.exists()


def test_a_reference_image_for_a_model_that_takes_none_is_refused(member: Client) -> None:
    CatalogEntry.objects.filter(name="Veo-3").update(image_input=False)
    upload = SimpleUploadedFile("frame.png", png_bytes(), "image/png")
    data = {**NEW_VIDEO, "model": "Veo-3", "seconds": "8", "image": upload}
    response = member.post(reverse("videos:new"), data, headers=HTMX)
    assert "Veo 3 does not take a reference image: leave it out" in text(response)
    assert not Video.objects.exists()


def test_a_new_video_with_a_tampered_token_says_the_form_is_out_of_date(
    member: Client, app_client: ProviderClient
) -> None:
    response = member.post(reverse("videos:new"), {**NEW_VIDEO, "token": "not-a-uuid"})
    assert response.status_code == 200
    assert STALE_FORM in text(response)
    assert typed(response, NEW_VIDEO["prompt"])
    fresh = token_in(response)
    assert uuid.UUID(fresh)  # the form comes back usable: sent again, it works
    again = member.post(reverse("videos:new"), {**NEW_VIDEO, "token": fresh})
    assert again.status_code == 302
    assert Video.objects.get().client_token == uuid.UUID(fresh)


# --- Remix and extend ----------------------------------------------------------------------


def extend(client: Client, source: Video, **data: str) -> Any:
    return client.post(reverse("videos:extend", args=[source.pk]), data, headers=HTMX)


def test_an_extension_past_the_cap_says_the_lineage_the_cap_and_what_is_left(
    member: Client, owner: User
) -> None:
    """The issue: an extension past the 120 s cap sent from an edited form."""
    source = a_video(owner=owner, seconds=112)
    page = member.get(reverse("videos:detail", args=[source.pk])).content.decode()
    offered = re.findall(r'<option value="(\d+)"', page.split('id="derive-extension"')[1])
    assert offered == ["4", "8"]
    for headers in (HTMX, {}):
        response = member.post(
            reverse("videos:extend", args=[source.pk]),
            {"prompt": "the tide comes in", "seconds": "16"},
            headers=headers,
        )
        assert response.status_code == 200
        assert (
            "Adding 16 s would make 128 s. This video is already 112 s long and Sora 2 "
            "allows 120 s in all: you can still add 4 or 8 s."
        ) in text(response)
        assert typed(response, "the tide comes in")
    assert Video.objects.count() == 1


def test_an_extension_is_still_made_when_it_fits(
    member: Client, owner: User, app_client: ProviderClient
) -> None:
    source = a_video(owner=owner, seconds=112, expires_at=timezone.now() + timedelta(hours=1))
    response = extend(member, source, prompt="the tide comes in", seconds="8")
    assert response.status_code == 200 and response.headers.get("HX-Redirect")
    made = Video.objects.get(kind=Video.Kind.EXTENSION)
    assert made.seconds == 120 and made.billed_seconds == 8


def test_an_extension_by_a_length_the_model_never_adds_names_the_ones_it_does(
    member: Client, owner: User
) -> None:
    source = a_video(owner=owner, seconds=100)
    response = extend(member, source, prompt="then", seconds="7")
    assert (
        "Sora 2 does not add “7”: it adds 4, 8, 12, 16 or 20 seconds. This video is already "
        "100 s long and Sora 2 allows 120 s in all: you can still add 4, 8, 12, 16 or 20 s."
    ) in text(response)
    response = extend(member, source, prompt="then", seconds="")
    assert "Choose how many seconds to add. This video is already 100 s long" in text(response)


def test_an_extension_of_a_lineage_at_the_cap_says_nothing_more_fits(
    member: Client, owner: User
) -> None:
    source = a_video(owner=owner, seconds=120)
    page = text(member.get(reverse("videos:detail", args=[source.pk])))
    full = "This video is already 120 s long and Sora 2 allows 120 s in all: nothing more can"
    assert full in page
    response = extend(member, source, prompt="and then", seconds="4")
    assert response.status_code == 200
    assert full in text(response)
    assert typed(response, "and then")
    assert Video.objects.count() == 1


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("remix", "Veo 3 videos cannot be remixed: the provider offers that for other models."),
        ("extend", "Veo 3 videos cannot be extended: the provider offers that for other models."),
    ],
)
def test_building_on_a_model_that_cannot_says_so_on_the_form(
    member: Client, owner: User, kind: str, message: str
) -> None:
    source = a_video(owner=owner, model="Veo-3", seconds=8)
    for headers in (HTMX, {}):
        response = member.post(
            reverse(f"videos:{kind}", args=[source.pk]),
            {"prompt": "in watercolour", "seconds": "4"},
            headers=headers,
        )
        assert response.status_code == 200
        assert message in text(response)
        assert typed(response, "in watercolour")
    assert Video.objects.count() == 1


@pytest.mark.parametrize("kind", ["remix", "extend"])
def test_building_on_a_model_retired_since_the_page_was_loaded_says_so(
    member: Client, owner: User, kind: str
) -> None:
    source = a_video(owner=owner, seconds=8)
    CatalogEntry.objects.filter(name="Sora-2").update(retired_at=timezone.now())
    verb = "remixed" if kind == "remix" else "extended"
    for headers in (HTMX, {}):
        response = member.post(
            reverse(f"videos:{kind}", args=[source.pk]),
            {"prompt": "at night", "seconds": "4"},
            headers=headers,
        )
        assert response.status_code == 200
        page = text(response)
        assert f"Sora-2 is not available for new videos, so this cannot be {verb}." in page
        assert typed(response, "at night")
    assert Video.objects.count() == 1


@pytest.mark.parametrize("kind", ["remix", "extend"])
def test_a_derived_prompt_over_the_limit_says_the_limit_and_keeps_it(
    member: Client, owner: User, kind: str
) -> None:
    source = a_video(owner=owner)
    prompt = "w" * 4001
    url = reverse(f"videos:{kind}", args=[source.pk])
    response = member.post(url, {"prompt": prompt, "seconds": "4"}, headers=HTMX)
    assert "The prompt is 4001 characters long; the limit is 4000." in text(response)
    assert typed(response, prompt)
    assert Video.objects.count() == 1


def test_a_derived_form_with_a_tampered_token_keeps_the_prompt_and_a_fresh_token(
    member: Client, owner: User, app_client: ProviderClient
) -> None:
    source = a_video(owner=owner)
    url = reverse("videos:remix", args=[source.pk])
    response = member.post(url, {"prompt": "in claymation", "token": "1234"}, headers=HTMX)
    assert response.status_code == 200
    assert STALE_FORM in text(response)
    assert "Enter a valid UUID" not in response.content.decode()
    assert typed(response, "in claymation")
    again = member.post(url, {"prompt": "in claymation", "token": token_in(response)}, headers=HTMX)
    assert again.status_code == 200 and again.headers.get("HX-Redirect")
    assert Video.objects.filter(kind=Video.Kind.REMIX).count() == 1


# --- Editing a video ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"title": "t" * 201, "visibility": "team"},
         "The title is 201 characters long; the limit is 200."),
        (
            {"title": "Dawn", "visibility": "everyone"},
            "“everyone” is not a choice here: a video is either shared with the team or "
            "private to you.",
        ),
        ({"title": "Dawn"}, "Choose who can see it: the team, or only you."),
    ],
)  # fmt: skip
def test_the_edit_form_refuses_in_words_with_or_without_htmx(
    member: Client, owner: User, data: dict[str, str], message: str
) -> None:
    video = a_video(owner=owner, title="Before")
    url = reverse("videos:edit", args=[video.pk])
    partial = member.post(url, data, headers=HTMX)
    assert partial.status_code == 200 and message in text(partial)
    assert typed(partial, data["title"])
    page = member.post(url, data)  # no JavaScript: the whole page, not a silent redirect
    assert page.status_code == 200 and message in text(page)
    assert typed(page, data["title"])
    video.refresh_from_db()
    assert video.title == "Before"


# --- The gallery and its address ----------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"sort": "random"}, "“random” is not a way to sort the gallery: choose newest, most "
                             "remixed or longest."),
        ({"kind": "short"}, "“short” is not a kind of video: choose original, remix or extension."),
        ({"model": "Sora-9"},
         "No shared video was made with “Sora-9”: choose a model from the list."),
        ({"author": "nobody"},
         "“nobody” is not a member of the team: choose someone from the list."),
        ({"since": "2026-13-01"}, "“From” takes a date, such as 2026-12-01."),
        ({"until": "1969-12-31"}, "Choose a date after 1970."),
        ({"q": "q" * 201}, "The search is 201 characters long; the limit is 200."),
        ({"after": "x~y"},
         "That link to more videos is out of date: the gallery starts again here."),
    ],
)  # fmt: skip
def test_gallery_filters_edited_by_hand_are_explained(
    member: Client, owner: User, query: dict[str, str], message: str
) -> None:
    a_video(owner=owner, prompt="still here")
    response = member.get(reverse("gallery:index"), query)
    assert response.status_code == 200
    page = text(response)
    assert message in page
    assert "still here" in page  # the filters that could be used still apply


@pytest.mark.parametrize("value", ["maybe", "2", "true"])
def test_a_star_sent_with_a_value_the_button_never_sends_changes_nothing_and_says_so(
    member: Client, owner: User, value: str
) -> None:
    video = a_video(owner=owner)
    url = reverse("gallery:star", args=[video.pk])
    partial = member.post(url, {"starred": value}, headers=HTMX)
    assert partial.status_code == 200 and partial["HX-Retarget"] == "#page-alert"
    assert "That star button was out of date, so nothing changed" in text(partial)
    page = member.post(url, {"starred": value}, follow=True)
    assert "That star button was out of date" in text(page)
    assert not Star.objects.exists()
    member.post(url, {"starred": "1"})
    assert Star.objects.count() == 1


# --- Pages and lists -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"page": "abc"}, "“abc” is not a page number: the first page is shown."),
        ({"page": "0"}, "Pages are numbered from 1: the first page is shown, not page 0."),
        ({"page": "99"}, "There is no page 99: the list has 1 page; the last is shown."),
        ({"family": "x1"},
         "That link to a family of videos is not one: your own videos are shown."),
    ],
)  # fmt: skip
def test_my_videos_explain_a_page_or_family_that_is_not_one(
    member: Client, owner: User, query: dict[str, str], message: str
) -> None:
    a_video(owner=owner, prompt="mine")
    response = member.get(reverse("videos:list"), query)
    assert response.status_code == 200
    assert message in text(response)
    assert "mine" in text(response)


def test_a_page_number_in_an_htmx_request_is_not_noted_for_later(member: Client) -> None:
    member.get(reverse("videos:list"), {"page": "abc"}, headers=HTMX)
    assert "is not a page number" not in text(member.get(reverse("videos:list")))


# --- The usage review (staff) --------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"member": "nobody"},
         "“nobody” is not a member here: choose one from the list, or everyone."),
        ({"period": "year"}, "“year” is not a period: choose day, week or month."),
        ({"attributed": "maybe"}, "“maybe” is not a way to filter the ledger: choose all charges, "
                                  "attributed or unattributed."),
        ({"start": "31/31/2026"}, "“From” takes a date, such as 2026-12-01."),
        ({"end": "9999-01-01"}, "Choose a date before the year 9000."),
        ({"start": "2026-05-02", "end": "2026-05-01"}, "The end date is before the start date."),
        ({"model": "m" * 101}, "That model name is 101 characters long; no model's name is longer "
                               "than 100."),
        ({"tab": "secret"}, "There is no “secret” tab: the summary is shown."),
        ({"export": "pdf"}, "There is no “pdf” export, only CSV: the page is shown."),
        ({"tab": "jobs", "page": "-2"}, "Pages are numbered from 1: the first page is shown, "
                                        "not page -2."),
        ({"tab": "ledger", "page": "1e3"}, "“1e3” is not a page number: the first page is shown."),
        ({"tab": "failed", "page": "5"}, "There is no page 5: the list has 1 page; the last is "
                                         "shown."),
    ],
)  # fmt: skip
def test_the_usage_review_explains_filters_edited_by_hand(
    staff_client: Client, query: dict[str, str], message: str
) -> None:
    response = staff_client.get(reverse("usage:review"), query)
    assert response.status_code == 200
    assert message in text(response)


# --- Logging in and passwords ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"username": "olivia", "password": "a wrong guess"},
         "That username and password do not match an account here. Both are case-sensitive"),
        ({"username": "olivia", "password": ""}, "Write your username and your password."),
        ({"username": "", "password": "x"}, "Write your username and your password."),
        ({}, "Write your username and your password."),
    ],
)  # fmt: skip
def test_the_login_page_says_what_was_wrong(
    client: Client, owner: User, data: dict[str, str], message: str
) -> None:
    response = client.post(reverse("login"), data)
    assert response.status_code == 200
    assert message in text(response)


def test_the_admin_login_says_it_is_for_staff_in_the_apps_words(
    client: Client, owner: User
) -> None:
    response = client.post(reverse("admin:login"), {"username": "olivia", "password": PASSWORD})
    assert "That username and password do not match a staff account here." in text(response)
    response = client.post(reverse("admin:login"), {"username": "olivia"})
    assert "Fill in “Password”." in text(response)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"old_password": "wrong", "new_password1": "a fine new lighthouse",
          "new_password2": "a fine new lighthouse"},
         "That is not your current password: type it again."),
        ({"old_password": PASSWORD, "new_password1": "a fine new lighthouse",
          "new_password2": "a fine new lamp"},
         "The two new passwords are not the same: type the same one twice."),
        ({"old_password": PASSWORD, "new_password1": "short", "new_password2": "short"},
         "This password is too short: use at least 8 characters."),
        ({"old_password": PASSWORD, "new_password1": "password123", "new_password2": "password123"},
         "This password is on the list of common passwords"),
        ({"old_password": PASSWORD, "new_password1": "stella01", "new_password2": "stella01"},
         "This password is too close to your username: choose one less like it."),
        ({"old_password": PASSWORD}, "Fill in “New password”."),
    ],
)  # fmt: skip
@pytest.mark.parametrize("where", ["password_change", "admin:password_change"])
def test_changing_a_password_is_refused_in_the_apps_words(
    client: Client, staff: User, data: dict[str, str], message: str, where: str
) -> None:
    client.force_login(staff)
    response = client.post(reverse(where), data)
    assert response.status_code == 200
    assert message in text(response)


def test_a_new_password_from_a_reset_link_is_refused_in_the_apps_words(
    client: Client, settings: Any
) -> None:
    settings.VIDEOSTUDIO_PASSWORD_RESET = True
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    user = make_user("olivia", email="olivia@example.com")
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    link = reverse("password_reset_confirm", args=[uid, default_token_generator.make_token(user)])
    form_url = client.get(link, follow=True).redirect_chain[-1][0]
    response = client.post(form_url, {"new_password1": "one lighthouse", "new_password2": "two"})
    assert "The two new passwords are not the same" in text(response)
    bad = client.post(reverse("password_reset"), {"email": "not an address"})
    assert "“Email” takes an email address, such as name@example.com." in text(bad)


# --- The admin's forms (the catalog, and any other model's) ----------------------------------


def test_the_catalog_admin_form_refuses_in_the_apps_words(root: Client) -> None:
    entry = CatalogEntry.objects.get(name="Sora-2")
    url = reverse("admin:catalog_catalogentry_change", args=[entry.pk])
    data = {
        "name": "Veo-3",  # another entry's
        "label": "",
        "durations": "4, 8",
        "default_seconds": "-1",
        "sizes": "720x1280",
        "default_size": "720x1280",
        "max_lineage_seconds": "lots",
        "points_per_second": "cheap",
        "position": "1",
    }
    page = text(root.post(url, data))
    assert "This “Name” is taken already: choose another." in page
    assert "Fill in “Label”." in page
    assert "“Default seconds” must be at least 0." in page
    assert "“Max lineage seconds” takes a whole number, such as 12." in page
    assert "“Points per second” takes a number, such as 2.5." in page


def test_a_model_fields_own_limit_is_refused_in_the_apps_words(root: Client) -> None:
    """A limit only the model field has (its validator, run by the model's own checks
    while the rest of the form is refused): found by the fuzzing in test_inputs."""
    entry = CatalogEntry.objects.get(name="Sora-2")
    url = reverse("admin:catalog_catalogentry_change", args=[entry.pk])
    response = root.post(url, {"sprite_columns": ["0" * 30 + "9a", "2147483648"], "_popup": "1"})
    assert "“Spritesheet columns” can be at most 100." in text(response)
    assert_own_words(response)


def test_the_catalog_list_refuses_edited_rows_and_counts_in_the_apps_words(root: Client) -> None:
    entry = CatalogEntry.objects.get(name="Sora-2")
    url = reverse("admin:catalog_catalogentry_changelist")
    rows = {"form-TOTAL_FORMS": "1", "form-INITIAL_FORMS": "1", "form-0-id": str(entry.pk)}
    page = text(root.post(url, {**rows, "form-0-position": "first", "_save": "Save"}))
    assert "“Position” takes a whole number, such as 12." in page
    page = text(root.post(url, {"form-0-position": "1", "_save": "Save"}))
    assert "This list's form is out of date or incomplete" in page


def test_an_admin_form_the_app_did_not_write_refuses_in_its_words_too(
    root: Client, owner: User
) -> None:
    video = a_video(owner=owner)
    Star.objects.create(user=owner, video=video)
    data = {"user": str(owner.pk), "video": str(video.pk)}
    page = text(root.post(reverse("admin:gallery_star_add"), data))
    assert "There is one with this User and Video already: change one of them." in page
    page = text(root.post(reverse("admin:usage_budget_add"), {"user": "", "monthly_points": "x"}))
    assert "Choose “User”." in page and "“Monthly points” takes a whole number" in page
    page = text(root.post(reverse("admin:auth_user_add"), {"username": "olivia"}))
    assert "This “Username” is taken already: choose another." in page


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"action": "", "_selected_action": "SELECTED"},
         "Choose an action from the list first: nothing was changed."),
        ({"action": "no_such_action", "_selected_action": "SELECTED"},
         "Choose an action from the list first: nothing was changed."),
        ({"action": "disable"}, "Tick the rows to act on first: nothing was changed."),
    ],
)  # fmt: skip
def test_a_catalog_action_sent_without_an_action_or_rows_says_so(
    root: Client, data: dict[str, str], message: str
) -> None:
    entry = CatalogEntry.objects.get(name="Sora-2")
    url = reverse("admin:catalog_catalogentry_changelist")
    data = {k: str(entry.pk) if v == "SELECTED" else v for k, v in data.items()}
    response = root.post(url, {**data, "index": "0"}, follow=True)
    assert message in text(response)
    entry.refresh_from_db()
    assert entry.enabled


def test_fields_checked_by_plain_functions_are_refused_not_crashed_on() -> None:
    # validate_ipv46_address and validate_image_file_extension are functions: no words
    # of their own to replace, and no reason to fail the whole form.
    class Addresses(own_forms.OwnWords, forms.Form):
        address = forms.GenericIPAddressField(label="Address")
        picture = forms.ImageField(label="Picture", required=False)

    form = Addresses({"address": "not an address"})
    assert not form.is_valid()
    assert list(form.errors) == ["address"]
    assert Addresses({"address": "127.0.0.1"}).is_valid()
