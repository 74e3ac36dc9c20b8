"""What members do to videos: send one, edit, delete.

Views and tasks call these functions (and `refresh`, which follows a job);
they are the only code that changes a Video's state.
"""

from __future__ import annotations

import logging
import mimetypes
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from videostudio.catalog.services import catalog_find, catalog_note_unknown
from videostudio.provider.catalog import ModelSpec
from videostudio.provider.client import ProviderClient
from videostudio.provider.errors import (
    InsufficientCredits,
    InvalidRequest,
    NotFound,
    ProviderError,
    ProviderUnreachable,
    RateLimited,
)
from videostudio.provider.types import RemoteVideo
from videostudio.videos import events, states, tasks
from videostudio.videos.files import remove_files
from videostudio.videos.lineage import lineage_refusal, lineage_spec
from videostudio.videos.models import Video
from videostudio.videos.points import Refused, points
from videostudio.videos.refresh import (
    fields_from_remote,
    merged,
    schedule,
    unconfirmed_next_poll,
)

log = logging.getLogger(__name__)


# --- Submitting ---------------------------------------------------------------------


def video_submit(
    *,
    owner: User,
    spec: ModelSpec,
    prompt: str,
    seconds: int,
    size: str,
    image: UploadedFile | None,
    client: ProviderClient,
    token: uuid.UUID | None = None,
    visibility: str | None = None,
    api_token_name: str = "",
) -> Video:
    """Record a new video's job and queue it: the tracker sends it, fairly among the
    team and within the request budget. Raises Refused (nothing recorded) when the
    rules say no. A repeated `token` (the same form sent twice) returns the first job.
    `api_token_name`: it came through the studio's API, with this token."""
    _refuse_when_out_of_points(client)
    video = _new_video(
        owner=owner, token=token, visibility=visibility, model=spec.name, prompt=prompt,
        seconds=seconds, size=size, billed_seconds=seconds, api_token_name=api_token_name,
    )  # fmt: skip
    if image is not None:
        video.reference_image.save(image.name or "reference", image, save=False)
    return _record_new(video, owner=owner, token=token)


def _new_video(
    *, owner: User, token: uuid.UUID | None, visibility: str | None, **fields: Any
) -> Video:
    return Video(
        owner=owner,
        client_token=token,
        visibility=visibility or settings.VIDEOSTUDIO_DEFAULT_VISIBILITY,
        status=Video.Status.WAITING,
        next_poll_at=timezone.now(),  # may be sent at once
        **fields,
    )


def _refuse_when_out_of_points(client: ProviderClient) -> None:
    reason = points().refusal(client=client)
    if reason:
        raise Refused(reason)


def _record_new(video: Video, *, owner: User, token: uuid.UUID | None) -> Video:
    """Save the new row, its estimated cost held against the owner's budget, and wake
    the sender; or return the job an identical earlier form already made."""
    if token is not None:
        existing = Video.objects.filter(owner=owner, client_token=token).first()
        if existing is not None:
            if video.reference_image:
                video.reference_image.delete(save=False)
            return existing
    try:
        with transaction.atomic():
            points().reserve(video)
            video.save()
            _tell_built_on(video)
    except Refused:
        if video.reference_image:
            video.reference_image.delete(save=False)
        raise
    except IntegrityError:
        # The same form arrived twice at once; the other request queued it.
        if video.reference_image:
            video.reference_image.delete(save=False)
        return Video.objects.get(owner=owner, client_token=token)
    _wake_tracker()
    return video


def _tell_built_on(video: Video) -> None:
    """A teammate remixed or extended somebody's video: its owner hears of it, if they
    may see the new one (a private remix is its maker's business)."""
    parent = video.parent
    if (
        parent is None
        or parent.owner_id == video.owner_id
        or video.visibility != Video.Visibility.TEAM
    ):
        return
    kind = events.VIDEO_REMIXED if video.kind == Video.Kind.REMIX else events.VIDEO_EXTENDED
    events.emit(
        events.Happening(
            kind=kind,
            key=f"{kind}:{video.pk}",
            video_id=video.pk,
            user_id=parent.owner_id,
            actor_id=video.owner_id,
            data={"source_id": parent.pk},
        )
    )


def video_cancel(*, video: Video, actor: Any) -> Video:
    """Take back a job that has not been sent yet: nothing was spent."""
    if not video.can_edit(actor):
        raise NotAllowed("Only the owner can cancel this video.")
    if not states.video_cancelled(video):
        raise NotAllowed("This video has already been sent; it can no longer be cancelled.")
    video.refresh_from_db()
    return video


# --- Sending (the tracker's side) -------------------------------------------------------------

# A send's lease: the tracker renews it every few seconds while the call is out, so
# it runs out only when its sender died; the job is then looked at as unconfirmed
# (never sent again blindly: a second create would be charged twice).
SEND_LEASE = timedelta(seconds=20)
# A send the provider certainly did not take is tried again after this (doubling).
SEND_RETRY = 2.0
SEND_RETRY_CAP = 60.0
# A request the provider failed outright (nothing made) is sent again this often.
SEND_ATTEMPTS = 3


