"""Every input answered: generated values for every URL of the URL conf (the admin's and
the auth views' included), in its path, its query string, its form fields, its uploads
and its headers (htmx's, Range), sent as each persona. No answer is a 500 and nothing is
logged as a server error: bad input gets a 4xx, or the page with the reason on it, in the
app's own words: no answer holds one of Django's stock messages ("Select a valid choice",
"Enter a valid UUID."...; tests/stock_words.py gathers them from Django itself).

Routes are found by walking the URL conf, so a URL added later is fuzzed too: with the
parameters its form or its ModelAdmin declares when it has either, with random names
and values always. `READS` lists what the function views read, found by reading them.
Two searches: hypothesis draws whole requests (`test_no_input_gets_a_server_error`),
and a table sends each of a page's own parameters each hostile value of its kind
(`test_each_parameter_takes_each_bad_value_of_its_kind`). The 500s they found are
kept below as plain cases.
"""

from __future__ import annotations

import copy
import logging
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import quote, unquote

import pytest
from axes.models import AccessAttempt
from django import forms
from django.contrib import admin
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, models, transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, resolve, reverse
from django.urls.exceptions import Resolver404
from django.urls.resolvers import RegexPattern, RoutePattern
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from videostudio.adminsite.site import InputSafeAdmin
from videostudio.catalog.models import CatalogEntry
from videostudio.gallery.forms import SORTS, GalleryFilters
from videostudio.usage.forms import ReviewFilters
from videostudio.usage.models import UsagePolicy
from videostudio.usage.views import TABS
from videostudio.videos.forms import DeriveForm, VideoEditForm, VideoForm
from videostudio.videos.models import Video
from videostudio.videos.views import MEDIA

from .conftest import make_user, png_bytes
from .factories import (
    BalanceSnapshotFactory,
    BudgetFactory,
    LedgerEntryFactory,
    ScheduleFactory,
    StarFactory,
    TaskFactory,
    a_lineage,
    a_video,
)
from .stock_words import assert_own_words

pytestmark = pytest.mark.django_db

# Examples per route: the app's own pages get most, the admin's (a hundred pages on one
# code base) a few each. INPUT_FUZZ_SCALE=10 looks ten times harder.
SCALE = float(os.environ.get("INPUT_FUZZ_SCALE", "1"))
APP_EXAMPLES, ADMIN_EXAMPLES = 40, 10

# --- Values ------------------------------------------------------------------------------

HUGE_INTS = [
    "2147483648",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775809",
    "18446744073709551616",
    "1" + "0" * 40,
    "1e18",
    "-62135596801",
    "-1",
    "0",
]
NUMBERISH = [
    *HUGE_INTS,
    "1e308",
    "-1e400",
    "nan",
    "inf",
    "-inf",
    "0x1f",
    " 7 ",
    "7.5",
    "1_000",
    "\uff11\uff12",  # fullwidth digits: str.isdigit() says yes
    "²",  # so it does for a superscript, which int() refuses
    "١٢",
]
DATEISH = [
    "9999-12-31",
    "99999999-01-01",
    "0000-01-01",
    "0001-01-01",
    "2026-02-30",
    "1969-12-31",
    "2026-13-01",
    "31/12/2026",
    "-2026-01-01",
    "2026-12-01T25:61",
    "2026-12-01 10:00",
    "garbage",
]
TEXTISH = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "<script>alert(1)</script>",
    "'; drop table videos_video; --",
    "%",
    "%s%n",
    "{{ 7|add:7 }}",
    "\u202eevil",
    "🎬" * 40,
    "x" * 5000,
    "../../etc/passwd",
    "//evil.example/",
    "http://evil.example/",
    "javascript:alert(1)",
    "\r\nX-Injected: 1",
    "not-a-path",
    "videos:list",
    "gallery:star",
    "~",
    "2026-12-01T10:00:00+00:00~1",
]
URLISH = [
    "not-a-path",
    "videos:list",
    "gallery:star",
    "//evil.example/",
    "///evil.example/",
    "/\\evil.example/",
    "\\\\evil.example",
    "http://evil.example/",
    "https://testserver/gallery/",
    "http://testserver:99999/",
    "http://[::1",
    "javascript:alert(1)",
    "/gallery/\r\nSet-Cookie: x=1",
    "/gallery/?q=\x00",
    "/" + "a" * 3000,
    " /gallery/",
    "\t/gallery/",
]
CURSORISH = [
    "~",
    "~~",
    "x~1",
    "2026-12-01T10:00:00~1",
    "9999-12-31T23:59:59+00:00~1",
    "0001-01-01T00:00:00+14:00~1",
    "4~99999999999999999999",
    "-1~-1",
    "nan~nan",
]
HOSTILE = [*NUMBERISH, *DATEISH, *TEXTISH, *URLISH]

# Random text: whatever a browser (or anyone) may send, surrogates aside (no encoding has
# them); header values are Latin-1, as WSGI hands them over.
any_text = st.text(max_size=40)
header_text = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"),
    max_size=60,
)


@dataclass
class World:
    """One of every row a page can show, owned by the personas."""

    users: dict[str, User]
    ids: dict[str, list[str]] = field(default_factory=dict)  # model label -> real pks
    values: dict[str, list[str]] = field(default_factory=dict)  # param name -> good values

    def pks(self, label: str | None = None) -> list[str]:
        if label is not None and self.ids.get(label):
            return self.ids[label]
        return sorted({pk for pks in self.ids.values() for pk in pks})


