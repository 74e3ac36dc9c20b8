from __future__ import annotations

from django.urls import path

from videostudio.gallery import views

app_name = "gallery"

urlpatterns = [
    path("", views.gallery, name="index"),
    path("star/<int:pk>/", views.star, name="star"),
]