@dataclass
class Sent:
    """The provider's answer to one send: the job, or why not. No database went into it."""

    remote: RemoteVideo | None = None
    error: ProviderError | None = None
    problem: str = ""  # it could not be sent from here (its reference image is unreadable)


def send_call(video: Video, *, client: ProviderClient, source_id: str | None) -> Sent:
    """Make the provider call for a claimed job (thread-safe: storage and provider
    only). `source_id`: the provider id of the video a remix or extension builds on."""
    try:
        if video.kind == Video.Kind.REMIX:
            return Sent(remote=client.remix_video(str(source_id), prompt=video.prompt))
        if video.kind == Video.Kind.EXTENSION:
            remote = client.extend_video(
                str(source_id), prompt=video.prompt, seconds=video.billed_seconds
            )
            return Sent(remote=remote)
        return Sent(
            remote=client.create_video(
                model=video.model,
                prompt=video.prompt,
                seconds=video.seconds,
                size=video.size,
                image=_reference(video),
                image_mode=settings.VIDEOSTUDIO_IMAGE_UPLOAD,
            )
        )
    except ProviderError as exc:
        return Sent(error=exc)
    except Exception as exc:
        log.exception("sending video %s failed before it reached the provider", video.pk)
        return Sent(
            problem=(
                f"It could not be sent from here ({type(exc).__name__}: its reference image "
                "may be missing from storage). Nothing was sent and no points were spent; "
                "use “Try again” with the image."
            )
        )


def _reference(video: Video) -> tuple[str, bytes, str] | None:
    if not video.reference_image:
        return None
    with video.reference_image.open("rb") as fh:
        data = fh.read()
    name = str(video.reference_image.name).rsplit("/", 1)[-1]
    return name, data, mimetypes.guess_type(name)[0] or "image/jpeg"


def send_record(
    video: Video, sent: Sent, *, now: datetime | None = None, room: float | None = None
) -> Video:
    """Record what came of a send (the job is SUBMITTING, under the sender's lease).
    `room`: how often the budget allows looking at it (`timing.room_gap`)."""
    now = now or timezone.now()
    exc = sent.error
    if sent.problem:
        states.video_refused(video, error_code="not_sent", message=sent.problem)
    elif exc is None:
        assert sent.remote is not None
        remote = sent.remote
        fields = fields_from_remote(video, remote, now=now)
        fields.update(provider_id=remote.id, poll_failures=0)
        sent_video = merged(video, fields)
        fields.update(schedule(sent_video, now=now, room=room))
        if (
            states.video_sent(video, fields=fields)
            and video.kind == Video.Kind.REMIX
            and video.parent_id is not None
        ):
            Video.objects.filter(pk=video.parent_id).update(remix_count=F("remix_count") + 1)
    elif exc.outcome_unknown:
        log.warning("sending video %s: no answer (%s)", video.pk, exc.error_type or exc.status)
        states.video_unconfirmed(
            video, next_poll_at=unconfirmed_next_poll(video, now), lease=video.lease_token
        )
    elif _not_taken(exc) or (exc.transient and video.poll_failures + 1 < SEND_ATTEMPTS):
        # Certainly not made: back in the queue, never failed for being busy.
        delay = exc.retry_after or min(SEND_RETRY * 2**video.poll_failures, SEND_RETRY_CAP)
        states.video_send_later(
            video,
            next_poll_at=now + timedelta(seconds=delay),
            reason="rate limited" if isinstance(exc, RateLimited) else "retrying",
        )
    else:
        log.warning("sending video %s refused: %s", video.pk, exc.error_type or exc.status)
        if isinstance(exc, InsufficientCredits):
            points().out_of_points()
        entry = catalog_find(video.model)
        label = entry.label if entry is not None else video.model
        # A definite refusal frees the form's token and the budget it held.
        states.video_refused(
            video,
            error_code=_error_code(exc),
            message=_submit_error_message(exc, video.model, label),
        )
    video.refresh_from_db()
    return video


def _not_taken(exc: ProviderError) -> bool:
    """The provider certainly did nothing with it and will take it later."""
    return isinstance(exc, RateLimited | ProviderUnreachable)


def is_unknown_model(exc: ProviderError) -> bool:
    """The provider refused the model itself (retired, renamed, never offered)."""
    return isinstance(exc, NotFound | InvalidRequest) and "model" in exc.message.lower()


def _submit_error_message(exc: ProviderError, model: str, label: str) -> str:
    if is_unknown_model(exc):
        catalog_note_unknown(name=model, message=exc.message)
        return (
            f"The provider does not offer {label} any more ({exc.message}). "
            "An admin should open Admin → Model catalog and press “Sync from provider”, "
            "or disable this model there. Choose another model meanwhile."
        )
    if not exc.transient:
        return exc.user_message
    return (
        f"{exc.user_message} It was tried {SEND_ATTEMPTS} times; nothing was created and "
        "no points were spent. Use “Try again” to send it once more."
    )


