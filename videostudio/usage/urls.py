from __future__ import annotations

from django.urls import path

from videostudio.usage import views

app_name = "usage"

urlpatterns = [
    path("", views.review, name="review"),
    path("sync/", views.sync, name="sync"),
    path("balance/", views.balance_check, name="balance"),
    path("unsettled/<int:pk>/settle/", views.settle, name="settle"),
]
