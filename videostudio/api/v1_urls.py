"""`/v1/`: the Videos API, as the provider's (see `endpoints`)."""

from __future__ import annotations

from django.urls import path

from videostudio.api import endpoints

urlpatterns = [
    path("videos", endpoints.videos, name="v1_videos"),
    path("videos/extensions", endpoints.video_extension, name="v1_extensions"),
    path("videos/<str:video_id>", endpoints.video, name="v1_video"),
    path("videos/<str:video_id>/content", endpoints.video_content, name="v1_content"),
    path("videos/<str:video_id>/remix", endpoints.video_remix, name="v1_remix"),
    path("models", endpoints.models, name="v1_models"),
]
