from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.text import Truncator
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from videostudio.forms import choice_list
from videostudio.http import page_asked, safe_next
from videostudio.notifications import emails, services
from videostudio.notifications.kinds import Kind, Words, describe, kinds_for
from videostudio.notifications.models import EmailChoice, Notification


@dataclass(frozen=True)
class Shown:
    notification: Notification
    words: Words


@require_GET
def notification_list(request: HttpRequest) -> HttpResponse:
    """The member's notifications, newest first (?unread=1: the unread ones only)."""
    unread_only = request.GET.get("unread") == "1"
    mine = Notification.objects.filter(recipient_id=request.user.pk).select_related(
        "event", "event__video", "event__video__owner", "event__video__parent", "event__actor"
    )
    if unread_only:
        mine = mine.filter(read_at__isnull=True)
    page = page_asked(request, Paginator(mine, 30))
    shown = [Shown(n, describe(n.event, request.user)) for n in page.object_list]
    return render(
        request,
        "notifications/list.html",
        {"page": page, "shown": shown, "unread_only": unread_only},
    )


@require_POST
def notifications_read(request: HttpRequest) -> HttpResponse:
    """Mark one notification (`id`) or all of them (`all`) read."""
    back = safe_next(request, reverse("notifications:list"))
    if request.POST.get("all"):
        count = services.notifications_mark_all_read(request.user)
        messages.success(request, f"Marked {count} notification{'s' if count != 1 else ''} read.")
        return redirect(back)
    raw = request.POST.get("id", "")
    if not (raw.isascii() and raw.isdigit() and len(raw) < 19):
        messages.error(request, "That is not one of your notifications: nothing was marked.")
        return redirect(back)
    services.notifications_mark_read(request.user, [int(raw)])
    return redirect(back)


@require_POST
def notification_open(request: HttpRequest, pk: int) -> HttpResponse:
    """Mark it read and go where it points (the video, the usage review...)."""
    notification = get_object_or_404(
        Notification.objects.select_related("event", "event__video"),
        pk=pk,
        recipient_id=request.user.pk,
    )
    services.notifications_mark_read(request.user, [notification.pk])
    return redirect(describe(notification.event, request.user).url or reverse("notifications:list"))


# --- Email preferences


CHOICE_FIELD = "email-"  # the form's field for a kind: email-<kind>, e.g. email-video.completed


@dataclass(frozen=True)
class KindRow:
    kind: Kind
    choice: str
    slug: str  # for ids: the kind's name without dots


def _rows(user: Any, chosen: dict[str, str]) -> list[KindRow]:
    return [
        KindRow(kind, chosen.get(kind.name, kind.email), kind.name.replace(".", "-"))
        for kind in kinds_for(user)
    ]


def _choices_asked(request: HttpRequest) -> tuple[dict[str, str], str]:
    """The choices the form sent (kind -> choice), or what is wrong with them."""
    allowed = {kind.name: kind for kind in kinds_for(request.user)}
    labels = choice_list(label for _value, label in EmailChoice.choices)
    asked: dict[str, str] = {}
    for field, values in request.POST.lists():
        if not field.startswith(CHOICE_FIELD):
            continue
        name = field.removeprefix(CHOICE_FIELD)
        kind = allowed.get(name)
        if kind is None:
            shown = Truncator(name).chars(60)
            return (
                {},
                f"“{shown}” is not a kind of event you can get emails about: nothing was saved.",
            )
        if len(values) != 1 or values[0] not in EmailChoice.values:
            return {}, f"Choose {labels} for “{kind.label}”: nothing was saved."
        asked[name] = values[0]
    if not asked:
        return {}, f"Choose {labels} for each kind of event: nothing was saved."
    return asked, ""


@require_http_methods(["GET", "POST"])
def email_settings(request: HttpRequest) -> HttpResponse:
    """Which events the member hears of by email: at once, in the daily digest, or not."""
    user = request.user
    enabled = services.email_enabled()
    problem = ""
    if request.method == "POST":
        if not enabled:
            problem = "This studio does not send email: nothing was saved."
        else:
            asked, problem = _choices_asked(request)
            if not problem:
                changed = emails.email_choices_save(user=user, choices=asked)
                messages.success(
                    request,
                    f"Saved: {changed} choice{'s' if changed != 1 else ''} changed."
                    if changed
                    else "Saved: nothing changed.",
                )
                return redirect("notifications:settings")
    return render(
        request,
        "notifications/settings.html",
        {
            "rows": _rows(user, services.email_choices(user)),
            "choices": EmailChoice.choices,
            "field": CHOICE_FIELD,
            "enabled": enabled,
            "address": getattr(user, "email", ""),
            "digest_hour": settings.VIDEOSTUDIO_DIGEST_HOUR,
            "problem": problem,
        },
        status=400 if problem else 200,
    )