def make_world() -> World:
    member = make_user("olivia")
    teammate = make_user("theo")
    staff = make_user("stella", is_staff=True)
    root = make_user("root", is_staff=True, is_superuser=True, email="root@example.com")
    mine = a_video(owner=member, with_files=True)
    theirs = a_video(owner=teammate, private=True)
    running = a_video(owner=member, running=True)
    failed = a_video(
        owner=member, status=Video.Status.FAILED, error_code="moderation", archived_at=None
    )
    unsettled = a_video(
        owner=teammate, status=Video.Status.UNSETTLED, archived_at=None, video_file=""
    )
    lineage = a_lineage("remix", "extension", owner=member)
    charge: Any = LedgerEntryFactory(video=mine)
    LedgerEntryFactory(created_at=timezone.now(), cost_points=700)
    snapshot: Any = BalanceSnapshotFactory()
    budget: Any = BudgetFactory(user=teammate)
    star: Any = StarFactory(user=member, video=theirs)
    schedule: Any = ScheduleFactory()
    ok: Any = TaskFactory(success=True)
    bad: Any = TaskFactory(success=False)
    videos = [mine, theirs, running, failed, unsettled, *lineage]
    world = World(users={"member": member, "teammate": teammate, "staff": staff, "root": root})
    world.ids = {
        "videos.video": [str(v.pk) for v in videos],
        "auth.user": [str(u.pk) for u in world.users.values()],
        "usage.ledgerentry": [str(charge.pk)],
        "usage.balancesnapshot": [str(snapshot.pk)],
        "usage.budget": [str(budget.pk)],
        "usage.usagepolicy": ["1"],
        "gallery.star": [str(star.pk)],
        "django_q.schedule": [str(schedule.pk)],
        "django_q.success": [str(ok.pk)],
        "django_q.failure": [str(bad.pk)],
    }
    UsagePolicy.current()
    world.ids["catalog.catalogentry"] = [str(e.pk) for e in CatalogEntry.objects.all()[:3]]
    models_offered = [e.name for e in CatalogEntry.objects.all()]
    world.values = {
        "model": models_offered,
        "seconds": ["4", "8", "12", "20"],
        "size": ["720x1280", "1280x720", "1024x1792"],
        "view": ["list", "detail", "family"],
        "tab": TABS,
        "export": ["csv"],
        "variant": list(MEDIA),
        "sort": list(SORTS),
        "kind": list(Video.Kind.values),
        "status": list(Video.Status.values),
        "visibility": list(Video.Visibility.values),
        "period": ["day", "week", "month"],
        "attributed": ["yes", "no"],
        "since": [f"{timezone.now().timestamp():.3f}", "0", "2026-01-01"],
        "starred": ["1", "0", "on"],
        "share": ["on", "1"],
        "download": ["1"],
        "charge": ["none", str(charge.pk)],
        "author": ["olivia", "theo"],
        "member": ["olivia", "theo"],
        "next": ["/", "/gallery/", f"/videos/{mine.pk}/", "http://testserver/usage/"],
        "after": ["2026-12-01T10:00:00+00:00~1", "4~1"],
        "uidb64": [urlsafe_base64_encode(force_bytes(member.pk)), "MQ", "!!"],
        "token": ["set-password", "abc-123", "00000000-0000-0000-0000-000000000000"],
        "app_label": ["videos", "usage", "auth", "catalog", "gallery", "django_q"],
        "content_type_id": ["1", "7"],
        "o": ["1", "-1", "1.2", "-3.-1", "99", "x"],
        "p": ["1", "2", "-1", "999999"],
        "page": ["1", "2", "last", "0", "-1", "999999"],
        "e": ["1"],
        "all": [""],
        "_popup": ["1"],
        "_to_field": ["id", "owner", "password", "video__owner__password"],
        "action": ["enable", "disable", "delete_selected", "resubmit_task", "no_such_action"],
        "index": ["0", "1", "-1"],
        "select_across": ["0", "1"],
        "check": ["web", "all"],
    }
    return world


# --- Routes ------------------------------------------------------------------------------

PLACEHOLDER = re.compile(r"<(?:(?P<converter>[^>:]+):)?(?P<name>[^>]+)>")


@dataclass(frozen=True)
class Route:
    """One URL pattern with the chain of patterns leading to it."""

    name: str
    parts: tuple[Any, ...]  # RoutePattern | RegexPattern, from the root
    pattern: URLPattern
    model_admin: admin.ModelAdmin[Any] | None

    def __str__(self) -> str:
        return self.name


def walk(patterns: list[Any], parts: tuple[Any, ...] = (), namespace: str = "") -> Iterator[Route]:
    for entry in patterns:
        if isinstance(entry, URLResolver):
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from walk(entry.url_patterns, (*parts, entry.pattern), inner)
        elif isinstance(entry, URLPattern):
            chain = (*parts, entry.pattern)
            name = f"{namespace}{entry.name}" if entry.name else "".join(map(str, chain))
            yield Route(name, chain, entry, _model_admin(entry))


def _model_admin(entry: URLPattern) -> admin.ModelAdmin[Any] | None:
    model_admin = getattr(entry.callback, "model_admin", None)
    if model_admin is not None:
        return model_admin
    for model, candidate in admin.site._registry.items():
        prefix = f"{model._meta.app_label}_{model._meta.model_name}_"
        if entry.name and entry.name.startswith(prefix):
            return candidate
    return None


def all_routes() -> list[Route]:
    seen: dict[str, Route] = {}
    for route in walk(get_resolver().url_patterns):
        seen.setdefault(route.name, route)
    return list(seen.values())


ROUTES = all_routes()


def test_the_walk_finds_the_app_the_admin_and_the_auth_urls() -> None:
    names = {route.name for route in ROUTES}
    assert {"videos:progress", "gallery:star", "usage:review", "login"} <= names
    assert {"admin:videos_video_changelist", "admin:usage_ledgerentry_change"} <= names
    # Every registered ModelAdmin's pages are reached, with their ModelAdmin.
    for model, model_admin in admin.site._registry.items():
        meta = model._meta
        changelist = next(
            r for r in ROUTES if r.name.endswith(f"{meta.app_label}_{meta.model_name}_changelist")
        )
        assert changelist.model_admin is model_admin


