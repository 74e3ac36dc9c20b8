"""The Content-Security-Policy: every page sends a strict one with a fresh nonce, and
nothing on any page needs more (no inline script, style or handler, no eval for htmx).

The browser tests (tests/test_browser.py) run the real stack under this policy and fail
on any violation the browser reports.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from django.contrib import admin
from django.template.loader import render_to_string
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from videostudio.videos.models import Video

from .conftest import make_user
from .factories import a_lineage, a_video

ROOT = Path(__file__).resolve().parent.parent
HTMX = {"HX-Request": "true"}
UNSAFE = ("'unsafe-inline'", "'unsafe-eval'", "'unsafe-hashes'", "'strict-dynamic'", "*")


def policy_of(response: Any, header: str = "Content-Security-Policy") -> dict[str, list[str]]:
    directives: dict[str, list[str]] = {}
    for part in response[header].split(";"):
        name, *values = part.split()
        assert name not in directives, f"{name} twice in {response[header]}"
        directives[name] = values
    return directives


class InlineFinder(HTMLParser):
    """Everything in a page that a policy without 'unsafe-inline' / 'unsafe-eval' blocks."""

    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []
        self.script_nonces: list[str | None] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        where = self.get_starttag_text() or tag
        if tag == "script":
            self.script_nonces.append(found.get("nonce"))
            if not found.get("src"):
                self.problems.append(f"inline script: {where}")
            self._in_script = True
        if tag == "style":
            self.problems.append(f"<style> element: {where}")
        for name, value in attrs:
            value = (value or "").strip().lower()
            bare = name.removeprefix("data-")
            if name == "style":
                self.problems.append(f"style attribute: {where}")
            elif name.startswith("on"):
                self.problems.append(f"event handler attribute {name}: {where}")
            elif bare.startswith("hx-on"):
                self.problems.append(f"hx-on (eval) {name}: {where}")
            elif bare in {"hx-vals", "hx-vars", "hx-headers"} and value.startswith(
                ("js:", "javascript:")
            ):
                self.problems.append(f"{name} evaluated as script: {where}")
            elif bare == "hx-trigger" and "[" in value:
                self.problems.append(f"hx-trigger filter (eval): {where}")
            elif name in {"href", "src", "action", "formaction"} and value.startswith(
                "javascript:"
            ):
                self.problems.append(f"javascript: URL: {where}")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.problems.append(f"script content: {data.strip()[:60]}")


def inline_problems(html: str) -> list[str]:
    finder = InlineFinder()
    finder.feed(html)
    finder.close()
    return finder.problems


def script_nonces(html: str) -> list[str | None]:
    finder = InlineFinder()
    finder.feed(html)
    return finder.script_nonces


# --- The header ------------------------------------------------------------------------


@pytest.fixture
def member(client: Client, owner: Any) -> Client:
    client.force_login(owner)
    return client


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url", ["videos:list", "videos:new", "gallery:index", "usage:review", "login"]
)
def test_every_page_sends_a_strict_policy_with_its_own_nonce(
    client: Client, staff: Any, url: str
) -> None:
    if url != "login":
        client.force_login(staff)
    response = client.get(reverse(url))
    assert response.status_code == 200
    policy = policy_of(response)
    nonce = policy["script-src"][1]
    assert re.fullmatch(r"'nonce-[A-Za-z0-9+/]{22}=='", nonce), nonce
    assert policy == {
        "default-src": ["'self'"],
        "script-src": ["'self'", nonce],
        "style-src": ["'self'"],
        "img-src": ["'self'"],
        "media-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
    assert not any(word in response["Content-Security-Policy"] for word in UNSAFE)
    assert "Content-Security-Policy-Report-Only" not in response
    # Every script tag of the page carries the nonce the header names.
    nonces = script_nonces(response.content.decode())
    assert nonces and set(nonces) == {nonce[len("'nonce-") : -1]}


@pytest.mark.django_db
def test_the_admin_runs_only_its_own_script_files(client: Client, staff: Any) -> None:
    """Django's admin tags carry no nonce: no nonce is made, and 'self' covers its files."""
    client.force_login(staff)
    response = client.get(reverse("admin:index"))
    policy = policy_of(response)
    assert policy["script-src"] == ["'self'"] and policy["style-src"] == ["'self'"]
    html = response.content.decode()
    assert re.findall(r"<script[^>]*>", html)
    assert all(re.search(r'\ssrc="/', tag) for tag in re.findall(r"<script[^>]*>", html)), (
        "an admin script from elsewhere"
    )
    assert "css/admin.css" in html


