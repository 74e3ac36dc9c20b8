from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.templatetags.static import static
from django.urls import include, path
from django.views import defaults
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_safe

from videostudio.api.errors import refusal


@login_not_required
@require_safe
@cache_control(max_age=86400, public=True)
def favicon(request: HttpRequest) -> HttpResponseRedirect:
    """Browsers and crawlers ask for /favicon.ico whatever the page links: send them to
    the icon (not permanently: its hashed name changes with it)."""
    return HttpResponseRedirect(static("favicon.svg"))


urlpatterns = [
    path("favicon.ico", favicon),
    path("accounts/", include("videostudio.accounts.urls")),
    path("admin/", admin.site.urls),
    path("gallery/", include("videostudio.gallery.urls")),
    path("usage/", include("videostudio.usage.urls")),
    path("health/", include("videostudio.ops.urls")),
    path("", include("videostudio.notifications.urls")),
    path("", include("videostudio.api.urls")),
    path("v1/", include("videostudio.api.v1_urls")),
    path("", include("videostudio.videos.urls")),
]

# Requests Django cannot read (form caps, a bad host): the app's own 400 / 413 pages.
handler400 = "videostudio.limits.bad_request"


# Under /v1/ (the API) every refusal is JSON in the provider's error shape: no page, no
# stack trace. Elsewhere, the app's pages.
def forbidden(request: HttpRequest, exception: Exception) -> HttpResponse:
    return refusal(request, 403) or defaults.permission_denied(request, exception)


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    return refusal(request, 404) or defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    return refusal(request, 500) or defaults.server_error(request)


handler403 = "videostudio.urls.forbidden"
handler404 = "videostudio.urls.not_found"
handler500 = "videostudio.urls.server_error"
