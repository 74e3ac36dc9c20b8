"""Reading a spritesheet's grid, so a hover preview can step through its frames.

Providers do not say how their spritesheets are laid out. Tiles keep the video's
shape, so the grid is the smallest one whose tiles have that shape and a
plausible width.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, UnidentifiedImageError

MAX_SIDE = 16
MIN_TILE_WIDTH = 48
TOLERANCE = 0.04


def sprite_grid(path: Path, video_size: str) -> tuple[int, int] | None:
    """(columns, rows) of the sheet at `path`, or None when no grid fits."""
    try:
        width, _, height = video_size.partition("x")
        aspect = int(height) / int(width)
        with Image.open(path) as sheet:
            sheet_w, sheet_h = sheet.size
    except (ValueError, ZeroDivisionError, OSError, UnidentifiedImageError):
        return None
    single = None
    for columns in range(1, MAX_SIDE + 1):
        tile_w = sheet_w / columns
        if tile_w < MIN_TILE_WIDTH:
            break
        rows = round(sheet_h / (tile_w * aspect))
        if not 1 <= rows <= MAX_SIDE:
            continue
        if abs((sheet_h / rows) / tile_w - aspect) / aspect > TOLERANCE:
            continue
        if columns * rows > 1:
            return columns, rows
        single = (1, 1)
    return single
