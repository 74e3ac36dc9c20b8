from __future__ import annotations

from django.contrib.admin.apps import AdminConfig


class StudioAdminConfig(AdminConfig):
    """django.contrib.admin, with `admin.site` a `StudioAdminSite`."""

    default_site = "videostudio.adminsite.site.StudioAdminSite"