# --- What each page reads ----------------------------------------------------------------

# The function views read these besides their forms' fields (found by reading them:
# request.GET / request.POST / the forms they bind).
READS: dict[str, tuple[dict[str, str], list[type[forms.Form]]]] = {
    "videos:list": ({"family": "int", "page": "int"}, []),
    "videos:new": (
        {"model": "choice", "seconds": "int", "size": "choice", "from": "int"},
        [VideoForm],
    ),
    "videos:progress": ({"view": "choice", "id": "int", "since": "int"}, []),
    "videos:detail": ({}, []),
    "videos:edit": ({}, [VideoEditForm]),
    "videos:remix": ({}, [DeriveForm]),
    "videos:extend": ({}, [DeriveForm]),
    "videos:media": ({"download": "bool"}, []),
    "gallery:index": ({"after": "cursor"}, [GalleryFilters]),
    "gallery:star": ({"starred": "bool", "next": "url"}, []),
    "usage:review": (
        {"tab": "choice", "export": "choice", "page": "int", "attributed": "choice"},
        [ReviewFilters],
    ),
    "usage:sync": ({"next": "url"}, []),
    "usage:balance": ({"next": "url"}, []),
    "usage:settle": ({"charge": "int"}, []),
    "ops:health": ({"check": "choice"}, []),
    "logout": ({"next": "url"}, []),
    "admin:login": ({"username": "text", "password": "text", "next": "url"}, []),
    "admin:password_change": (
        {"old_password": "text", "new_password1": "text", "new_password2": "text"},
        [],
    ),
}
ADMIN_LIST = ["o", "q", "p", "e", "all", "_popup", "_to_field", "_changelist_filters"]
ADMIN_ACTIONS = ["action", "_selected_action", "index", "select_across"]
ADMIN_SAVE = ["_save", "_continue", "_addanother", "_saveasnew", "post"]
ADMIN_PAGES = ["changelist", "add", "password_change", "change", "delete", "history"]
AUTOCOMPLETE = ["term", "app_label", "model_name", "field_name", "page"]


@dataclass(frozen=True)
class Param:
    name: str
    kind: str  # "int", "date", "datetime", "bool", "choice", "file", "url", "cursor", "text"
    choices: tuple[str, ...] = ()
    own: bool = True  # read by the page's own code (not one of the admin's many)


def form_params(form_class: type[forms.BaseForm]) -> list[Param]:
    params = []
    fields: dict[str, forms.Field] = getattr(form_class, "base_fields", {})
    for name, form_field in fields.items():
        choices = tuple(
            str(value)
            for value, _ in getattr(form_field, "choices", ())
            if not isinstance(value, (list, tuple))
        )
        params.append(Param(name, _form_kind(form_field), choices))
    return params


def _form_kind(form_field: forms.Field) -> str:
    if isinstance(form_field, forms.FileField):
        return "file"
    if isinstance(form_field, forms.BooleanField):
        return "bool"
    if isinstance(form_field, (forms.IntegerField, forms.TypedChoiceField)):
        return "int"
    if isinstance(form_field, forms.SplitDateTimeField):
        return "datetime"
    if isinstance(form_field, (forms.DateField, forms.DateTimeField)):
        return "date"
    if isinstance(form_field, forms.ChoiceField):
        return "choice"
    return "text"


def model_params(model_admin: admin.ModelAdmin[Any], page: str) -> list[Param]:
    """What a ModelAdmin's page reads: on its list, the filters, date hierarchy, search,
    sort and action parameters; on its forms, its model's editable fields."""
    params = [Param(name, "text") for name in ("_popup", "_to_field", "_changelist_filters")]
    opts = model_admin.model._meta
    if page in ("changelist", ""):
        params += [Param(name, "text") for name in [*ADMIN_LIST, *ADMIN_ACTIONS]]
        for entry in model_admin.list_filter:
            name = entry[0] if isinstance(entry, (list, tuple)) else entry
            if not isinstance(name, str):
                params.append(Param(getattr(name, "parameter_name", "") or "filter", "text"))
                continue
            kind = _model_kind(opts, name)
            for lookup in ("", "__exact", "__isnull", "__gte", "__lt", "__in", "__id__exact"):
                params.append(Param(f"{name}{lookup}", kind))
        if model_admin.date_hierarchy:
            for part in ("year", "month", "day"):
                params.append(Param(f"{model_admin.date_hierarchy}__{part}", "int"))
            for lookup in ("__gte", "__lt"):
                params.append(Param(f"{model_admin.date_hierarchy}{lookup}", "date"))
        for name in model_admin.list_editable:
            params += [Param(f"form-0-{name}", _model_kind(opts, name)), Param("form-0-id", "int")]
        params += [Param(f"form-{name}", "int") for name in ("TOTAL_FORMS", "INITIAL_FORMS")]
    if page in ("add", "change", "password_change", ""):
        params += [Param(name, "text") for name in ADMIN_SAVE]
        for model_field in opts.get_fields():
            if not getattr(model_field, "editable", False) or not model_field.concrete:
                continue
            kind = _model_kind(opts, model_field.name)
            params.append(Param(model_field.name, kind, _model_choices(model_field)))
            if kind == "datetime":
                params.append(Param(f"{model_field.name}_0", "date"))
                params.append(Param(f"{model_field.name}_1", "text"))
        if opts.label_lower == "auth.user":
            params += [
                Param(name, "text") for name in ("password1", "password2", "usable_password")
            ]
    if page == "delete":
        params.append(Param("post", "text"))
    return params


def _model_kind(opts: Any, name: str) -> str:
    try:
        model_field = opts.get_field(name)
    except Exception:
        return "text"
    if isinstance(model_field, (models.ForeignKey, models.IntegerField, models.AutoField)):
        return "int"
    if isinstance(model_field, models.BooleanField):
        return "bool"
    if isinstance(model_field, models.DateTimeField):
        return "datetime"
    if isinstance(model_field, models.DateField):
        return "date"
    if isinstance(model_field, models.FileField):
        return "file"
    return "choice" if model_field.choices else "text"


