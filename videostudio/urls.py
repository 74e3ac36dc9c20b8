from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponseRedirect
from django.templatetags.static import static
from django.urls import include, path
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_safe


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
    path("", include("videostudio.videos.urls")),
]

# Requests Django cannot read (form caps, a bad host): the app's own 400 / 413 pages.
handler400 = "videostudio.limits.bad_request"
