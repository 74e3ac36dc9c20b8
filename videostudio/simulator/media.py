"""Real media for simulated jobs: an H.264 MP4, a WebP thumbnail, a JPEG spritesheet.

The files must be real so that everything downstream (archiving, the `<video>`
player, seeking, thumbnails in the gallery) is exercised for real in demo mode.
Each frame is drawn with Pillow: a gradient and shapes seeded from the prompt, a
ball that moves and a timecode, so a seek visibly lands somewhere else. Renders
happen lazily on the first content request and are cached on disk.
"""

from __future__ import annotations

import atexit
import colorsys
import functools
import hashlib
import math
import os
import random
import shutil
import tempfile
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
from PIL import Image, ImageDraw, ImageFont, ImageOps

RGB = tuple[int, int, int]
Font = ImageFont.FreeTypeFont | ImageFont.ImageFont

RENDER_VERSION = "1"  # bump when the drawing changes, so old cached files are not reused
THUMBNAIL_WIDTH = 360
SPRITE_COLUMNS = 5
SPRITE_TILES = 10
SPRITE_TILE_WIDTH = 160


@dataclass(frozen=True)
class Look:
    """Everything that decides how a job's media looks."""

    width: int
    height: int
    seconds: int
    fps: int
    seed: int  # palette
    layout_seed: int  # shapes and motion: a remix keeps its source's composition
    variant: int = 0
    tint: int | None = None  # 0xRRGGBB of the reference image
    title: str = ""
    base_seed: int | None = None  # extensions: footage before `split_at` keeps the source's
    base_variant: int = 0  # palette, so the stitch is visible
    split_at: float = 0.0
    # The spritesheet: this many tiles, this many across (the last row may be short,
    # its tiles left black).
    sprite_columns: int = SPRITE_COLUMNS
    sprite_tiles: int = SPRITE_TILES

    @property
    def frame_count(self) -> int:
        return max(1, self.seconds * self.fps)


def _hsv(hue: float, saturation: float, value: float) -> RGB:
    r, g, b = colorsys.hsv_to_rgb(hue % 1.0, saturation, value)
    return (round(r * 255), round(g * 255), round(b * 255))


def _blend(a: RGB, b: RGB, amount: float) -> RGB:
    return (
        round(a[0] + (b[0] - a[0]) * amount),
        round(a[1] + (b[1] - a[1]) * amount),
        round(a[2] + (b[2] - a[2]) * amount),
    )


@functools.lru_cache(maxsize=32)
def _font(size: int) -> Font:
    return ImageFont.load_default(size=size)


@dataclass(frozen=True)
class _Palette:
    top: RGB
    bottom: RGB
    accent: RGB
    shapes: tuple[RGB, ...]


def _palette(seed: int, variant: int, tint: int | None) -> _Palette:
    rng = random.Random(seed)
    # The golden-ratio step makes each remix generation land on a clearly new hue.
    hue = rng.random() + variant * 0.382
    top = _hsv(hue, 0.55, 0.5)
    if tint is not None:
        top = _blend(top, ((tint >> 16) & 255, (tint >> 8) & 255, tint & 255), 0.65)
    shapes = tuple(
        _hsv(hue + rng.uniform(-0.12, 0.12) + 0.5 * (i % 2), rng.uniform(0.3, 0.7), 0.75)
        for i in range(6)
    )
    return _Palette(top, _hsv(hue + 0.1, 0.8, 0.12), _hsv(hue + 0.5, 0.9, 1.0), shapes)


