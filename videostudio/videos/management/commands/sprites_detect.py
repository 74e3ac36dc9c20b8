"""Read archived videos' spritesheet grids again (grids from an older reading)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import DatabaseError

from videostudio.videos.models import Video
from videostudio.videos.refresh import video_sprites_detect


class Command(BaseCommand):
    help = (
        "Read the grid of every archived spritesheet again, from the provider's word, "
        "the catalog's pin or the seams between tiles, and record it (no grid: the "
        "card shows its thumbnail). Run it after upgrading, or after pinning a "
        "model's layout in the catalog. --dry-run only says what would change."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="change nothing")
        parser.add_argument("--model", help="only videos made with this model")

    def handle(self, *args: Any, dry_run: bool, model: str | None, **options: Any) -> None:
        videos = Video.objects.filter(archived_at__isnull=False).exclude(spritesheet_file="")
        if model:
            videos = videos.filter(model__iexact=model)
        read = found = changed = failed = 0
        for video in videos.order_by("pk").iterator():
            before = (video.sprite_columns, video.sprite_rows, video.sprite_frames)
            try:
                grid = video_sprites_detect(video=video, save=not dry_run)
            except DatabaseError:
                raise  # the database is gone: nothing more can be recorded
            except Exception as exc:  # storage backends raise their own (boto's ClientError)
                failed += 1
                self.stderr.write(f"Video {video.pk}: its spritesheet could not be read ({exc}).")
                continue
            read += 1
            after = (grid.columns, grid.rows, grid.frames) if grid else (None, None, None)
            found += grid is not None
            if after != before:
                changed += 1
                said = f"{after[0]}x{after[1]}, {after[2]} frames" if grid else "no grid"
                was = f"{before[0]}x{before[1]}" if before[0] else "no grid"
                self.stdout.write(f"Video {video.pk}: {was} -> {said}")
        verb = "would change" if dry_run else "changed"
        self.stdout.write(
            self.style.SUCCESS(
                f"Read {read} spritesheets: {found} with a grid, {read - found} without; "
                f"{changed} {verb}." + (f" {failed} could not be read." if failed else "")
            )
        )
