from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

admin.site.site_header = "videostudio admin"
admin.site.site_title = "videostudio"

urlpatterns = [
    path("accounts/", include("videostudio.accounts.urls")),
    path("admin/", admin.site.urls),
    path("gallery/", include("videostudio.gallery.urls")),
    path("usage/", include("videostudio.usage.urls")),
    path("", include("videostudio.videos.urls")),
]
