from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("accounts/", include("videostudio.accounts.urls")),
    path("admin/", admin.site.urls),
    path("gallery/", include("videostudio.gallery.urls")),
    path("usage/", include("videostudio.usage.urls")),
    path("health/", include("videostudio.ops.urls")),
    path("", include("videostudio.videos.urls")),
]

# Requests Django cannot read (form caps, a bad host): the app's own 400 / 413 pages.
handler400 = "videostudio.limits.bad_request"
