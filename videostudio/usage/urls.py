from __future__ import annotations

from django.urls import path

from videostudio.usage import views

app_name = "usage"

urlpatterns = [path("", views.review, name="review")]
