from __future__ import annotations

from django.apps import AppConfig


class GalleryConfig(AppConfig):
    name = "videostudio.gallery"
    label = "gallery"
    verbose_name = "Gallery"

    def ready(self) -> None:
        # A star (anyone's) keeps a video from retention.
        from videostudio.gallery.services import unstarred
        from videostudio.videos.retention import register_keeper

        register_keeper(unstarred)
