from __future__ import annotations

from django.urls import path

from videostudio.notifications import views, webhook_views

app_name = "notifications"

urlpatterns = [
    path("notifications/", views.notification_list, name="list"),
    path("notifications/read/", views.notifications_read, name="read"),
    path("notifications/<int:pk>/open/", views.notification_open, name="open"),
    path("notifications/settings/", views.email_settings, name="settings"),
    path("notifications/webhooks/", webhook_views.webhook_list, name="webhooks"),
    path("notifications/webhooks/new/", webhook_views.webhook_new, name="webhook_new"),
    path("notifications/webhooks/<int:pk>/", webhook_views.webhook_detail, name="webhook"),
    path(
        "notifications/webhooks/<int:pk>/delete/",
        webhook_views.webhook_delete,
        name="webhook_delete",
    ),
    path(
        "notifications/webhooks/<int:pk>/enable/",
        webhook_views.webhook_enable,
        name="webhook_enable",
    ),
    path("notifications/webhooks/<int:pk>/test/", webhook_views.webhook_test, name="webhook_test"),
    path(
        "notifications/webhooks/<int:pk>/secret/",
        webhook_views.webhook_secret,
        name="webhook_secret",
    ),
    path("notifications/webhooks/<int:pk>/log/", webhook_views.webhook_log, name="webhook_log"),
]