@pytest.mark.django_db
def test_the_nonce_is_new_on_every_request(member: Client) -> None:
    nonces = set()
    for _ in range(3):
        response = member.get(reverse("videos:list"))
        nonce = policy_of(response)["script-src"][1]
        assert nonce.strip("'").removeprefix("nonce-") in response.content.decode()
        nonces.add(nonce)
    assert len(nonces) == 3


@pytest.mark.django_db
def test_in_report_only_mode_the_nonce_is_in_the_report_only_header(
    member: Client, settings: Any
) -> None:
    settings.CONTENT_SECURITY_POLICY_REPORT_ONLY = settings.CONTENT_SECURITY_POLICY
    settings.CONTENT_SECURITY_POLICY = None
    response = member.get(reverse("videos:list"))
    assert "Content-Security-Policy" not in response
    nonce = policy_of(response, "Content-Security-Policy-Report-Only")["script-src"][1]
    assert set(script_nonces(response.content.decode())) == {nonce[len("'nonce-") : -1]}


@pytest.mark.django_db
def test_error_pages_and_partials_carry_the_policy_too(member: Client, owner: Any) -> None:
    running = a_video(owner=owner, running=True)
    not_found = member.get("/no-such-page/")
    assert not_found.status_code == 404
    assert "'unsafe-inline'" not in not_found["Content-Security-Policy"]
    partial = member.get(
        reverse("videos:progress"), {"view": "list", "id": str(running.pk)}, headers=HTMX
    )
    assert policy_of(partial)["style-src"] == ["'self'"]


def test_htmx_is_told_not_to_eval_inject_styles_or_run_scripts() -> None:
    base = (ROOT / "templates" / "base.html").read_text()
    config = re.search(r"<meta name=\"htmx-config\" content='([^']*)'>", base)
    assert config is not None
    assert len(re.findall(r'name="htmx-config"', base)) == 1  # htmx reads the first only
    assert json.loads(config.group(1)) | {
        "allowEval": False,
        "includeIndicatorStyles": False,
        "allowScriptTags": False,
    } == json.loads(config.group(1))
    # The indicator rules htmx would have injected are in the stylesheet instead.
    css = (ROOT / "static" / "css" / "app.css").read_text()
    assert ".htmx-request .htmx-indicator" in css


# --- Nothing inline, anywhere ---------------------------------------------------------

TEMPLATE_RULES = {
    "style attribute": re.compile(r"\sstyle\s*=", re.I),
    "event handler attribute": re.compile(r"\son[a-z]+\s*=", re.I),
    "hx-on": re.compile(r"\s(data-)?hx-on", re.I),
    "<style> element": re.compile(r"<style", re.I),
    "inline script": re.compile(r"<script(?![^>]*\ssrc=)[^>]*>", re.I),
    "hx-trigger filter (eval)": re.compile(r"hx-trigger\s*=\s*[\"'][^\"']*\[", re.I),
    "js: values (eval)": re.compile(r"hx-(vals|vars|headers)\s*=\s*[\"']\s*(js|javascript):", re.I),
    "javascript: URL": re.compile(r"=\s*[\"']\s*javascript:", re.I),
}


def all_templates() -> list[Path]:
    found = [
        *(ROOT / "templates").rglob("*.html"),
        *(ROOT / "videostudio").glob("*/templates/**/*.html"),
    ]
    assert len(found) > 15
    # Emails are read by mail clients, never under the pages' policy, and most of them
    # take styles inline only.
    return sorted(path for path in found if "email" not in path.parent.parts)


