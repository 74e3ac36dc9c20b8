"""What members do to videos: send one, edit, delete.

Views and tasks call these functions (and `refresh`, which follows a job);
they are the only code that changes a Video's state.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from videostudio.catalog.services import catalog_note_unknown
from videostudio.provider.catalog import ModelSpec
from videostudio.provider.client import ProviderClient
from videostudio.provider.errors import (
    InsufficientCredits,
    InvalidRequest,
    NotFound,
    ProviderError,
)
from videostudio.provider.types import RemoteVideo
from videostudio.videos import states, tasks
from videostudio.videos.files import remove_files
from videostudio.videos.lineage import lineage_refusal, lineage_spec
from videostudio.videos.models import Video
from videostudio.videos.points import Refused, points
from videostudio.videos.refresh import (
    fields_from_remote,
    merged,
    next_poll_at,
    unconfirmed_next_poll,
)

log = logging.getLogger(__name__)

# How long a web request may spend sending a job before the tracker presumes it died.
SUBMIT_LEASE = timedelta(minutes=5)


class SubmitFailed(Exception):
    """The provider refused or could not take the job; the job is kept, marked failed."""

    def __init__(self, video: Video, message: str) -> None:
        super().__init__(message)
        self.video = video
        self.message = message


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
) -> Video:
    """Record a new video's job, then send it. Raises Refused (nothing recorded) when
    the rules say no, SubmitFailed (recorded as failed) when the provider does.
    A repeated `token` (the same form sent twice) returns the first job."""
    _refuse_when_out_of_points(client)
    video = _new_video(
        owner=owner, token=token, visibility=visibility, model=spec.name, prompt=prompt,
        seconds=seconds, size=size, billed_seconds=seconds,
    )  # fmt: skip
    if image is not None:
        video.reference_image.save(image.name or "reference", image, save=False)
    recorded = _record_new(video, owner=owner, token=token)
    if recorded is not video:
        return recorded
    image_part = None
    if image is not None:
        image.seek(0)
        image_part = (image.name or "reference", image.read(), image.content_type or "image/png")
    return send(
        video,
        spec=spec,
        call=lambda: client.create_video(
            model=spec.name,
            prompt=prompt,
            seconds=seconds,
            size=size,
            image=image_part,
            image_mode=settings.VIDEOSTUDIO_IMAGE_UPLOAD,
        ),
    )


def _new_video(
    *, owner: User, token: uuid.UUID | None, visibility: str | None, **fields: Any
) -> Video:
    now = timezone.now()
    return Video(
        owner=owner,
        client_token=token,
        visibility=visibility or settings.VIDEOSTUDIO_DEFAULT_VISIBILITY,
        status=Video.Status.SUBMITTING,
        # The row exists before the call so that nothing is lost if this process
        # dies mid-call; the lease keeps the tracker away until the call is over.
        lease_token=uuid.uuid4(),
        lease_until=now + SUBMIT_LEASE,
        next_poll_at=now + SUBMIT_LEASE,
        **fields,
    )


def _refuse_when_out_of_points(client: ProviderClient) -> None:
    reason = points().refusal(client=client)
    if reason:
        raise Refused(reason)


def _record_new(video: Video, *, owner: User, token: uuid.UUID | None) -> Video:
    """Save the new row, its estimated cost held against the owner's budget, or
    return the job an identical earlier form already made."""
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
    except Refused:
        if video.reference_image:
            video.reference_image.delete(save=False)
        raise
    except IntegrityError:
        # The same form arrived twice at once; the other request sends it.
        if video.reference_image:
            video.reference_image.delete(save=False)
        return Video.objects.get(owner=owner, client_token=token)
    return video


def send(video: Video, *, spec: ModelSpec, call: Callable[[], RemoteVideo]) -> Video:
    """Make the provider call for a recorded job and record what came of it."""
    try:
        remote = call()
    except ProviderError as exc:
        log.warning("sending video %s failed: %s", video.pk, exc.error_type or exc.status)
        if exc.outcome_unknown:
            now = timezone.now()
            states.video_unconfirmed(video, next_poll_at=unconfirmed_next_poll(video, now))
            video.refresh_from_db()
            raise SubmitFailed(video, video.error_message) from exc
        if isinstance(exc, InsufficientCredits):
            points().out_of_points()
        message = _submit_error_message(exc, spec)
        # A definite refusal frees the form's token and the budget it held.
        states.video_refused(video, error_code=_error_code(exc), message=message)
        video.refresh_from_db()
        raise SubmitFailed(video, message) from exc

    now = timezone.now()
    fields = fields_from_remote(video, remote, now=now)
    fields.update(provider_id=remote.id, submitted_at=now)
    fields["next_poll_at"] = next_poll_at(merged(video, fields), now=now)
    states.video_sent(video, fields=fields)
    video.refresh_from_db()
    _wake_tracker()
    return video


def is_unknown_model(exc: ProviderError) -> bool:
    """The provider refused the model itself (retired, renamed, never offered)."""
    return isinstance(exc, NotFound | InvalidRequest) and "model" in exc.message.lower()


def _submit_error_message(exc: ProviderError, spec: ModelSpec) -> str:
    if is_unknown_model(exc):
        catalog_note_unknown(name=spec.name, message=exc.message)
        return (
            f"The provider does not offer {spec.label} any more ({exc.message}). "
            "An admin should open Admin → Model catalog and press “Sync from provider”, "
            "or disable this model there. Choose another model meanwhile."
        )
    if not exc.transient:
        return exc.user_message
    return f"{exc.user_message} Nothing was created and no points were spent; try again shortly."


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
) -> tuple[Video, ModelSpec]:
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
    )
    return video, spec


def video_remix(
    *,
    actor: User,
    source: Video,
    prompt: str,
    client: ProviderClient,
    token: uuid.UUID | None = None,
    visibility: str | None = None,
) -> Video:
    """A new video in the source's model, length and size, restyled by `prompt`."""
    return _build_on(
        actor=actor, source=source, kind=Video.Kind.REMIX, prompt=prompt, seconds=0,
        token=token, visibility=visibility, client=client,
        call=lambda source_id: client.remix_video(source_id, prompt=prompt),
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
) -> Video:
    """A continuation of the source, `seconds` longer than it."""
    return _build_on(
        actor=actor, source=source, kind=Video.Kind.EXTENSION, prompt=prompt, seconds=seconds,
        token=token, visibility=visibility, client=client,
        call=lambda source_id: client.extend_video(source_id, prompt=prompt, seconds=seconds),
    )  # fmt: skip


def _build_on(*, call: Callable[[str], RemoteVideo], **options: Any) -> Video:
    video, spec = _derived(**options)
    recorded = _record_new(video, owner=options["actor"], token=options["token"])
    if recorded is not video:
        return recorded
    source = options["source"]
    source_id = str(source.provider_id)
    video = send(video, spec=spec, call=lambda: call(source_id))
    if video.kind == Video.Kind.REMIX:
        Video.objects.filter(pk=source.pk).update(remix_count=F("remix_count") + 1)
    return video


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
