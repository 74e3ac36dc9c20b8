"""Jobs that live entirely in their ids.

The simulator keeps no table of jobs: everything it needs to answer for a job
(when it was created, how long it queues and renders, model, size, seconds, a
seed for its look, whether it fails) is packed into the id, and the status is
derived from the clock. Two processes with separate `Simulator` instances (the
web process and the worker in demo mode) therefore agree about every job.

Id format: ``video_`` + urlsafe base64 (no padding) of ``mac(6 bytes) + payload``.
The payload is a fixed binary struct (see `_CORE`), then an extension tail, then,
for remixes, the parent's payload. The MAC is an HMAC-SHA256 under a constant key:
it is not a secret, it only makes typos and junk ids answer 404 instead of garbage.

Remix parents: a remix embeds its parent's whole payload, so
`remixed_from_video_id` is exact, but every generation of remix-of-a-remix adds
~57 characters. To keep ids bounded the parent is embedded only while the new id
stays within `MAX_ID_CHARS` (three generations deep); beyond that the remix says
`remixed_from_video_id: null` rather than something wrong. Extensions never embed
their source (they carry the stitched total and the source's look instead), so a
lineage of extensions does not grow its ids.

Money: `Job.cost_points` is the job's billed seconds (an extension's new seconds
only) times its model's price at its size (`SimModel.points_per_second_for`).
A job that fails (`[fail]` in its prompt) is never charged: `Job.charged_points`
is 0 for it, and its video object reports `usage: null`. In the poe dialect a
completed video reports `usage: {"cost_points": N}` (null before that); the
openai dialect has no `usage` field at all.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import struct
from dataclasses import dataclass, replace
from typing import Any

from videostudio.simulator.catalog import SIZES, VIDEO_MODELS, SimModel

ID_PREFIX = "video_"
MAX_ID_CHARS = 255
_MAC_KEY = b"videostudio-simulator/job-id/v1"
_MAC_BYTES = 6
_VERSION = 1

# version, flags, created_ms, queue_ms, render_ms, expire_ms, model index, size index,
# seconds (the lineage total for extensions), palette variant, prompt seed, layout seed,
# nonce, tint
_CORE = struct.Struct(">BBQIIIBBHBIIII")
# extension tail: the source's seed and variant, and where the new footage starts
_EXTENSION = struct.Struct(">IBH")

_FAIL = 1
_REMIX = 2
_EXTENSION_FLAG = 4
_IMAGE = 8
_PARENT = 16

QUEUED = "queued"
IN_PROGRESS = "in_progress"
COMPLETED = "completed"
FAILED = "failed"


@dataclass(frozen=True)
class Snapshot:
    """What a job looks like at one instant."""

    status: str
    progress: int
    completed_at: float | None = None
    expires_at: float | None = None

    def expired(self, now: float) -> bool:
        return self.expires_at is not None and now > self.expires_at


@dataclass(frozen=True)
class Job:
    created_ms: int
    queue_ms: int
    render_ms: int
    expire_ms: int
    model: SimModel
    size: str
    seconds: int
    seed: int  # from this job's prompt: picks the palette
    layout_seed: int  # from the original's prompt: shapes and motion, kept by remixes
    variant: int = 0  # how many remixes away from an original: shifts the palette
    fail: bool = False
    nonce: int = 0
    tint: int | None = None  # mean RGB of the reference image, if one was given
    kind: str = "create"  # "create" | "remix" | "extension"
    parent_payload: bytes | None = None  # remixes only, see the module docstring
    base_seed: int = 0  # extensions only: the source's look...
    base_variant: int = 0
    split_at: int = 0  # ...for the first `split_at` seconds

    # ----- timeline -------------------------------------------------------------
    @property
    def created(self) -> float:
        return self.created_ms / 1000

    @property
    def started(self) -> float:
        return (self.created_ms + self.queue_ms) / 1000

    @property
    def finished_ms(self) -> int:
        """When the job completes (or fails), in milliseconds since the epoch."""
        return self.created_ms + self.queue_ms + self.render_ms

    @property
    def finished(self) -> float:
        return self.finished_ms / 1000

    def state(self, now: float) -> Snapshot:
        if now < self.started:
            return Snapshot(QUEUED, 0)
        if now < self.finished:
            fraction = (now - self.started) / (self.render_ms / 1000)
            return Snapshot(IN_PROGRESS, max(0, min(99, int(fraction * 99))))
        if self.fail:
            return Snapshot(FAILED, 0)
        done = self.finished
        return Snapshot(COMPLETED, 100, done, done + self.expire_ms / 1000)

    # ----- money ----------------------------------------------------------------
    @property
    def billed_seconds(self) -> int:
        """An extension pays only for the new footage, not the stitched total."""
        return self.seconds - self.split_at if self.kind == "extension" else self.seconds

    @property
    def cost_points(self) -> int:
        """What the job costs if it does not fail: billed seconds at its size's price."""
        return self.billed_seconds * self.model.points_per_second_for(self.size)

    @property
    def charged_points(self) -> int:
        """What the provider actually takes for the job: nothing if it fails."""
        return 0 if self.fail else self.cost_points

    # ----- identity -------------------------------------------------------------
    @property
    def id(self) -> str:
        return _seal(self.payload())

    @property
    def parent_id(self) -> str | None:
        return _seal(self.parent_payload) if self.parent_payload is not None else None

    def payload(self) -> bytes:
        flags = (
            (_FAIL if self.fail else 0)
            | (_REMIX if self.kind == "remix" else 0)
            | (_EXTENSION_FLAG if self.kind == "extension" else 0)
            | (_IMAGE if self.tint is not None else 0)
            | (_PARENT if self.parent_payload is not None else 0)
        )
        data = _CORE.pack(
            _VERSION,
            flags,
            self.created_ms,
            self.queue_ms,
            self.render_ms,
            self.expire_ms,
            VIDEO_MODELS.index(self.model),
            SIZES.index(self.size),
            self.seconds,
            self.variant,
            self.seed,
            self.layout_seed,
            self.nonce,
            self.tint or 0,
        )
        if self.kind == "extension":
            data += _EXTENSION.pack(self.base_seed, self.base_variant, self.split_at)
        return data + (self.parent_payload or b"")


