"""Small helpers for views that every app shares."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Page, Paginator
from django.http import HttpRequest, HttpResponse
from django.utils.html import format_html
from django.utils.http import url_has_allowed_host_and_scheme


def safe_next(request: HttpRequest, default: str) -> str:
    """Where a form asked to go back to (`next`) if it is a path on this site, else
    `default`.

    Only a local path is taken: no scheme, no other host, no control characters, and
    not a bare word either (`redirect()` would take it for a view name and fail).
    """
    target = request.POST.get("next", "")
    if (
        target.startswith("/")
        and target.isprintable()
        and url_has_allowed_host_and_scheme(target, allowed_hosts=None)
    ):
        return target
    return default


def htmx_refusal(text: str) -> HttpResponse:
    """An htmx request refused: the reason in the page's alert area, the part of the
    page that was sent left as it was. (200: htmx swaps no 4xx answer.)"""
    box = format_html('<div class="error-box" role="alert"><p>{}</p></div>', text)
    response = HttpResponse(box)
    response["HX-Retarget"] = "#page-alert"
    response["HX-Reswap"] = "innerHTML"
    return response


def is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


def note(request: HttpRequest, text: str) -> None:
    """Say on the page being drawn that part of its address was not used, and what is
    shown instead. Only a whole page shows notes: an htmx swap leaves them, and one
    queued then would surface on some later page, out of place."""
    if not is_htmx(request):
        messages.info(request, text)


def page_asked(request: HttpRequest, paginator: Paginator, *, name: str = "page") -> Page:
    """The page of `paginator` that `?page=` asks for. A number that is not a page (a
    word, 0, past the last) is said, and page 1 or the last page shown instead."""
    raw = request.GET.get(name, "")
    if not raw:
        return paginator.page(1)
    shown = raw if len(raw) <= 20 else f"{raw[:20]}…"
    try:
        number = int(raw)
    except ValueError:
        note(request, f"“{shown}” is not a page number: the first page is shown.")
        return paginator.page(1)
    last = paginator.num_pages
    if number < 1:
        note(request, f"Pages are numbered from 1: the first page is shown, not page {shown}.")
        return paginator.page(1)
    if number > last:
        pages = f"{last} page{'s' if last != 1 else ''}"
        note(request, f"There is no page {shown}: the list has {pages}; the last is shown.")
        return paginator.page(last)
    return paginator.page(number)
