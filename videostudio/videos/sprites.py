"""Reading a spritesheet's grid, so a hover preview can step through its frames.

The provider's contract says nothing of how a spritesheet is laid out, and its
shape says too little: a 5x5 sheet of portrait frames has the shape of one frame.
So the grid is read, in this order of authority, from

1. what the provider says of the video, when it says anything (`SpriteLayout`);
2. the layout an admin pinned for the model in the catalog, when it fits the sheet;
3. the sheet itself: the seams between tiles, where one frame's edge meets the next.

When none of them gives an answer there is no grid, and the card shows its
thumbnail: a wrong grid would show a mosaic, which is worse than no preview.

Seams, with Pillow alone: the difference between the image and itself shifted one
pixel, averaged down each column (and along each row), is large where two unrelated
frames meet. A boundary counts as a seam when it stands out from the typical column
of the same phase modulo 16, so JPEG's 8x8 (and 16x16 chroma) block edges, which
are everywhere, never pass for seams. The grid is the finest one whose every
boundary is a seam (a 10x10 sheet's boundaries include the 5x5 ones), skipping
boundaries between trailing blank tiles, which are counted out of the frames.
"""

from __future__ import annotations

import statistics
from array import array
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageChops, ImageStat, UnidentifiedImageError

from videostudio.provider.types import SpriteLayout

MAX_SIDE = 20  # most tiles across or down a sheet we look for
MIN_TILE = 16  # pixels: a smaller tile is no preview
ASPECT_TOLERANCE = 0.1  # how far a tile's shape may be from the video's
BLOCK = 16  # JPEG blocks: 8 pixels for brightness, 16 for colour at 4:2:0
SEAM_FACTOR = 1.6  # a seam's jump against the lines beside it
SEAM_FLOOR = 1.0  # ...and above them by this much (of 255): flat, matching edges are no seams
SEAM_COVER = 0.3  # ...along this much of the tile's side at least
COVER_JUMP = 6  # a pixel of the seam counts where it jumps this much more than beside it
REPEAT_RATIO = 0.5  # a still scene: one tile over matches twice as well as half a tile
BLOCK_BOOST = 1.2  # a phase whose typical line jumps this much more holds block edges
BLANK_SPREAD = 3.0  # a tile whose pixels vary less than this is blank
MAX_PIXELS = 4_000_000  # bigger sheets are read halved (the seams survive)


class Source:
    PROVIDER = "provider"
    CATALOG = "catalog"
    SEAMS = "seams"


@dataclass(frozen=True)
class SpriteGrid:
    columns: int
    rows: int
    frames: int  # tiles that hold a frame, in reading order; trailing blanks left out
    source: str

    def fields(self) -> dict[str, object]:
        """The Video fields that record it."""
        return {
            "sprite_columns": self.columns,
            "sprite_rows": self.rows,
            "sprite_frames": self.frames,
            "sprite_source": self.source,
        }


NO_GRID: dict[str, object] = {
    "sprite_columns": None,
    "sprite_rows": None,
    "sprite_frames": None,
    "sprite_source": "",
}