@pytest.mark.parametrize("path", all_templates(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_template_holds_inline_script_style_or_eval(path: Path) -> None:
    text = path.read_text()
    problems = [
        f"{rule} at line {text.count(chr(10), 0, match.start()) + 1}: {match.group(0)!r}"
        for rule, pattern in TEMPLATE_RULES.items()
        for match in pattern.finditer(text)
    ]
    assert not problems


def test_the_scanner_sees_what_the_policy_blocks() -> None:
    """The checks above are only as good as the finder: it must catch each kind."""
    bad = (
        "<script>alert(1)</script><style>p{}</style><p style='color:red'>"
        "<button onclick='go()'><div hx-on:click='x()'><div data-hx-on--click='x()'>"
        "<div hx-vals='js:{a: b}'><div hx-trigger='every 2s [ok()]'><a href='javascript:x()'>"
    )
    problems = inline_problems(bad)
    assert len(problems) == 10, problems
    fine = (
        "<script src='/static/a.js' nonce='abc'></script><div hx-trigger='change from:#f'>"
        "<div hx-vals='{\"a\": 1}'><p class='x' data-depth='3'>"
    )
    assert inline_problems(fine) == []
    for sample in ("<p style='x'>", "<i onclick=x>", "<script>1</script>", "<style>",
                   '<div hx-trigger="every 1s [x]">', "<b hx-on::after-request='x'>"):  # fmt: skip
        assert any(rule.search(sample) for rule in TEMPLATE_RULES.values()), sample


@pytest.fixture
def studio(owner: Any, teammate: Any, staff: Any) -> dict[str, Video]:
    """Something of everything a page can show: jobs in flight, failures, notices,
    a family tree, costs for the usage charts."""
    soon = timezone.now() + timedelta(hours=2)
    family = a_lineage("remix", "extension", owner=owner)
    videos = {
        "running": a_video(owner=owner, running=True),
        "waiting": a_video(owner=owner, running=True, status=Video.Status.WAITING),
        "failed": a_video(
            owner=owner,
            status=Video.Status.FAILED,
            archived_at=None,
            video_file="",
            error_message="The provider refused the prompt.",
        ),
        "expiring": a_video(owner=owner, expires_at=soon),
        "sprited": a_video(
            owner=teammate,
            spritesheet_file="videos/test/sprite.webp",
            sprite_columns=4,
            sprite_rows=2,
            sprite_frames=8,
            cost_points=3300,
            cost_source="reported",
            billed_seconds=4,
        ),
        "family": family[1],
    }
    return videos


def page_urls(videos: dict[str, Video]) -> list[tuple[str, dict[str, Any], dict[str, str]]]:
    """(url, query, headers) of every page and partial, as a member or staff sees them."""
    urls: list[tuple[str, dict[str, Any], dict[str, str]]] = [
        (reverse("videos:list"), {}, {}),
        (reverse("videos:list"), {"family": videos["family"].pk}, {}),
        (reverse("videos:new"), {}, {}),
        (reverse("videos:new"), {"from": videos["failed"].pk}, {}),
        (reverse("videos:new"), {"model": "Veo-3"}, HTMX),
        (reverse("gallery:index"), {}, {}),
        (reverse("gallery:index"), {"q": "scene"}, HTMX),
        (reverse("usage:review"), {}, {}),
        (reverse("admin:index"), {}, {}),
        ("/no-such-page/", {}, {}),
    ]
    for tab in ("jobs", "ledger", "unsettled", "failed"):
        urls.append((reverse("usage:review"), {"tab": tab}, {}))
    for video in videos.values():
        urls.append((reverse("videos:detail", args=[video.pk]), {}, {}))
        urls.append((reverse("videos:delete", args=[video.pk]), {}, {}))
    in_flight = [videos["running"].pk, videos["waiting"].pk]
    urls.append((reverse("videos:progress"), {"view": "list", "id": in_flight}, HTMX))
    urls.append((reverse("videos:progress"), {"view": "detail", "id": videos["running"].pk}, HTMX))
    for model in admin.site._registry.values():
        opts = model.model._meta
        urls.append((reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"), {}, {}))
        urls.append((reverse(f"admin:{opts.app_label}_{opts.model_name}_add"), {}, {}))
    urls.append((reverse("admin:videos_video_change", args=[videos["running"].pk]), {}, {}))
    return urls


@pytest.mark.django_db
def test_no_rendered_page_needs_inline_script_or_style(
    client: Client, studio: dict[str, Video]
) -> None:
    root = make_user("root", is_staff=True, is_superuser=True)
    Video.objects.update(owner=root)  # their own pages, and every admin page
    client.force_login(root)
    seen = 0
    for url, query, headers in page_urls(studio):
        response = client.get(url, query, headers=headers)
        assert response.status_code in {200, 286, 403, 404}, (url, response.status_code)
        if response.status_code in {200, 286}:
            seen += 1
        html = response.content.decode()
        assert not inline_problems(html), (url, query, inline_problems(html))
        assert "Content-Security-Policy" in response
    assert seen > 30
    # What the pages show includes the parts that needed changing.
    detail = client.get(reverse("videos:detail", args=[studio["family"].pk])).content.decode()
    assert 'data-depth="1"' in detail and 'id="family"' in detail
    review = client.get(reverse("usage:review")).content.decode()
    assert "<svg" in review


@pytest.mark.django_db
def test_a_failed_csrf_check_is_explained_without_inline_style(owner: Any) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    response = client.post(reverse("videos:new"), {"prompt": "a cat"})
    assert response.status_code == 403
    html = response.content.decode()
    assert "That form could not be accepted" in html and "reload the page" in html
    assert not inline_problems(html)
    assert "'unsafe-inline'" not in response["Content-Security-Policy"]


def test_the_500_page_has_no_inline_style() -> None:
    html = render_to_string("500.html")
    assert not inline_problems(html)
    assert "css/app.css" in html and 'class="error-page"' in html
