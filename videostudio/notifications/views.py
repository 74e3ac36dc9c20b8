from __future__ import annotations

from dataclasses import dataclass

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from videostudio.http import page_asked, safe_next
from videostudio.notifications import services
from videostudio.notifications.kinds import Words, describe
from videostudio.notifications.models import Notification


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
