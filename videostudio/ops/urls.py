from __future__ import annotations

from django.urls import path

from videostudio.ops import views

app_name = "ops"

urlpatterns = [
    path("", views.health, name="health"),
]
