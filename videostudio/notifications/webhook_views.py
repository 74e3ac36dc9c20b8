"""A member's webhooks, and (for staff) the team's: set up, test, look at the log.

A member sees only their own; staff see the team-wide ones too, never another
member's. Anything else is a 404, as if it did not exist. The secret is shown once,
on the first page after it is made (kept in the session until then), and only its
last characters after that.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from videostudio.http import page_asked
from videostudio.notifications import webhooks
from videostudio.notifications.models import Delivery, Webhook
from videostudio.notifications.webhook_forms import WebhookForm, kind_label

LOG_PAGE = 20


def _visible(request: HttpRequest) -> QuerySet[Webhook]:
    user: Any = request.user
    team = Q(owner__isnull=True) if user.is_staff else Q(pk__in=[])
    return Webhook.objects.filter(Q(owner_id=user.pk) | team)


def _webhook(request: HttpRequest, pk: int) -> Webhook:
    return get_object_or_404(_visible(request), pk=pk)


def _secret_key(webhook: Webhook) -> str:
    return f"videostudio:webhook-secret:{webhook.pk}"


def _show_secret_once(request: HttpRequest, webhook: Webhook) -> None:
    request.session[_secret_key(webhook)] = webhook.secret


def hint(webhook: Webhook) -> str:
    return f"…{webhook.secret[-4:]}"


@require_GET
def webhook_list(request: HttpRequest) -> HttpResponse:
    user: Any = request.user
    mine = Webhook.objects.filter(owner_id=user.pk)
    team = Webhook.objects.filter(owner__isnull=True) if user.is_staff else None
    return render(request, "notifications/webhooks/list.html", {"mine": mine, "team": team})


@require_http_methods(["GET", "POST"])
def webhook_new(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        form = WebhookForm(request.POST, user=request.user)
        if form.is_valid():
            data = form.cleaned_data
            webhook = webhooks.webhook_create(
                owner=None if form.for_team() else request.user,
                created_by=request.user,
                name=data["name"],
                url=data["url"],
                format=data["format"],
                kinds=list(data["kinds"]),
            )
            _show_secret_once(request, webhook)
            messages.success(request, f"Webhook “{webhook.name}” is set up and on.")
            if form.unresolved:
                messages.warning(request, f"{form.unresolved} Calls fail until it can be.")
            return redirect("notifications:webhook", webhook.pk)
    else:
        form = WebhookForm(user=request.user)
    return render(request, "notifications/webhooks/new.html", {"form": form})


@never_cache
@require_http_methods(["GET", "POST"])
def webhook_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """Its settings (changed here), what it is doing, and the secret once."""
    webhook = _webhook(request, pk)
    if request.method == "POST":
        form = WebhookForm(request.POST, user=request.user, webhook=webhook)
        if form.is_valid():
            data = form.cleaned_data
            webhooks.webhook_change(
                webhook=webhook,
                name=data["name"],
                url=data["url"],
                format=data["format"],
                kinds=list(data["kinds"]),
            )
            messages.success(request, "Saved.")
            if form.unresolved:
                messages.warning(request, f"{form.unresolved} Calls fail until it can be.")
            return redirect("notifications:webhook", webhook.pk)
    else:
        form = WebhookForm(
            user=request.user,
            webhook=webhook,
            initial={
                "name": webhook.name,
                "url": webhook.url,
                "format": webhook.format,
                "kinds": webhook.kinds,
            },
        )
    secret = request.session.pop(_secret_key(webhook), None) if request.method == "GET" else None
    pending = webhook.deliveries.filter(status=Delivery.Status.PENDING).count()
    return render(
        request,
        "notifications/webhooks/detail.html",
        {
            "webhook": webhook,
            "form": form,
            "secret": secret,
            "hint": hint(webhook),
            "pending": pending,
            "disable_after": settings.VIDEOSTUDIO_WEBHOOK_DISABLE_AFTER,
        },
    )


@require_http_methods(["GET", "POST"])
def webhook_delete(request: HttpRequest, pk: int) -> HttpResponse:
    webhook = _webhook(request, pk)
    if request.method == "POST":
        name = webhook.name
        webhooks.webhook_delete(webhook=webhook)
        messages.success(request, f"Webhook “{name}” is deleted: nothing more is sent to it.")
        return redirect("notifications:webhooks")
    return render(request, "notifications/webhooks/delete.html", {"webhook": webhook})


@require_POST
def webhook_enable(request: HttpRequest, pk: int) -> HttpResponse:
    webhook = _webhook(request, pk)
    if webhooks.webhook_enable(webhook=webhook):
        messages.success(request, f"Webhook “{webhook.name}” is on again, from the next event.")
    else:
        messages.info(request, f"Webhook “{webhook.name}” was on already.")
    return redirect("notifications:webhook", webhook.pk)


@require_POST
def webhook_test(request: HttpRequest, pk: int) -> HttpResponse:
    webhook = _webhook(request, pk)
    if not webhook.active:
        messages.error(request, "This webhook is off: turn it on again first, then test it.")
        return redirect("notifications:webhook", webhook.pk)
    webhooks.webhook_test_send(webhook=webhook)
    messages.success(
        request,
        "A test event is on its way: its delivery shows in the log below within a few "
        "seconds (reload the page).",
    )
    return redirect("notifications:webhook", webhook.pk)


@require_POST
def webhook_secret(request: HttpRequest, pk: int) -> HttpResponse:
    """A new secret, shown once: calls from now on are signed with it."""
    webhook = _webhook(request, pk)
    webhooks.webhook_rotate_secret(webhook=webhook)
    _show_secret_once(request, webhook)
    messages.success(request, "A new secret is made: the old one no longer signs anything.")
    return redirect("notifications:webhook", webhook.pk)


@require_GET
def webhook_log(request: HttpRequest, pk: int) -> HttpResponse:
    """Its recent deliveries, newest first, each with its tries."""
    webhook = _webhook(request, pk)
    deliveries = (
        webhook.deliveries.select_related("event")
        .prefetch_related("tries")
        .order_by("-created_at", "-id")
    )
    page = page_asked(request, Paginator(deliveries, LOG_PAGE))
    rows = [
        (delivery, kind_label(delivery.event.kind, team=webhook.team_wide))
        for delivery in page.object_list
    ]
    return render(
        request,
        "notifications/webhooks/log.html",
        {"webhook": webhook, "page": page, "rows": rows},
    )