def sprite_grid(
    path: Path,
    video_size: str,
    *,
    provider: SpriteLayout | None = None,
    pin: tuple[int, int] | None = None,
) -> SpriteGrid | None:
    """The grid of the sheet at `path` for a video of `video_size` ("720x1280"), or
    None when nothing says it for sure. `provider`: what the provider said of the
    layout; `pin`: (columns, rows) the catalog pins for the model."""
    try:
        with Image.open(path) as opened:
            if opened.width * opened.height > MAX_PIXELS:
                opened.draft("RGB", (opened.width // 2, opened.height // 2))  # JPEG: cheap
            sheet = opened.convert("RGB")
    except (OSError, UnidentifiedImageError, ValueError, Image.DecompressionBombError):
        return None
    return grid_of(sheet, video_size, provider=provider, pin=pin)


def grid_of(
    sheet: Image.Image,
    video_size: str,
    *,
    provider: SpriteLayout | None = None,
    pin: tuple[int, int] | None = None,
) -> SpriteGrid | None:
    if sheet.width * sheet.height > MAX_PIXELS:
        sheet = sheet.reduce(2)
    reader = _Sheet(sheet.convert("RGB"), _aspect(video_size))
    if provider is not None and reader.usable(provider.columns, provider.rows):
        frames = provider.frames or reader.frames(provider.columns, provider.rows)
        if frames >= 2:
            return SpriteGrid(provider.columns, provider.rows, frames, Source.PROVIDER)
    if pin is not None and reader.fits(*pin):
        frames = reader.frames(*pin)
        if frames >= 2:
            return SpriteGrid(pin[0], pin[1], frames, Source.CATALOG)
    return reader.seams()


def _aspect(video_size: str) -> float | None:
    """Height over width of a "WIDTHxHEIGHT" size, or None."""
    width, _, height = video_size.lower().partition("x")
    try:
        w, h = int(width), int(height)
    except ValueError:
        return None
    return h / w if w > 0 and h > 0 else None


def _edges(count: int, length: int) -> list[int]:
    """Where `count` tiles start along `length` pixels (and where the last ends).
    Tiles may not divide the sheet evenly: a pixel left over goes somewhere."""
    return [round(i * length / count) for i in range(count + 1)]


class _Sheet:
    def __init__(self, image: Image.Image, aspect: float | None) -> None:
        self.image = image
        self.width, self.height = image.size
        self.aspect = aspect
        self.gray = image.convert("L")
        # jump_x[x] is how much each pixel differs from its right-hand neighbour: the
        # image against itself shifted one pixel (a boundary at x is column x - 1).
        # Colour counts: two frames may meet at the same brightness in another hue.
        self.jump_x = _jumps(image, horizontal=True)
        self.jump_y = _jumps(image, horizontal=False)
        self.typical_x, self.boosted_x = _typical(_profile(self.jump_x, horizontal=True))
        self.typical_y, self.boosted_y = _typical(_profile(self.jump_y, horizontal=False))
        self._blank: dict[tuple[int, int, int, int], bool] = {}
        self._shifted: dict[tuple[tuple[int, int, int, int], int, bool], float] = {}

    def usable(self, columns: int, rows: int) -> bool:
        """Whether a grid can be laid on the sheet at all: tiles big enough to show."""
        return (
            1 <= columns <= 100
            and 1 <= rows <= 100
            and columns * rows >= 2
            and self.width / columns >= MIN_TILE
            and self.height / rows >= MIN_TILE
        )

    def fits(self, columns: int, rows: int) -> bool:
        """Usable, and its tiles have the video's shape (when the video's size is known)."""
        if not self.usable(columns, rows):
            return False
        if self.aspect is None:
            return True
        tile = (self.height / rows) / (self.width / columns)
        return abs(tile - self.aspect) / self.aspect <= ASPECT_TOLERANCE

    def tiles(self, columns: int, rows: int) -> Iterator[tuple[int, int, int, int]]:
        xs, ys = _edges(columns, self.width), _edges(rows, self.height)
        for row in range(rows):
            for column in range(columns):
                yield xs[column], ys[row], xs[column + 1], ys[row + 1]

    def blank(self, box: tuple[int, int, int, int]) -> bool:
        if box not in self._blank:
            # Inset a little: a neighbour's edge may bleed into a tile's border.
            x0, y0, x1, y1 = box
            inset = (min(2, (x1 - x0) // 8), min(2, (y1 - y0) // 8))
            inner = (x0 + inset[0], y0 + inset[1], x1 - inset[0], y1 - inset[1])
            spread = ImageStat.Stat(self.gray.crop(inner)).stddev[0]
            self._blank[box] = spread < BLANK_SPREAD
        return self._blank[box]

    def frames(self, columns: int, rows: int) -> int:
        """Tiles up to the last that is not blank, in reading order."""
        boxes = list(self.tiles(columns, rows))
        count = len(boxes)
        while count > 0 and self.blank(boxes[count - 1]):
            count -= 1
        return count

    def seams(self) -> SpriteGrid | None:
        candidates = [
            (columns, rows)
            for columns in range(1, MAX_SIDE + 1)
            for rows in range(1, MAX_SIDE + 1)
            if columns * rows >= 2 and self.fits(columns, rows)
        ]
        # Finest first: a 10x10 sheet's seams include the 5x5 ones.
        candidates.sort(key=lambda grid: (-grid[0] * grid[1], -grid[0]))
        for columns, rows in candidates:
            frames = self.frames(columns, rows)
            if frames >= 2 and self.all_seams(columns, rows, frames):
                return SpriteGrid(columns, rows, frames, Source.SEAMS)
        return None

    def all_seams(self, columns: int, rows: int, frames: int) -> bool:
        """Whether every boundary next to a frame is a seam, judged where it runs
        alongside that frame (trailing blank tiles have no seams between them).
        Where frames meet without a visible seam (a still scene: the left edge of
        one frame matches the right edge of the last), the repetition itself
        confirms an axis: the sheet shifted by one tile matches itself far better
        than shifted by half a tile."""
        return self.columns_ok(columns, rows, frames) and self.rows_ok(columns, rows, frames)

    def columns_ok(self, columns: int, rows: int, frames: int) -> bool:
        xs, ys = _edges(columns, self.width), _edges(rows, self.height)
        seams = True
        for column in range(1, columns):
            for row in range(rows):
                left, right = row * columns + column - 1, row * columns + column
                if left >= frames:
                    break
                span = (ys[row], ys[row + 1])
                if not self.seam(xs[column], span, frames_apart=right >= frames, across=True):
                    seams = False
                    break
            if not seams:
                break
        if seams:
            return True
        full = frames // columns
        region = (0, 0, self.width, ys[full]) if full else (0, 0, xs[frames], ys[1])
        return self.repeats(region, self.width / columns, across=True)

    def rows_ok(self, columns: int, rows: int, frames: int) -> bool:
        xs, ys = _edges(columns, self.width), _edges(rows, self.height)
        for row in range(1, rows):
            for column in range(columns):
                above = (row - 1) * columns + column
                if above >= frames:
                    break
                below = row * columns + column
                span = (xs[column], xs[column + 1])
                if not self.seam(ys[row], span, frames_apart=below >= frames, across=False):
                    full = frames // columns
                    region = (0, 0, self.width, ys[full])
                    return full >= 2 and self.repeats(region, self.height / rows, across=False)
        return True

    def repeats(self, region: tuple[int, int, int, int], tile: float, *, across: bool) -> bool:
        """Whether `region` matches itself shifted by one `tile` (a frame onto the next)
        far better than shifted by half of one (a frame onto itself, out of place)."""
        step = round(tile)
        whole = self.shifted(region, step, across)
        if whole == float("inf") or whole > REPEAT_RATIO * self.shifted(
            region, round(tile / 2), across
        ):
            return False
        # And exactly one tile: a shift a few pixels off either way matches worse
        # (else the period is another, near this one: 11 columns on a 10x10 sheet).
        return all(whole < self.shifted(region, step + d, across) for d in (-3, -2, 2, 3))

    def shifted(self, region: tuple[int, int, int, int], shift: int, across: bool) -> float:
        key = (region, shift, across)
        if key not in self._shifted:
            x0, y0, x1, y1 = region
            if across:
                a, b = (x0, y0, x1 - shift, y1), (x0 + shift, y0, x1, y1)
            else:
                a, b = (x0, y0, x1, y1 - shift), (x0, y0 + shift, x1, y1)
            if shift <= 0 or a[2] <= a[0] or a[3] <= a[1]:
                self._shifted[key] = float("inf")
            else:
                diff = ImageChops.difference(self.gray.crop(a), self.gray.crop(b))
                self._shifted[key] = float(ImageStat.Stat(diff).mean[0])
        return self._shifted[key]

    def seam(self, at: int, span: tuple[int, int], *, frames_apart: bool, across: bool) -> bool:
        """Whether the boundary at pixel `at` (a column if `across`, else a row) stands
        out from the lines beside it over `span`: by SEAM_FACTOR, once the typical
        boost of its JPEG phase is taken out, and by SEAM_FLOOR at least."""
        jumps, typical = (self.jump_x, self.typical_x) if across else (self.jump_y, self.typical_y)
        boosted = self.boosted_x if across else self.boosted_y
        limit = (self.width if across else self.height) - 1

        def strip(line: int) -> Image.Image:
            line = min(max(line, 0), limit - 1)
            box = (
                (line, span[0], line + 1, span[1]) if across else (span[0], line, span[1], line + 1)
            )
            return jumps.crop(box)

        def mean(line: int) -> float:
            return float(ImageStat.Stat(strip(line)).mean[0])

        def coverage(line: int) -> float:
            """How much of the span jumps more here than a few pixels either side: a
            seam runs the whole length of a tile, a shape's edge only along the shape."""
            around = ImageChops.lighter(strip(line - 4), strip(line + 4))
            excess = ImageChops.subtract(strip(line), around)
            return float(ImageStat.Stat(excess.point(_hit)).mean[0]) / 255

        # The lines a few pixels away on both sides (not the next one: a tile that
        # does not divide the sheet evenly puts the seam a pixel either side).
        near = [
            mean(line)
            for d in range(4, 11)
            for line in (at - 1 - d, at - 1 + d)
            if 0 <= line < limit
        ]
        beside = statistics.median(near) if near else 0.0
        # Beside a blank tile the jump is a frame's edge against flat colour: a frame
        # that fades to that colour at its edge still meets it, so ask less.
        factor = SEAM_FACTOR / 2 if frames_apart else SEAM_FACTOR
        for line in range(max(0, at - 2), min(limit, at + 1)):
            value = mean(line)
            # On a JPEG block edge the line beside is no measure: the typical block
            # edge of the sheet is (seams of tiles a multiple of 8 wide sit there).
            base = max(beside, typical[line % BLOCK]) if boosted[line % BLOCK] else beside
            if (
                value >= factor * base
                and value - base >= SEAM_FLOOR
                and coverage(line) >= SEAM_COVER * factor / SEAM_FACTOR
            ):
                return True
        return False


def _hit(value: int) -> int:
    return 255 if value > COVER_JUMP else 0


def _jumps(image: Image.Image, *, horizontal: bool) -> Image.Image:
    """|pixel - next pixel| as a greyscale image, one pixel shorter on that axis."""
    width, height = image.size
    if horizontal:
        a, b = image.crop((0, 0, width - 1, height)), image.crop((1, 0, width, height))
    else:
        a, b = image.crop((0, 0, width, height - 1)), image.crop((0, 1, width, height))
    bands = ImageChops.difference(a, b).split()
    # The largest of the three channels: a seam in hue alone still counts.
    return ImageChops.lighter(ImageChops.lighter(bands[0], bands[1]), bands[2])


def _profile(jumps: Image.Image, *, horizontal: bool) -> list[float]:
    """The mean jump of each column (or row), by averaging the image down to one line."""
    width, height = jumps.size
    size = (width, 1) if horizontal else (1, height)
    line = jumps.convert("F").resize(size, Image.Resampling.BOX)
    return array("f", line.tobytes()).tolist()


def _typical(profile: list[float]) -> tuple[list[float], list[bool]]:
    """The typical line of each phase modulo BLOCK (the median of that phase), and
    whether that phase jumps clearly more than the typical line: JPEG's block edges
    do, all over the sheet, and they are no seams."""
    overall = max(statistics.median(profile), 0.05) if profile else 0.05
    typical = [
        statistics.median(profile[p::BLOCK]) if profile[p::BLOCK] else overall for p in range(BLOCK)
    ]
    return typical, [value > BLOCK_BOOST * overall for value in typical]