def _model_choices(model_field: Any) -> tuple[str, ...]:
    return tuple(str(value) for value, _ in (model_field.choices or ()))


def params_for(route: Route) -> list[Param]:
    params: list[Param] = []
    names, form_classes = READS.get(route.name, ({}, []))
    params += [Param(name, kind) for name, kind in names.items()]
    for form_class in form_classes:
        params += form_params(form_class)
    view_class = getattr(route.pattern.callback, "view_class", None)
    view_form = getattr(view_class, "form_class", None)
    if isinstance(view_form, type) and issubclass(view_form, forms.BaseForm):
        params += form_params(view_form)
        params.append(Param("next", "url"))
    if route.model_admin is not None:
        page = next((p for p in ADMIN_PAGES if route.name.endswith(f"_{p}")), "")
        params += [replace(param, own=False) for param in model_params(route.model_admin, page)]
    if route.name.endswith("autocomplete"):
        params += [Param(name, "text") for name in AUTOCOMPLETE]
    return params


# --- Requests ----------------------------------------------------------------------------


def value_for(world: World, param: Param) -> st.SearchStrategy[str]:
    good = [*param.choices, *world.values.get(param.name, [])]
    if param.kind == "int":
        good += world.pks()
    elif param.kind == "bool":
        good += ["on", "true", "1", "0", "False"]
    elif param.kind in ("date", "datetime"):
        good += ["2026-12-01", "2026-12-01 10:00:00", "12/01/2026"]
    typed = {
        "int": NUMBERISH,
        "date": DATEISH,
        "datetime": DATEISH,
        "url": URLISH,
        "cursor": CURSORISH,
    }.get(param.kind, TEXTISH)
    # Typed hostile values twice as likely as the rest: they are what breaks parsers.
    options = [st.sampled_from(typed), st.sampled_from(typed), st.sampled_from(HOSTILE), any_text]
    if good:
        options.insert(0, st.sampled_from(good))
    return st.one_of(*options)


def upload() -> st.SearchStrategy[SimpleUploadedFile]:
    return st.one_of(
        st.builds(lambda: SimpleUploadedFile("frame.png", png_bytes(), "image/png")),
        st.builds(lambda: SimpleUploadedFile("frame.png", png_bytes()[:60], "image/png")),
        st.binary(max_size=200).map(lambda b: SimpleUploadedFile("x.jpg", b, "image/jpeg")),
        st.sampled_from(["", "not a file"]),
    )


@st.composite
def path_for(draw: st.DrawFn, world: World, route: Route) -> str:
    """A path that the route's patterns match (or nearly: hostile values may 404)."""
    label = route.model_admin.model._meta.label_lower if route.model_admin else None
    path = "/"
    for part in route.parts:
        if isinstance(part, RoutePattern):
            route_text = str(part)
            pieces = PLACEHOLDER.split(route_text)
            # split() gives text, converter, name, text, converter, name, ..., text
            out = [pieces[0]]
            for index in range(1, len(pieces), 3):
                converter, name, tail = pieces[index], pieces[index + 1], pieces[index + 2]
                out.append(draw(path_value(world, converter or "str", name, label)))
                out.append(tail)
            path += "".join(out)
        elif isinstance(part, RegexPattern):
            text = draw(
                st.one_of(
                    st.from_regex(
                        part.regex, fullmatch=True, alphabet=st.characters(codec="utf-8")
                    ),
                    st.sampled_from(world.values["app_label"]),
                )
            )
            path += quote(text.lstrip("^"), safe="/")
    return path


# Sent as they are: a NUL and bytes that are not UTF-8, once decoded by the server.
RAW_IN_PATH = ("%00", "%ff%fe")


def path_value(
    world: World, converter: str, name: str, label: str | None
) -> st.SearchStrategy[str]:
    if name in ("object_id", "id"):
        good = world.pks(label)
    elif name in ("pk",):
        good = world.pks("videos.video")
    else:
        good = world.values.get(name, []) or world.pks()
    hostile: list[str] = HUGE_INTS
    if converter != "int":
        hostile = [*HUGE_INTS, *NUMBERISH, "%00", "é", "x" * 300, "a b", "..", "%ff%fe"]
    text = st.text(st.characters(codec="utf-8", exclude_characters="/"), min_size=1, max_size=30)
    if converter == "int":
        text = st.integers(min_value=0, max_value=2**70).map(str)
    value = st.one_of(st.sampled_from(good or ["1"]), st.sampled_from(hostile), text)
    return value.map(lambda v: v if v in RAW_IN_PATH else quote(v, safe=""))


# Who asks, weighted: the admin's pages are mostly for the superuser, the app's for members.
PERSONAS = {
    "admin": ["root", "root", "root", "staff", "member", "anonymous"],
    "app": ["member", "member", "member", "staff", "staff", "root", "anonymous"],
}
HTMX_TARGETS = ["cost-estimate", "video-fields", "results", "progress", "#x", ""]


RANGES = [
    "bytes=0-",
    "bytes=-1",
    "bytes=5-1",
    "bytes=a-b",
    "bytes=0-1,2-3",
    "bytes=-0",
    "bytes=99999999999999999999-",
    "bytes=0-99999999999999999999",
    "items=0-1",
    "bytes=",
]
HEADERS = [
    # htmx's (django-htmx reads them into request.htmx)
    ("HX-Target", HTMX_TARGETS),
    ("HX-Trigger", ["", "id_model", "load"]),
    ("HX-Trigger-Name", ["model", "seconds"]),
    ("HX-Current-URL", ["http://testserver/videos/new/", "not a url", "http://[::1"]),
    ("HX-History-Restore-Request", ["true", "false"]),
    ("HX-Boosted", ["true"]),
    ("HX-Prompt", ["yes"]),
    # what the media view reads (a <video> seeks with Range)
    ("Range", RANGES),
    ("If-Range", ['"etag"', "Tue, 01 Dec 2026 10:00:00 GMT", "garbage"]),
    ("If-Modified-Since", ["Tue, 01 Dec 2026 10:00:00 GMT", "Mon, 01 Jan 10000 00:00:00 GMT"]),
    ("If-None-Match", ['"x"', "*", ""]),
]  # fmt: skip


