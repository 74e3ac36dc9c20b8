"""`GET /v1/videos/{id}/content`: which file answers, and how much of it.

By default each job gets its own files, drawn from its prompt (`media.py`), so a
demo's archive shows each job's own footage. With stock media every job of one
size and length is served the same files, rendered once per (size, seconds,
variant): a benchmark's hundreds of jobs then cost no CPU to render, and the
files stay real (an H.264 MP4, a WebP, a JPEG grid the app reads with Pillow).

The answer honours a single byte range (`web.byte_range`), so a client can resume
a download that was cut short.
"""

from __future__ import annotations

from pathlib import Path

from videostudio.simulator import jobs
from videostudio.simulator.media import VARIANTS, Look, MediaCache
from videostudio.simulator.web import ApiError, Response, file_response


def content_response(
    job: jobs.Job,
    *,
    variant: str,
    now: float,
    media: MediaCache,
    fps: int,
    stock: bool,
    range_header: str | None,
) -> Response:
    """The job's file for `variant` ("video", "thumbnail", "spritesheet"), or its refusal."""
    if variant not in VARIANTS:
        raise ApiError(400, f"Unknown variant {variant!r}: use thumbnail or spritesheet")
    snap = job.state(now)
    if snap.status == jobs.FAILED:
        raise ApiError(404, "This video failed: it has no content")
    if snap.status != jobs.COMPLETED:
        raise ApiError(400, f"Video is not ready yet (status: {snap.status})")
    if snap.expired(now):
        raise ApiError(404, "The content of this video has expired")
    path, content_type = media_file(job, variant, media=media, fps=fps, stock=stock)
    return file_response(path, content_type, range_header=range_header)


def media_file(
    job: jobs.Job, variant: str, *, media: MediaCache, fps: int, stock: bool
) -> tuple[Path, str]:
    """The rendered file (rendered now if need be) and its Content-Type."""
    if stock:
        # Not a job id: the cache keeps one file for every job of this size and length.
        return media.get(f"stock|{job.size}|{job.seconds}", variant, stock_look(job, fps=fps))
    return media.get(job.id, variant, job_look(job, fps=fps))


def job_look(job: jobs.Job, *, fps: int) -> Look:
    """The job's own footage: palette from its prompt, composition from its original's."""
    width, height = _dimensions(job)
    title = job.model.name + {"remix": " remix", "extension": " extended"}.get(job.kind, "")
    return Look(
        width=width,
        height=height,
        seconds=job.seconds,
        fps=fps,
        seed=job.seed,
        layout_seed=job.layout_seed,
        variant=job.variant,
        tint=job.tint,
        title=title,
        base_seed=job.base_seed if job.kind == "extension" else None,
        base_variant=job.base_variant,
        split_at=job.split_at,
        sprite_columns=job.model.sprite_columns,
        sprite_tiles=job.model.sprite_tiles,
    )


def stock_look(job: jobs.Job, *, fps: int) -> Look:
    """Footage that depends only on the job's size and length."""
    width, height = _dimensions(job)
    return Look(
        width=width,
        height=height,
        seconds=job.seconds,
        fps=fps,
        seed=0,
        layout_seed=0,
        title=f"Stock footage {job.size}, {job.seconds} s",
        sprite_columns=job.model.sprite_columns,
        sprite_tiles=job.model.sprite_tiles,
    )


def _dimensions(job: jobs.Job) -> tuple[int, int]:
    width, height = (int(n) for n in job.size.split("x"))
    return width, height
