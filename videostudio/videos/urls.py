from __future__ import annotations

from django.urls import path

from videostudio.videos import views

app_name = "videos"

urlpatterns = [
    path("", views.video_list, name="list"),
    path("videos/new/", views.video_new, name="new"),
    path("videos/progress/", views.video_progress, name="progress"),
    path("videos/<int:pk>/", views.video_detail, name="detail"),
    path("videos/<int:pk>/edit/", views.video_edit, name="edit"),
    path("videos/<int:pk>/archive/", views.video_archive, name="archive"),
    path("videos/<int:pk>/cancel/", views.video_cancel, name="cancel"),
    path("videos/<int:pk>/remix/", views.video_derive, {"kind": "remix"}, name="remix"),
    path("videos/<int:pk>/extend/", views.video_derive, {"kind": "extension"}, name="extend"),
    path("videos/<int:pk>/delete/", views.video_delete, name="delete"),
    path("videos/<int:pk>/<str:variant>/", views.video_media, name="media"),
]