@st.composite
def request_headers(draw: st.DrawFn) -> dict[str, str]:
    if not draw(st.booleans()):
        return {}
    headers = {}
    if draw(st.booleans()):
        headers["HX-Request"] = draw(st.sampled_from(["true", "false", "", "1"]) | header_text)
    for header, values in draw(
        st.lists(st.sampled_from(HEADERS), max_size=4, unique_by=lambda h: h[0])
    ):
        headers[header] = draw(st.sampled_from(values) | header_text)
    return headers


# Bodies no form makes: a broken multipart, bytes that are not UTF-8, too many fields.
RAW_BODIES = [
    (b'--xx\r\nContent-Disposition: form-data; name="a"\r\n\r\n1',  # no closing boundary
     "multipart/form-data; boundary=xx"),
    (b"garbage", "multipart/form-data"),
    (b"garbage", "multipart/form-data; boundary="),
    (b"a=%ff%fe&b=\xff\xfe", "application/x-www-form-urlencoded"),
    (b"a=1&" * 2000, "application/x-www-form-urlencoded"),
    (b"a=1", "application/x-www-form-urlencoded; charset=no-such-charset"),
    (b'{"prompt": "x"}', "application/json"),
]  # fmt: skip


@dataclass
class Call:
    persona: str
    method: str
    path: str
    data: dict[str, Any]
    headers: dict[str, str]
    csrf_missing: bool
    raw_query: str
    body: tuple[bytes, str] | None = None  # sent instead of `data` (POST)


@st.composite
def calls(
    draw: st.DrawFn, world: World, route: Route, params: list[Param], methods: list[str]
) -> Call:
    persona = draw(st.sampled_from(PERSONAS["admin" if route.model_admin else "app"]))
    method = draw(st.sampled_from(methods))
    path = draw(path_for(world, route))
    data: dict[str, Any] = {}
    # A page's own parameters (its view's and form's) are mostly all sent; of the many
    # an admin page reads, a few at a time.
    own = [param for param in params if param.own]
    chosen = [param for param in own if draw(st.integers(0, 9)) < 7]
    others = [param for param in params if not param.own]
    if others:
        chosen += draw(st.lists(st.sampled_from(others), max_size=5, unique=True))
    for param in chosen:
        if param.kind == "file" and method == "POST":
            data[param.name] = draw(upload())
        elif draw(st.integers(0, 9)) == 0:
            data[param.name] = draw(st.lists(value_for(world, param), min_size=2, max_size=3))
        else:
            data[param.name] = draw(value_for(world, param))
    for name in draw(st.lists(any_text, max_size=2)):
        data.setdefault(name or "_", draw(any_text))
    raw_query = draw(st.sampled_from(["", "", "", "a=%ff%fe", "%zz=1", "x=1&x", "&&=&"]))
    return Call(
        persona=persona,
        method=method,
        path=path,
        data=data,
        headers=draw(request_headers()),
        csrf_missing=method == "POST" and draw(st.integers(0, 5)) == 0,
        raw_query=raw_query,
        body=draw(st.sampled_from(RAW_BODIES)) if draw(st.integers(0, 9)) == 0 else None,
    )


class Clients:
    """One logged-in test client per persona (and per CSRF mode), logged in once.

    Each request starts from the cookies the login gave: a logout, a password change
    or a new session in one example does not leak into the next."""

    def __init__(self, world: World) -> None:
        self.world = world
        self._clients: dict[tuple[str, bool], tuple[Client, SimpleCookie]] = {}

    def get(self, persona: str, *, enforce_csrf: bool = False) -> Client:
        key = (persona, enforce_csrf)
        if key not in self._clients:
            client = Client(enforce_csrf_checks=enforce_csrf, raise_request_exception=False)
            if persona != "anonymous":
                client.force_login(self.world.users[persona])
            self._clients[key] = (client, copy.deepcopy(client.cookies))
        client, cookies = self._clients[key]
        client.cookies = copy.deepcopy(cookies)
        return client


def send(client: Client, call: Call) -> Any:
    path = call.path
    if call.method == "POST":
        if call.raw_query:
            path = f"{path}?{call.raw_query}"
        if call.body is not None:
            body, content_type = call.body
            return client.generic(
                "POST", path, body, content_type=content_type, headers=call.headers
            )
        return client.post(path, call.data, headers=call.headers)
    data = {k: v for k, v in call.data.items() if not isinstance(v, SimpleUploadedFile)}
    if call.raw_query and not data:
        path = f"{path}?{call.raw_query}"
    if call.method == "HEAD":
        return client.head(path, data, headers=call.headers)
    return client.get(path, data, headers=call.headers)


def csrf_checked(path: str) -> bool:
    try:
        match = resolve(unquote(path.split("?")[0]))
    except Resolver404:
        return False
    return not getattr(match.func, "csrf_exempt", False)


@pytest.fixture
def world(provider: Any) -> World:
    # `provider`: the app's client is the in-process simulator (sync views call it).
    return make_world()


