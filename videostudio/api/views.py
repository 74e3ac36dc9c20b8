"""The pages where members make and revoke their personal access tokens, and staff
see everyone's."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from videostudio.api import services
from videostudio.api.forms import TokenForm
from videostudio.api.models import ApiToken
from videostudio.http import page_asked, safe_next

# The session holds a new token from the POST that made it to the page that shows it
# (the next GET), which takes it out: it is shown once, and a reload shows it no more.
NEW_TOKEN = "api:new-token"


@never_cache  # the page that shows a token must not come back from a cache
@require_http_methods(["GET", "POST"])
def token_list(request: HttpRequest) -> HttpResponse:
    """The member's own tokens, and the form for a new one."""
    form = TokenForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            token, raw = services.token_create(
                user=request.user, name=form.cleaned_data["name"], expires_at=form.expires_at()
            )
        except services.TooMany as exc:
            form.add_error(None, str(exc))
        else:
            request.session[NEW_TOKEN] = {"id": token.pk, "token": raw}
            return redirect("api:tokens")
    return render(
        request,
        "api/tokens.html",
        {
            "form": form,
            "tokens": list(ApiToken.objects.filter(user_id=_member_id(request))),
            "new": _new_token(request),
            # Where this member reached the studio: the address their scripts use too.
            "api_base": request.build_absolute_uri("/v1"),
        },
    )


def _member_id(request: HttpRequest) -> int:
    """The logged-in member's id (LoginRequiredMiddleware lets no one else in)."""
    return int(request.user.pk or 0)


def _new_token(request: HttpRequest) -> dict[str, Any] | None:
    """The token just made, once: (row, the token itself), if it is still this member's."""
    shown = request.session.pop(NEW_TOKEN, None)
    if not isinstance(shown, dict):
        return None
    pk, raw = shown.get("id"), shown.get("token")
    if not isinstance(pk, int) or not isinstance(raw, str):
        return None
    token = ApiToken.objects.filter(pk=pk, user_id=_member_id(request)).first()
    if token is None:
        return None
    return {"token": token, "raw": raw}


@require_GET
def token_list_all(request: HttpRequest) -> HttpResponse:
    """Staff: every member's tokens, to revoke any that should not work any more."""
    if not request.user.is_staff:
        raise Http404("Only staff see every member's tokens.")
    tokens = ApiToken.objects.select_related("user", "revoked_by")
    return render(
        request,
        "api/tokens_all.html",
        {"page": page_asked(request, Paginator(tokens, 100))},
    )


@require_http_methods(["GET", "POST"])
def token_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    """Ask, then revoke. A member reaches only their own tokens (anyone else's is not
    found); staff reach every one."""
    visible = ApiToken.objects.select_related("user")
    if not request.user.is_staff:
        visible = visible.filter(user_id=_member_id(request))
    token = get_object_or_404(visible, pk=pk)
    mine = token.user_id == request.user.pk
    back = reverse("api:tokens") if mine else reverse("api:tokens_all")
    if request.method == "POST":
        if services.token_revoke(token=token, actor=request.user):
            messages.success(
                request, f"Revoked “{token.name}”: requests with it are refused from now on."
            )
        else:
            messages.info(request, f"“{token.name}” was revoked already.")
        return redirect(safe_next(request, back))
    return render(request, "api/revoke.html", {"token": token, "mine": mine, "back": back})
