"""Spritesheets made for tests: frames with real content (gradients, shapes, noise),
laid out in any grid, optionally JPEG-compressed, with trailing blank tiles."""

from __future__ import annotations

import io
import math
import random
from pathlib import Path

from PIL import Image, ImageDraw, ImageOps


def frame(width: int, height: int, rng: random.Random, *, scene: int, step: int) -> Image.Image:
    """One frame of a scene: a gradient at an angle, shapes that move a little from
    frame to frame, and some noise."""
    look = random.Random(scene)
    top = tuple(look.randrange(256) for _ in range(3))
    bottom = tuple(look.randrange(256) for _ in range(3))
    gradient = Image.linear_gradient("L").rotate(look.uniform(0, 360), expand=False)
    gradient = gradient.resize((width, height), Image.Resampling.BILINEAR)
    image = ImageOps.colorize(gradient, black=top, white=bottom)
    draw = ImageDraw.Draw(image)
    for _ in range(look.randint(2, 6)):
        x, y = look.uniform(0, width), look.uniform(0, height)
        dx, dy = look.uniform(-0.08, 0.08) * width, look.uniform(-0.08, 0.08) * height
        swing = math.sin(step * 0.7 + look.uniform(0, 6.3))
        x, y = x + dx * swing, y + dy * swing
        size = look.uniform(0.08, 0.3) * min(width, height)
        colour = tuple(look.randrange(256) for _ in range(3))
        box = (x - size, y - size, x + size, y + size)
        if look.random() < 0.5:
            draw.ellipse(box, fill=colour)
        else:
            draw.rectangle(box, fill=colour)
    # Something that changes from frame to frame, like a clock or a moving subject.
    r = 0.08 * min(width, height)
    cx = rng.uniform(r, width - r)
    cy = rng.uniform(r, height - r)
    draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=(255, 90, 30))
    noise = Image.effect_noise((width, height), 12).convert("RGB")
    return Image.blend(image, noise, 0.08)


def sheet(
    columns: int,
    rows: int,
    *,
    frame_size: tuple[int, int] = (72, 128),
    frames: int | None = None,
    seed: int = 0,
    blank: tuple[int, int, int] = (0, 0, 0),
    border: int = 0,
    extra: tuple[int, int] = (0, 0),
    one_scene: bool = True,
) -> Image.Image:
    """A `columns` x `rows` sheet of `frames` frames (default: every tile) of
    `frame_size`; the tiles after them are `blank`. `border`: a flat grey frame of
    that many pixels round every tile, the same in all. `extra`: pixels added to the
    sheet's width and height (tiles that do not divide it evenly). `one_scene`:
    every frame shows the same scene, moving; else each one its own."""
    rng = random.Random(seed)
    w, h = frame_size
    count = columns * rows if frames is None else frames
    image = Image.new("RGB", (w * columns + extra[0], h * rows + extra[1]), blank)
    for n in range(count):
        tile = frame(w, h, rng, scene=seed if one_scene else seed * 1000 + n, step=n)
        if border:
            ImageDraw.Draw(tile).rectangle(
                (0, 0, w - 1, h - 1), outline=(128, 128, 128), width=border
            )
        image.paste(tile, ((n % columns) * w, (n // columns) * h))
    return image


def jpeg(image: Image.Image, quality: int = 75) -> Image.Image:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    buffer.seek(0)
    return Image.open(buffer).convert("RGB")


def save(image: Image.Image, path: Path, quality: int = 80) -> Path:
    image.save(path, format="JPEG", quality=quality)
    return path