class _Painter:
    """Draws frame `i` of a look; the static background is built once per palette."""

    def __init__(self, look: Look) -> None:
        self.look = look
        w, h = look.width, look.height
        unit = min(w, h)
        self.big = _font(max(12, unit // 7))
        self.small = _font(max(10, unit // 26))
        self.radius = max(4, unit // 12)
        layout = random.Random(look.layout_seed)
        self.shapes = [
            (
                layout.choice(("ellipse", "rectangle", "triangle")),
                layout.uniform(0, w),
                layout.uniform(0, h),
                layout.uniform(unit * 0.08, unit * 0.3),
            )
            for _ in range(6)
        ]
        self.freq = (layout.choice((1, 2)), layout.choice((1, 3)))
        self.phase = layout.uniform(0, math.tau)
        self.palette = _palette(look.seed, look.variant, look.tint)
        self.background = self._background(self.palette)
        self.base: tuple[_Palette, Image.Image] | None = None
        if look.base_seed is not None and look.split_at > 0:
            base = _palette(look.base_seed, look.base_variant, look.tint)
            self.base = (base, self._background(base))

    def _background(self, palette: _Palette) -> Image.Image:
        w, h = self.look.width, self.look.height
        gradient = Image.linear_gradient("L").resize((w, h), Image.Resampling.BILINEAR)
        image = ImageOps.colorize(gradient, black=palette.top, white=palette.bottom)
        draw = ImageDraw.Draw(image)
        for (kind, x, y, size), colour in zip(self.shapes, palette.shapes, strict=True):
            box = (x - size, y - size, x + size, y + size)
            if kind == "ellipse":
                draw.ellipse(box, fill=colour)
            elif kind == "rectangle":
                draw.rectangle(box, fill=colour)
            else:
                draw.polygon([(x, y - size), (x + size, y + size), (x - size, y + size)], colour)
        return image

    def frame(self, index: int) -> Image.Image:
        look = self.look
        w, h, fps = look.width, look.height, look.fps
        t = index / fps
        palette, background = self.palette, self.background
        if self.base is not None and t < look.split_at:
            palette, background = self.base
        image = background.copy()
        draw = ImageDraw.Draw(image)

        # The moving element: a Lissajous path, one loop every four seconds.
        angle = math.tau * t / 4
        r = self.radius
        x = w / 2 + (w / 2 - r * 1.5) * math.sin(self.freq[0] * angle + self.phase)
        y = h / 2 + (h / 2 - r * 1.5) * math.sin(self.freq[1] * angle)
        draw.ellipse((x - r, y - r, x + r, y + r), fill=palette.accent, outline=(255, 255, 255))

        # A timecode (minutes:seconds.frame) on a dark plate, so a seek is obvious.
        whole = int(t)
        code = f"{whole // 60:02d}:{whole % 60:02d}.{index % fps:02d}"
        self._plate(draw, code, self.big, w / 2, h * 0.12)
        self._plate(
            draw, f"{look.title}  frame {index + 1}/{look.frame_count}", self.small, w / 2, h * 0.88
        )

        # A progress bar along the bottom edge, with a tick where an extension starts.
        bar = max(4, h // 80)
        draw.rectangle((0, h - bar, w * (index + 1) / look.frame_count, h), fill=palette.accent)
        if self.base is not None:
            split_x = w * look.split_at / max(1, look.seconds)
            draw.rectangle((split_x - 1, h - 3 * bar, split_x + 1, h), fill=(255, 255, 255))
        return image

    @staticmethod
    def _plate(draw: ImageDraw.ImageDraw, text: str, font: Font, cx: float, cy: float) -> None:
        left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
        tw, th = right - left, bottom - top
        pad = max(4, th // 3)
        x, y = cx - tw / 2, cy - th / 2
        draw.rectangle((x - pad, y - pad, x + tw + pad, y + th + pad), fill=(0, 0, 0))
        draw.text((x - left, y - top), text, font=font, fill=(255, 255, 255))


def render_mp4(look: Look, dest: Path) -> None:
    """H.264 in MP4, yuv420p (what browsers play), moov atom first so seeking starts at once."""
    painter = _Painter(look)
    with av.open(str(dest), mode="w", format="mp4", options={"movflags": "+faststart"}) as out:
        stream = out.add_stream("libx264", rate=look.fps, options={"preset": "ultrafast"})
        stream.width, stream.height = look.width, look.height
        stream.pix_fmt = "yuv420p"
        stream.codec_context.gop_size = look.fps  # a keyframe every second: snappy seeking
        time_base = Fraction(1, look.fps)
        for index in range(look.frame_count):
            frame = av.VideoFrame.from_image(painter.frame(index))
            frame.pts, frame.time_base = index, time_base
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))


def render_thumbnail(look: Look, dest: Path) -> None:
    """The middle frame as a WebP, THUMBNAIL_WIDTH wide, same aspect ratio."""
    poster = _Painter(look).frame(look.frame_count // 2)
    height = max(1, round(THUMBNAIL_WIDTH * look.height / look.width))
    poster.resize((THUMBNAIL_WIDTH, height), Image.Resampling.LANCZOS).save(
        dest, format="WEBP", quality=80
    )


def render_spritesheet(look: Look, dest: Path) -> None:
    """`look.sprite_tiles` evenly spaced frames in a JPEG grid, `look.sprite_columns`
    across (by default 10 frames, 5 across), tiles SPRITE_TILE_WIDTH wide; the tiles
    after the last frame stay black."""
    painter = _Painter(look)
    columns, tiles = look.sprite_columns, look.sprite_tiles
    tile_w = SPRITE_TILE_WIDTH
    tile_h = max(1, round(tile_w * look.height / look.width))
    rows = math.ceil(tiles / columns)
    sheet = Image.new("RGB", (tile_w * columns, tile_h * rows))
    for n in range(tiles):
        index = min(look.frame_count - 1, int((n + 0.5) * look.frame_count / tiles))
        tile = painter.frame(index).resize((tile_w, tile_h), Image.Resampling.BILINEAR)
        sheet.paste(tile, ((n % columns) * tile_w, (n // columns) * tile_h))
    sheet.save(dest, format="JPEG", quality=80)


# variant -> (file extension, Content-Type, renderer)
VARIANTS: dict[str, tuple[str, str, Callable[[Look, Path], None]]] = {
    "video": ("mp4", "video/mp4", render_mp4),
    "thumbnail": ("webp", "image/webp", render_thumbnail),
    "spritesheet": ("jpg", "image/jpeg", render_spritesheet),
}

_default_dir: Path | None = None
_default_dir_lock = threading.Lock()


def default_cache_dir() -> Path:
    """One temporary folder per process, removed when the process exits."""
    global _default_dir
    with _default_dir_lock:
        if _default_dir is None:
            _default_dir = Path(tempfile.mkdtemp(prefix="videostudio-simulator-"))
            atexit.register(shutil.rmtree, _default_dir, True)
        return _default_dir


class MediaCache:
    """Rendered files on disk, keyed by job id, fps and variant.

    Files are written to a temporary name and moved into place with os.replace, so
    a reader (in this process or another one sharing the folder) never sees half a
    file. Within a process a striped lock keeps two requests from rendering the
    same file twice; across processes a duplicate render is merely wasted work.
    """

    def __init__(self, root: Path | None = None) -> None:
        self._root = root
        self._locks = tuple(threading.Lock() for _ in range(32))
        self._hash_lock = threading.Lock()
        self._hashes: dict[Path, str] = {}

    @property
    def root(self) -> Path:
        return self._root if self._root is not None else default_cache_dir()

    def sha256(self, path: Path) -> str:
        """The hex sha256 of a file this cache holds (remembered: files never change)."""
        with self._hash_lock:
            known = self._hashes.get(path)
        if known is None:
            digest = hashlib.sha256()
            with path.open("rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 16), b""):
                    digest.update(chunk)
            known = digest.hexdigest()
            with self._hash_lock:
                self._hashes[path] = known
        return known

    def get(self, video_id: str, variant: str, look: Look) -> tuple[Path, str]:
        """The file for `variant` of the job (rendered now if need be) and its Content-Type."""
        ext, content_type, render = VARIANTS[variant]
        key = f"{RENDER_VERSION}|{video_id}|{look.fps}|{variant}"
        if variant == "spritesheet" and (look.sprite_columns, look.sprite_tiles) != (
            SPRITE_COLUMNS,
            SPRITE_TILES,
        ):
            key += f"|{look.sprite_columns}x{look.sprite_tiles}"
        digest = hashlib.sha256(key.encode()).hexdigest()
        # Ids can be long: hash them so file names stay short and safe.
        path = self.root / f"{digest[:40]}.{ext}"
        if path.exists():
            return path, content_type
        with self._locks[int(digest[:8], 16) % len(self._locks)]:
            if path.exists():
                return path, content_type
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".tmp-{uuid.uuid4().hex}-{path.name}")
            try:
                render(look, tmp)
                os.replace(tmp, path)
            finally:
                tmp.unlink(missing_ok=True)
        return path, content_type