def prompt_seed(prompt: str) -> int:
    return int.from_bytes(hashlib.sha256(prompt.encode("utf-8")).digest()[:4], "big")


def new_job(
    *,
    now: float,
    queue_seconds: float,
    render_seconds: float,
    expire_seconds: float,
    model: SimModel,
    size: str,
    seconds: int,
    prompt: str,
    fail: bool,
    tint: int | None = None,
) -> Job:
    return Job(
        created_ms=max(0, round(now * 1000)),
        queue_ms=_ms(queue_seconds),
        render_ms=_ms(render_seconds),
        expire_ms=_ms(expire_seconds),
        model=model,
        size=size,
        seconds=seconds,
        seed=prompt_seed(prompt),
        layout_seed=prompt_seed(prompt),
        fail=fail,
        nonce=secrets.randbits(32),
        tint=tint,
    )


def remix_of(source: Job, template: Job) -> Job:
    """A remix: `template` carries the new timing and prompt, `source` the rest."""
    remix = replace(
        template,
        model=source.model,
        size=source.size,
        seconds=source.seconds,
        layout_seed=source.layout_seed,
        variant=min(255, source.variant + 1),
        kind="remix",
        parent_payload=source.payload(),
    )
    if len(remix.id) > MAX_ID_CHARS:
        remix = replace(remix, parent_payload=None)
    return remix


def extension_of(source: Job, template: Job, extra_seconds: int) -> Job:
    return replace(
        template,
        model=source.model,
        size=source.size,
        seconds=source.seconds + extra_seconds,
        layout_seed=source.layout_seed,
        variant=source.variant,
        kind="extension",
        base_seed=source.seed,
        base_variant=source.variant,
        split_at=source.seconds,
    )


