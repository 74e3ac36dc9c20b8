from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlsplit

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from videostudio.gallery.forms import SORTS, GalleryFilters
from videostudio.gallery.selectors import decode_cursor, gallery_page
from videostudio.gallery.services import star_set
from videostudio.http import htmx_refusal, note, safe_next
from videostudio.videos.expiry import buildable_models
from videostudio.videos.models import Video


@login_required
@require_GET
def gallery(request: HttpRequest) -> HttpResponse:
    models = list(
        Video.objects.shared().order_by("model").values_list("model", flat=True).distinct()
    )
    form = GalleryFilters(request.GET or None, models=models)
    # Invalid fields are shown with their errors; the valid ones still filter.
    filters: dict[str, Any] = {"sort": "newest"}
    if form.is_bound:
        form.is_valid()
        filters.update({k: v for k, v in form.cleaned_data.items() if v})
    cursor = request.GET.get("after")
    if cursor and decode_cursor(cursor, SORTS[filters["sort"]][1]) is None:
        note(request, "That link to more videos is out of date: the gallery starts again here.")
    page = gallery_page(user=request.user, filters=filters, cursor=cursor)
    context = {
        "form": form,
        "videos": page.videos,
        "next_url": _next_url(request, page),
        "buildable": buildable_models(),  # models members may remix or extend now
    }
    htmx = getattr(request, "htmx", None)
    if htmx and not htmx.history_restore_request:
        part = "more" if request.GET.get("after") else "results"
        response = render(request, f"gallery/index.html#{part}", context)
        if part == "results" and _same_page(htmx.current_url_abs_path, request.get_full_path()):
            # Typing, then Enter (a change and a submit) asks for the page it is on:
            # one history entry per search, not three.
            response["HX-Push-Url"] = "false"
        return response
    return render(request, "gallery/index.html", context)


def _same_page(current: str | None, asked: str) -> bool:
    if not current:
        return False
    here, there = urlsplit(current), urlsplit(asked)
    return here.path == there.path and sorted(parse_qsl(here.query, keep_blank_values=True)) == (
        sorted(parse_qsl(there.query, keep_blank_values=True))
    )


def _next_url(request: HttpRequest, page: Any) -> str | None:
    if page.next_cursor is None:
        return None
    query = request.GET.copy()
    query["after"] = page.next_cursor
    return f"{request.path}?{query.urlencode()}"


# What the star button sends: "1" stars, "0" (or nothing, as before) unstars.
STARRED = {"1": True, "0": False, "": False}


@login_required
@require_POST
def star(request: HttpRequest, pk: int) -> HttpResponse:
    video = get_object_or_404(Video.objects.visible_to(request.user), pk=pk)
    wanted = request.POST.get("starred", "")
    if wanted not in STARRED:
        refusal = "That star button was out of date, so nothing changed: reload the page."
        if getattr(request, "htmx", None):
            return htmx_refusal(refusal)
        messages.error(request, refusal)
        return redirect(safe_next(request, video.get_absolute_url()))
    starred = star_set(user=request.user, video=video, starred=STARRED[wanted])
    if not getattr(request, "htmx", None):
        # A plain form (no JavaScript, or the dashboard): back to where it was sent from.
        return redirect(safe_next(request, video.get_absolute_url()))
    return render(request, "gallery/index.html#star", {"video": video, "starred": starred})