def _error_code(exc: ProviderError) -> str:
    if is_unknown_model(exc):
        return "unknown_model"
    return exc.error_type or "provider_error"


def _wake_tracker() -> None:
    transaction.on_commit(tasks.enqueue_sweep)


# --- Owners' changes -------------------------------------------------------------------


class NotAllowed(Exception):
    """The user may see the video but not change it."""


def video_update(
    *, video: Video, actor: Any, title: str | None = None, visibility: str | None = None
) -> Video:
    """Change the title or who may see the video: the owner's (and staff's) call."""
    if not video.can_edit(actor):
        raise NotAllowed("Only the owner can change this video.")
    fields: dict[str, Any] = {"updated_at": timezone.now()}
    if title is not None:
        fields["title"] = title.strip()[:200]
    if visibility is not None:
        if visibility not in Video.Visibility.values:
            raise ValueError(f"unknown visibility {visibility!r}")
        fields["visibility"] = visibility
    Video.objects.filter(pk=video.pk).update(**fields)
    video.refresh_from_db()
    return video


def video_delete(*, video: Video, actor: Any) -> None:
    """Remove the video and its files here; the row stays (hidden) for the usage records.

    The provider offers no delete, so its copy lives on until it expires.
    """
    if not video.can_edit(actor):
        raise NotAllowed("Only the owner can delete this video.")
    if video.in_flight:
        raise NotAllowed("This video is still being made; delete it once it has finished.")
    remove_files(video)


# --- Remixes and extensions --------------------------------------------------------------


class LineageRefused(Refused):
    """The lineage rules say no (nothing was sent to the provider)."""


def _derived(
    *,
    actor: User,
    source: Video,
    kind: str,
    prompt: str,
    seconds: int,
    token: uuid.UUID | None,
    visibility: str | None,
    client: ProviderClient,
    api_token_name: str = "",
) -> Video:
    _refuse_when_out_of_points(client)
    if not Video.objects.visible_to(actor).filter(pk=source.pk).exists():
        raise LineageRefused("You cannot build on a video you cannot see.")
    extension = seconds if kind == Video.Kind.EXTENSION else None
    reason = lineage_refusal(source, kind, seconds=extension)
    spec = lineage_spec(source)
    if reason or spec is None:
        raise LineageRefused(reason or "This video cannot be used.")
    video = _new_video(
        owner=actor,
        token=token,
        visibility=visibility,
        model=source.model,
        prompt=prompt,
        size=source.size,
        kind=kind,
        parent=source,
        root_id=source.root_id or source.pk,
        depth=source.depth + 1,
        # An extension's length is the stitched total: source plus continuation,
        # and it is charged for the continuation only.
        seconds=source.seconds + seconds if kind == Video.Kind.EXTENSION else source.seconds,
        billed_seconds=seconds if kind == Video.Kind.EXTENSION else source.seconds,
        api_token_name=api_token_name,
    )
    return video


def video_remix(
    *,
    actor: User,
    source: Video,
    prompt: str,
    client: ProviderClient,
    token: uuid.UUID | None = None,
    visibility: str | None = None,
    api_token_name: str = "",
) -> Video:
    """A new video in the source's model, length and size, restyled by `prompt`."""
    return _build_on(
        actor=actor, source=source, kind=Video.Kind.REMIX, prompt=prompt, seconds=0,
        token=token, visibility=visibility, client=client, api_token_name=api_token_name,
    )  # fmt: skip


def video_extend(
    *,
    actor: User,
    source: Video,
    prompt: str,
    seconds: int,
    client: ProviderClient,
    token: uuid.UUID | None = None,
    visibility: str | None = None,
    api_token_name: str = "",
) -> Video:
    """A continuation of the source, `seconds` longer than it."""
    return _build_on(
        actor=actor, source=source, kind=Video.Kind.EXTENSION, prompt=prompt, seconds=seconds,
        token=token, visibility=visibility, client=client, api_token_name=api_token_name,
    )  # fmt: skip


def _build_on(**options: Any) -> Video:
    """Check the lineage rules, then queue the job like any other."""
    return _record_new(_derived(**options), owner=options["actor"], token=options["token"])


def video_archive_retry(*, video: Video, actor: Any) -> Video:
    """Try saving the files again after the tracker gave up (anyone who can see it)."""
    if not Video.objects.visible_to(actor).filter(pk=video.pk).exists():
        raise NotAllowed("You cannot see this video.")
    if video.status != Video.Status.COMPLETED or video.is_archived:
        return video
    states.video_archive_retry(video)
    video.refresh_from_db()
    _wake_tracker()
    return video