def decode_id(video_id: str) -> Job | None:
    """The job behind `video_id`, or None for anything this simulator did not issue."""
    if not video_id.startswith(ID_PREFIX) or len(video_id) > 2 * MAX_ID_CHARS:
        return None
    token = video_id[len(ID_PREFIX) :]
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        return None
    mac, payload = raw[:_MAC_BYTES], raw[_MAC_BYTES:]
    if not hmac.compare_digest(mac, _mac(payload)) or _seal(payload) != video_id:
        return None  # the second test rejects non-canonical spellings of a valid id
    try:
        return _unpack(payload)
    except (struct.error, IndexError):
        return None


def _unpack(payload: bytes) -> Job | None:
    fields: tuple[Any, ...] = _CORE.unpack_from(payload)
    (version, flags, created, queue, render, expire, model_i, size_i) = fields[:8]
    (seconds, variant, seed, layout_seed, nonce, tint) = fields[8:]
    if version != _VERSION:
        return None
    rest = payload[_CORE.size :]
    kind = "remix" if flags & _REMIX else "extension" if flags & _EXTENSION_FLAG else "create"
    base_seed = base_variant = split_at = 0
    if kind == "extension":
        base_seed, base_variant, split_at = _EXTENSION.unpack_from(rest)
        rest = rest[_EXTENSION.size :]
    parent = rest if flags & _PARENT and rest else None
    return Job(
        created_ms=created,
        queue_ms=queue,
        render_ms=render,
        expire_ms=expire,
        model=VIDEO_MODELS[model_i],
        size=SIZES[size_i],
        seconds=seconds,
        seed=seed,
        layout_seed=layout_seed,
        variant=variant,
        fail=bool(flags & _FAIL),
        nonce=nonce,
        tint=tint if flags & _IMAGE else None,
        kind=kind,
        parent_payload=parent,
        base_seed=base_seed,
        base_variant=base_variant,
        split_at=split_at,
    )


def video_object(job: Job, now: float, dialect: str) -> dict[str, Any]:
    """The JSON a provider answers about `job` at `now`, in `dialect` ("poe" or "openai")."""
    snap = job.state(now)
    openai = dialect == "openai"
    status = "pending" if openai and snap.status == QUEUED else snap.status
    obj: dict[str, Any] = {
        "id": job.id,
        "object": "video",
        "status": status,
        "created_at": int(job.created),
        "completed_at": _int_or_none(snap.completed_at),
        "expires_at": _int_or_none(snap.expires_at),
        "model": job.model.name,
        "progress": snap.progress,
        "seconds": str(job.seconds) if openai else job.seconds,
        "size": job.size,
        "remixed_from_video_id": job.parent_id,
        "error": None,
    }
    if snap.status == FAILED:
        obj["error"] = {
            "code": "video_generation_failed",
            "message": "The simulated render failed (the prompt asked for [fail]).",
        }
    if openai:
        # Fields a client has never heard of: it must ignore them.
        obj["quality"] = "standard"
        obj["x_simulator"] = {"dialect": "openai", "kind": job.kind}
    else:
        obj["usage"] = {"cost_points": job.cost_points} if snap.status == COMPLETED else None
    return obj


def _seal(payload: bytes) -> str:
    token = base64.urlsafe_b64encode(_mac(payload) + payload).rstrip(b"=").decode("ascii")
    return ID_PREFIX + token


def _mac(payload: bytes) -> bytes:
    return hmac.new(_MAC_KEY, payload, hashlib.sha256).digest()[:_MAC_BYTES]


def _ms(seconds: float) -> int:
    # Clamped to the 32-bit field: about 49 days, far more than any demo needs.
    return max(0, min(2**32 - 1, round(seconds * 1000)))


def _int_or_none(value: float | None) -> int | None:
    return None if value is None else int(value)