def plain_path(world: World, route: Route) -> str:
    """The route's path with good values (the first real id, a known name)."""
    label = route.model_admin.model._meta.label_lower if route.model_admin else None
    path = "/"
    for part in route.parts:
        if isinstance(part, RoutePattern):

            def good(match: re.Match[str]) -> str:
                name = match.group("name")
                if name in ("object_id", "id"):
                    return world.pks(label)[0]
                if name == "pk":
                    return world.pks("videos.video")[0]
                return (world.values.get(name) or world.pks())[0]

            path += PLACEHOLDER.sub(good, str(part))
        elif isinstance(part, RegexPattern):
            path += world.values["app_label"][0] + "/" if "app_label" in part.regex.pattern else ""
    return path


def methods_answered(clients: Clients, path: str) -> list[str]:
    """The methods the route takes: asked of it, as the superuser, with nothing sent."""
    taken = []
    for method in ("GET", "POST", "HEAD"):
        client = clients.get("root")  # logged in outside the savepoint
        with transaction.atomic():
            response = client.generic(method, path)
            transaction.set_rollback(True)
        if response.status_code != 405:
            taken.append(method)
    return taken or ["GET", "POST"]


# Django's admin hands a date typed in a list filter's address (?attempt_time__gte=...)
# to the database as a naive datetime, and says so: not news here.
@pytest.mark.filterwarnings("ignore:DateTimeField .* received a naive datetime:RuntimeWarning")
@pytest.mark.parametrize("route", ROUTES, ids=str)
def test_no_input_gets_a_server_error(
    route: Route, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    clients = Clients(world)
    params = params_for(route)
    methods = methods_answered(clients, plain_path(world, route))
    examples = ADMIN_EXAMPLES if route.model_admin else APP_EXAMPLES

    # The world is made once per route; each example runs in a savepoint rolled back
    # after it, so a POST that deletes or logs out leaves the next example the same world.
    # (Made in the test, the examples share no function-scoped fixture with hypothesis.)
    @settings(
        max_examples=max(1, int(SCALE * examples)),
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(call=calls(world, route, params, methods))
    def answered(call: Call) -> None:
        # Logged in outside the savepoint: the session outlives the example.
        client = clients.get(call.persona, enforce_csrf=call.csrf_missing)
        caplog.clear()
        with caplog.at_level(logging.ERROR, logger="django.request"), transaction.atomic():
            response = send(client, call)
            transaction.set_rollback(True)
        errors = [r.getMessage() for r in caplog.records if is_server_error(r)]
        assert response.status_code < 500, (call, response.status_code)
        assert not errors, (call, errors)
        assert_own_words(response, call)
        if call.csrf_missing and csrf_checked(call.path):
            # A form sent without its CSRF token: the 403 page, whatever else is wrong.
            assert response.status_code == 403, (call, response.status_code)
            assert b"That form could not be accepted" in response.content

    answered()


# A valid form for the pages that take one, so that one bad field gets past the others.
BASELINE: dict[str, dict[str, str]] = {
    "videos:new": {"model": "Sora-2", "prompt": "a lighthouse", "seconds": "4", "size": "720x1280"},
    "videos:remix": {"prompt": "in watercolour"},
    "videos:extend": {"prompt": "the tide comes in", "seconds": "4"},
    "videos:edit": {"title": "Lighthouse", "visibility": "team"},
    "gallery:star": {"starred": "1"},
    "usage:settle": {"charge": "none"},
    "login": {"username": "olivia", "password": "a wrong guess"},
    "admin:login": {"username": "olivia", "password": "a wrong guess"},
    "password_change": {"old_password": "wrong", "new_password1": "x", "new_password2": "x"},
}
# The sweep's values: a few of each kind that have broken parsers somewhere.
SWEEP_INTS = ["9223372036854775808", "-9223372036854775809", "1e18", "1" + "0" * 40, "-1"]
SWEEP_TEXT = ["", "\x00", "x" * 5000, "\r\nX-Injected: 1", "{{ 7|add:7 }}", "\U0001f3ac" * 40]
SWEEP = {
    "int": [*SWEEP_INTS, "nan", "inf", "7.5", "\u00b2", "\uff11\uff12", "", "\x00", "x" * 5000],
    "date": ["9999-12-31", "99999999-01-01", "0001-01-01", "2026-02-30", "1969-12-31",
             "2026-12-01T25:61", "garbage", "", "\x00"],
    "url": ["not-a-path", "videos:list", "//evil.example/", "/\\evil.example/",
            "http://evil.example/", "javascript:alert(1)", "/gallery/\r\nX: 1", "", "\x00"],
    "cursor": CURSORISH,
    "bool": ["", "x", "\x00", "2"],
    "choice": [*SWEEP_TEXT, *SWEEP_INTS[:2], "__proto__"],
    "text": [*SWEEP_TEXT, "%s%n", "not-a-path", "2026-12-01T10:00:00+00:00~1"],
}  # fmt: skip
SWEPT = [route for route in ROUTES if any(param.own for param in params_for(route))]


@pytest.mark.parametrize("route", SWEPT, ids=str)
def test_each_parameter_takes_each_bad_value_of_its_kind(
    route: Route, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    """The table, beside the random search: each of a page's own parameters gets each
    hostile value of its kind once, the other fields valid, as the first persona the
    page lets in."""
    clients = Clients(world)
    path = plain_path(world, route)
    methods = [m for m in methods_answered(clients, path) if m != "HEAD"]
    persona = next(
        (p for p in ("member", "staff", "root") if clients.get(p).get(path).status_code != 403),
        "root",
    )
    base = BASELINE.get(route.name, {})
    own = {p.name: p for p in reversed(params_for(route)) if p.own and p.kind != "file"}
    for param in own.values():
        for value in SWEEP.get(param.kind, TEXTISH):
            for method in methods:
                data = {**base, param.name: value}
                answered(clients, Call(persona, method, path, data, {}, False, ""), caplog)


# The parameters every admin list reads, and values that broke Django's admin somewhere.
ADMIN_SWEEP = ["", "\x00", "a word", "99999999999999999999", "9999"]
CHANGELISTS = [route for route in ROUTES if route.name.endswith("_changelist")]


@pytest.mark.parametrize("route", CHANGELISTS, ids=str)
def test_each_admin_list_parameter_takes_each_bad_value(
    route: Route, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    """The same table for every ModelAdmin's list, as the superuser: its query string
    (sort, search, page, filters, date hierarchy) and its actions."""
    assert route.model_admin is not None
    clients = Clients(world)
    path = plain_path(world, route)
    label = route.model_admin.model._meta.label_lower
    listed = [
        param.name
        for param in model_params(route.model_admin, "changelist")
        if param.name not in ADMIN_ACTIONS and not param.name.startswith("form-")
    ]
    action = {"action": "delete_selected", "index": "0", "_selected_action": world.pks(label)[0]}
    for value in ADMIN_SWEEP:
        for name in dict.fromkeys(listed):
            answered(clients, Call("root", "GET", path, {name: value}, {}, False, ""), caplog)
        for name in ADMIN_ACTIONS:
            data = {**action, name: value}
            answered(clients, Call("root", "POST", path, data, {}, False, ""), caplog)


def answered(clients: Clients, call: Call, caplog: pytest.LogCaptureFixture) -> None:
    """Send one request in a savepoint (rolled back): no 500, no server error logged."""
    client = clients.get(call.persona)
    caplog.clear()
    with caplog.at_level(logging.ERROR, logger="django.request"), transaction.atomic():
        response = send(client, call)
        transaction.set_rollback(True)
    errors = [r.getMessage() for r in caplog.records if is_server_error(r)]
    assert response.status_code < 500, (call, response.status_code)
    assert not errors, (call, errors)
    assert_own_words(response, call)


def is_server_error(record: logging.LogRecord) -> bool:
    return record.name == "django.request" and record.levelno >= logging.ERROR


# --- The 500s found so far, as plain cases ----------------------------------------------


@pytest.fixture
def member(db: None) -> User:
    return make_user("olivia")


@pytest.fixture
def superuser(db: None) -> User:
    return make_user("root", is_staff=True, is_superuser=True)


@pytest.mark.parametrize(
    "target",
    [
        "not-a-path",
        "videos:list",
        "gallery:star",
        "2147483648",
        "//evil.example/",
        "/\\evil.example/",
        "http://evil.example/",
        "http://testserver/gallery/",
        "javascript:alert(1)",
        "/gallery/\r\nSet-Cookie: x=1",
        "",
    ],
)
def test_a_star_sent_with_a_next_that_is_not_a_local_path_goes_back_to_the_video(
    client: Client, member: User, target: str
) -> None:
    video = a_video(owner=member)
    client.force_login(member)
    response = client.post(f"/gallery/star/{video.pk}/", {"starred": "1", "next": target})
    assert response.status_code == 302
    assert response["Location"] == video.get_absolute_url()


def test_a_star_sent_from_a_page_goes_back_to_that_page(client: Client, member: User) -> None:
    video = a_video(owner=member)
    client.force_login(member)
    back = "/gallery/?q=lake&sort=longest"
    response = client.post(f"/gallery/star/{video.pk}/", {"starred": "1", "next": back})
    assert response.status_code == 302 and response["Location"] == back


@pytest.mark.parametrize(
    "since",
    ["-9223372036854775809", "9223372036854775808", "1e18", "-1e18", "1e308", "nan", "inf",
     "-1", "253402300800", "junk", ""],
)  # fmt: skip
def test_the_progress_poll_answers_every_card_for_a_since_it_cannot_use(
    client: Client, member: User, since: str
) -> None:
    video = a_video(owner=member, running=True)
    client.force_login(member)
    response = client.get("/videos/progress/", {"id": str(video.pk), "since": since})
    assert response.status_code == 200
    assert f'id="video-{video.pk}"' in response.content.decode()


def test_the_progress_poll_still_answers_only_what_changed_since_a_good_since(
    client: Client, member: User
) -> None:
    video = a_video(owner=member, running=True)
    client.force_login(member)
    since = f"{timezone.now().timestamp() + 5:.3f}"
    response = client.get("/videos/progress/", {"id": str(video.pk), "since": since})
    assert response.status_code == 200
    assert f'id="video-{video.pk}"' not in response.content.decode()


@pytest.mark.parametrize(
    "query",
    [
        "created_at__year=99999999",
        "created_at__year=9999",
        "created_at__year=9999&created_at__month=12",
        "created_at__year=9999&created_at__month=12&created_at__day=31",
        "created_at__year=1&created_at__month=0",
        "created_at__gte=garbage",
    ],
)
@pytest.mark.parametrize("model", ["videos/video", "usage/ledgerentry"])
def test_an_admin_date_filter_out_of_range_shows_the_whole_list_with_a_note(
    client: Client, superuser: User, query: str, model: str
) -> None:
    a_video(owner=superuser)
    LedgerEntryFactory()
    client.force_login(superuser)
    response = client.get(f"/admin/{model}/?{query}")
    assert response.status_code == 302 and response["Location"] == f"/admin/{model}/?e=1"
    page = client.get(response["Location"])
    assert page.status_code == 200
    assert "The filters in that address could not be used" in page.content.decode()


def test_an_admin_date_filter_in_range_still_filters(client: Client, superuser: User) -> None:
    a_video(owner=superuser, prompt="a lighthouse this year")
    client.force_login(superuser)
    year = timezone.now().year
    shown = client.get(f"/admin/videos/video/?created_at__year={year}").content.decode()
    assert "a lighthouse this year" in shown
    hidden = client.get("/admin/videos/video/?created_at__year=9998").content.decode()
    assert "a lighthouse this year" not in hidden and "could not be used" not in hidden


@pytest.mark.parametrize("page", ["change", "delete", "history"])
def test_an_empty_to_field_on_an_admin_page_means_the_primary_key(
    client: Client, superuser: User, page: str
) -> None:
    video = a_video(owner=superuser)
    client.force_login(superuser)
    response = client.get(f"/admin/videos/video/{video.pk}/{page}/", {"_to_field": ""})
    assert response.status_code == 200
    assert str(video) in response.content.decode()


@pytest.mark.parametrize(
    "query",
    [
        {"model__exact": "\x00"},
        {"status": "a\x00b"},
        {"q": "\x00"},
        {"created_at__gte": "\x00"},
    ],
)
def test_a_nul_in_an_admin_list_filter_is_refused_with_a_400_page(
    client: Client, superuser: User, query: dict[str, str]
) -> None:
    # PostgreSQL raised a DataError for these once the list was read.
    a_video(owner=superuser)
    client.force_login(superuser)
    response = client.get("/admin/videos/video/", query)
    assert response.status_code == 400
    assert "NUL character" in response.content.decode()


def test_a_nul_in_an_admin_autocomplete_term_is_refused_with_a_400_page(
    client: Client, superuser: User
) -> None:
    client.force_login(superuser)
    query = {"term": "ol\x00", "app_label": "videos", "model_name": "video", "field_name": "owner"}
    assert client.get("/admin/autocomplete/", query).status_code == 400


def test_a_nul_in_an_admin_object_id_is_no_such_object(client: Client, superuser: User) -> None:
    TaskFactory(success=True)
    client.force_login(superuser)
    response = client.get("/admin/django_q/success/%00/change/")
    assert response.status_code == 302 and response["Location"] == "/admin/"


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("2026-12-01", 'value="2026-12-01"'),
        ("2026-12-01 10:30", 'value="10:30:00"'),
        ("garbage", 'name="next_run_0"'),
        ("9999-12-31T23:00:00-14:00", 'name="next_run_0"'),
    ],
)
def test_an_admin_add_page_prefilled_with_a_date_from_its_address_shows_or_drops_it(
    client: Client, superuser: User, value: str, shown: str
) -> None:
    client.force_login(superuser)
    response = client.get("/admin/django_q/schedule/add/", {"next_run": value})
    assert response.status_code == 200
    assert shown in response.content.decode()


@pytest.mark.parametrize("header", RANGES)
def test_the_media_view_answers_any_range_header(client: Client, member: User, header: str) -> None:
    video = a_video(owner=member, with_files=True)
    client.force_login(member)
    response = client.get(f"/videos/{video.pk}/video/", headers={"Range": header})
    assert response.status_code in (200, 206, 416)


def test_every_registered_model_admin_is_hardened() -> None:
    # Registered through StudioAdminSite: ours, auth's, django-q's, axes', any later app's.
    for model_admin in admin.site._registry.values():
        assert isinstance(model_admin, InputSafeAdmin), type(model_admin)


@pytest.mark.parametrize(
    "model_admin",
    [ma for ma in admin.site._registry.values() if ma.date_hierarchy],
    ids=lambda ma: ma.model._meta.label_lower,
)
def test_every_admin_list_by_date_takes_the_last_month_of_the_calendar(
    client: Client, superuser: User, model_admin: admin.ModelAdmin[Any]
) -> None:
    opts = model_admin.model._meta
    url = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
    client.force_login(superuser)
    field = model_admin.date_hierarchy
    response = client.get(url, {f"{field}__year": "9999", f"{field}__month": "12"})
    assert response.status_code == 302 and response["Location"] == f"{url}?e=1"


@pytest.mark.parametrize("path", ["/accounts/login/", "/admin/login/"])
def test_a_username_longer_than_any_accounts_is_a_wrong_login(
    client: Client, member: User, path: str
) -> None:
    # django-axes recorded the failed sign-in in a 255-character column: PostgreSQL
    # refused the row (a 500) and SQLite kept a name no account can have.
    response = client.post(path, {"username": "x" * 5000, "password": "guess"})
    assert response.status_code == 200
    assert "That username and password do not match" in response.content.decode()
    assert not AccessAttempt.objects.filter(username__startswith="xxx").exists()


def test_a_wrong_password_is_still_recorded_for_the_lockout(client: Client, member: User) -> None:
    response = client.post("/accounts/login/", {"username": "olivia", "password": "guess"})
    assert response.status_code == 200
    assert AccessAttempt.objects.filter(username="olivia").exists()


@pytest.mark.parametrize(
    ("model", "selected"),
    [
        ("videos/video", ""),
        ("videos/video", "a word"),
        ("videos/video", "99999999999999999999"),
        ("auth/user", "-9223372036854775809"),
        ("django_q/ormq", ""),
        ("django_q/success", "a\x00b"),
    ],
)
def test_an_admin_action_on_a_selection_that_is_no_id_changes_nothing_and_says_so(
    client: Client, superuser: User, model: str, selected: str
) -> None:
    video = a_video(owner=superuser)
    client.force_login(superuser)
    url = f"/admin/{model}/"
    response = client.post(
        url, {"action": "delete_selected", "_selected_action": [selected], "index": "0"}
    )
    assert response.status_code == 302 and response["Location"] == url
    assert "the selection held an id that is not one" in client.get(url).content.decode()
    assert Video.objects.filter(pk=video.pk).exists()


@pytest.mark.parametrize(
    ("model", "query"),
    [("auth/user", {"groups": "99999999999999999999"}), ("usage/ledgerentry", {"video": "1" * 30})],
)
def test_an_admin_filter_by_a_related_id_past_64_bits_is_answered(
    client: Client, superuser: User, model: str, query: dict[str, str]
) -> None:
    LedgerEntryFactory()
    client.force_login(superuser)
    response = client.get(f"/admin/{model}/", query)
    if connection.vendor == "sqlite":  # it cannot bind the number: the admin's ?e=1
        assert response.status_code == 302 and response["Location"] == f"/admin/{model}/?e=1"
    else:  # PostgreSQL compares it, and nothing matches
        assert response.status_code == 200 and "paginator" in response.content.decode()
