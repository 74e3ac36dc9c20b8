"""`/v1/`: the studio speaks the provider's Videos API, with personal tokens.

Any OpenAI-style client works against it (`base_url=".../v1"`, a member's token as
the key). Every job goes through the same services as the web form: the catalog's
rules, the member's budget held, the fair send queue, tracking, the archive,
lineage and notifications. The files are served from the studio's archive (with
Range), so they never expire; the provider's key and ids never appear.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Callable
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS, RequestDataTooBig
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse, QueryDict
from django.utils import timezone
from django.utils.datastructures import MultiValueDict

from videostudio.api import errors
from videostudio.api.auth import api_view
from videostudio.api.videos import api_id, as_json, find, list_mark, visible
from videostudio.catalog.services import catalog_specs
from videostudio.connection import get_client
from videostudio.provider.catalog import find_model
from videostudio.videos import services
from videostudio.videos.forms import DeriveForm, VideoForm
from videostudio.videos.lineage import lineage_spec
from videostudio.videos.media import handoff_response, ranged_file_response
from videostudio.videos.models import Video, default_visibility
from videostudio.videos.points import Refused

VARIANTS = {
    # ?variant= -> (the file's field, its type, its extension)
    "video": ("video_file", "video/mp4", "mp4"),
    "thumbnail": ("thumbnail_file", "image/webp", "webp"),
    "spritesheet": ("spritesheet_file", "image/jpeg", "jpg"),
}
LIST_MOST = 100
# Idempotency-Key: the same key from the same token is the same job (a retried POST).
IDEMPOTENCY = uuid.UUID("6f1d1c2e-63b1-4a49-9a2e-6f6e0e0f5a11")


class BadRequest(Exception):
    """What the request says cannot be taken (400, in the caller's words)."""

    def __init__(self, message: str, *, reason: str = "invalid_request", **metadata: Any) -> None:
        super().__init__(message)
        self.message, self.reason, self.metadata = message, reason, metadata


def _invalid(exc: BadRequest) -> JsonResponse:
    return errors.api_error(
        400, type=errors.INVALID_REQUEST, code=exc.reason, message=exc.message,
        metadata=exc.metadata,
    )  # fmt: skip


def _refused(exc: Refused) -> JsonResponse:
    """The rules said no: a lineage rule is the request's fault (400); the member's
    budget or the team's points are 402."""
    if isinstance(exc, services.LineageRefused):
        return errors.api_error(
            400, type=errors.INVALID_REQUEST, code="lineage_refused", message=str(exc)
        )
    return errors.api_error(
        402, type=errors.INSUFFICIENT_CREDITS, code="insufficient_credits", message=str(exc)
    )


def _body(request: HttpRequest) -> tuple[QueryDict | dict[str, Any], MultiValueDict[str, Any]]:
    """The request's fields and files: JSON (with `input_image` in base64) or a form."""
    kind = request.content_type or ""
    if kind == "application/json":
        try:
            data = json.loads(_raw_body(request) or b"{}")
        except (ValueError, UnicodeDecodeError, RecursionError):  # nested past any use
            raise BadRequest(
                "The body is not JSON that can be read.", reason="invalid_json"
            ) from None
        if not isinstance(data, dict):
            raise BadRequest("The body must be a JSON object.", reason="invalid_json")
        return data, MultiValueDict()
    if kind in ("multipart/form-data", "application/x-www-form-urlencoded"):
        return request.POST, request.FILES
    if not request.body:
        return {}, MultiValueDict()
    raise BadRequest(
        "Send JSON (Content-Type: application/json) or a multipart form.",
        reason="unsupported_content_type",
    )


def _raw_body(request: HttpRequest) -> bytes:
    """The body, up to the studio's cap on a request (VIDEOSTUDIO_MAX_REQUEST_BYTES,
    held before any view runs: `videostudio.limits`). Django's lower cap on form fields
    (DATA_UPLOAD_MAX_MEMORY_SIZE) is for forms: a reference image in base64 passes it."""
    try:
        return request.body
    except RequestDataTooBig:
        return request.read()  # nothing of it was read yet


def _text(data: Any, name: str, *, required: bool = False) -> str:
    value = data.get(name)
    if value is None or value == "":
        if required:
            raise BadRequest(f"“{name}” is required.", reason="missing_field", field=name)
        return ""
    if not isinstance(value, (str, int)) or isinstance(value, bool):
        raise BadRequest(f"“{name}” must be text.", reason="invalid_field", field=name)
    return str(value)


def _image(data: Any, files: MultiValueDict[str, Any]) -> Any:
    upload = files.get("input_reference")
    if upload is not None:
        return upload
    raw = data.get("input_image")
    if raw in (None, ""):
        return None
    if not isinstance(raw, str):
        raise BadRequest("“input_image” must be base64 text.", reason="invalid_field")
    encoded = raw.split(",", 1)[1] if raw.startswith("data:") and "," in raw else raw
    try:
        content = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise BadRequest(
            "“input_image” is not base64 that can be read.", reason="invalid_field"
        ) from None
    return SimpleUploadedFile("input_image", content)


def _share(data: Any) -> bool | None:
    """`visibility` ("team" or "private"), the studio's own field; absent: the default."""
    raw = data.get("visibility")
    if raw in (None, ""):
        return None
    if raw not in (Video.Visibility.TEAM, Video.Visibility.PRIVATE):
        raise BadRequest(
            "“visibility” is “team” (shared, in the gallery) or “private” (yours only).",
            reason="invalid_field",
            field="visibility",
        )
    return bool(raw == Video.Visibility.TEAM)


def _form_error(form: Any, *, whole: str = "invalid_request") -> BadRequest:
    """The form's first refusal, in its own words, naming the API's field; a refusal of
    the request as a whole (no one field) has the reason `whole`."""
    names = {"image": "input_reference", "share": "visibility"}
    for field, messages in form.errors.items():
        if not messages:
            continue
        if field == NON_FIELD_ERRORS:
            return BadRequest(messages[0], reason=whole)
        name = names.get(field, field)
        return BadRequest(f"{name}: {messages[0]}", reason="invalid_field", field=name)
    return BadRequest("The request could not be taken.")


def _token(request: HttpRequest) -> uuid.UUID:
    """One job per `Idempotency-Key` (per token), else a fresh one per request."""
    key = request.headers.get("Idempotency-Key", "").strip()
    if not key:
        return uuid.uuid4()
    token = request.api_token  # type: ignore[attr-defined]
    # The endpoint is part of the name: a key reused on /remix is not the create's job.
    return uuid.uuid5(IDEMPOTENCY, f"{token.pk}:{request.path}:{key[:200]}")


def _replayed(request: HttpRequest) -> JsonResponse | None:
    """A retried POST (the same Idempotency-Key from the same token): the job the first
    one made, as it is now, before anything else is asked (the team's points, the
    member's budget, the source's rules may have changed since); None for a new one."""
    if not request.headers.get("Idempotency-Key", "").strip():
        return None
    earlier = Video.objects.filter(owner_id=request.user.pk, client_token=_token(request))
    video = earlier.select_related("parent").first()
    return _created(request, video) if video is not None else None


def _created(request: HttpRequest, video: Video) -> JsonResponse:
    video.refresh_from_db()
    return JsonResponse(as_json(video, request.user), status=200)


def _guarded(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    def run(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        try:
            return view(request, *args, **kwargs)
        except BadRequest as exc:
            return _invalid(exc)
        except Refused as exc:
            return _refused(exc)

    run.__name__ = view.__name__
    run.__doc__ = view.__doc__
    return run


def _visibility(share: bool | None) -> str | None:
    if share is None:
        return None
    return Video.Visibility.TEAM if share else Video.Visibility.PRIVATE


# --- Videos --------------------------------------------------------------------------


@api_view(["GET", "POST"])
@_guarded
def videos(request: HttpRequest) -> HttpResponseBase:
    return video_create(request) if request.method == "POST" else video_list(request)


def video_create(request: HttpRequest) -> HttpResponse:
    """POST /v1/videos: JSON (optional base64 `input_image`) or multipart
    (`input_reference`)."""
    if (replayed := _replayed(request)) is not None:
        return replayed
    data, files = _body(request)
    specs = catalog_specs()
    name = _text(data, "model", required=True)
    spec = find_model(name, specs)
    if spec is None:
        offered = ", ".join(s.name for s in specs) or "none right now"
        raise BadRequest(
            f"“{name}” is not a model offered here now: use one of {offered}.",
            reason="unknown_model",
            param="model",
        )
    share = _share(data)
    fields = {
        "model": spec.name,
        "prompt": _text(data, "prompt", required=True),
        "seconds": _text(data, "seconds") or str(spec.default_seconds),
        "size": _text(data, "size") or spec.default_size,
    }
    if share is None:
        share = default_visibility() == Video.Visibility.TEAM
    if share:
        fields["share"] = "on"
    image = _image(data, files)
    form = VideoForm(fields, {"image": image} if image is not None else {}, catalog=specs)
    if not form.is_valid():
        raise _form_error(form)
    cleaned = form.cleaned_data
    video = services.video_submit(
        owner=request.user,  # type: ignore[arg-type]  # the token's member
        spec=form.spec,
        prompt=cleaned["prompt"],
        seconds=cleaned["seconds"],
        size=cleaned["size"],
        image=cleaned.get("image"),
        client=get_client(),
        token=_token(request),
        visibility=_visibility(share),
        api_token_name=request.api_token.name,  # type: ignore[attr-defined]
    )
    return _created(request, video)


def video_list(request: HttpRequest) -> HttpResponse:
    """GET /v1/videos: the member's own and the team's shared, newest first, paged
    (`limit`, `after`: the last id of the page before; `order`: desc, or asc)."""
    try:
        limit = int(request.GET.get("limit", "20"))
    except ValueError:
        raise BadRequest(
            "“limit” is a whole number from 1 to 100.", reason="invalid_field"
        ) from None
    if not 1 <= limit <= LIST_MOST:
        raise BadRequest("“limit” is a whole number from 1 to 100.", reason="invalid_field")
    order = request.GET.get("order", "desc")
    if order not in ("asc", "desc"):
        raise BadRequest(
            "“order” is “desc” (newest first) or “asc” (oldest first).", reason="invalid_field"
        )
    rows = visible(request.user)
    if order == "asc":
        rows = rows.order_by("created_at", "pk")
    after = request.GET.get("after", "")
    if after:
        mark = list_mark(after, request.user)
        if mark is None:
            raise BadRequest(f"“after” names no video you can see: {after[:60]}.",
                             reason="invalid_field")  # fmt: skip
        if order == "asc":
            rows = rows.filter(created_at__gte=mark.created_at).exclude(
                created_at=mark.created_at, pk__lte=mark.pk
            )
        else:
            rows = rows.filter(created_at__lte=mark.created_at).exclude(
                created_at=mark.created_at, pk__gte=mark.pk
            )
    page = list(rows[: limit + 1])
    shown = [as_json(video, request.user) for video in page[:limit]]
    return JsonResponse(
        {
            "object": "list",
            "data": shown,
            "first_id": shown[0]["id"] if shown else None,
            "last_id": shown[-1]["id"] if shown else None,
            "has_more": len(page) > limit,
        }
    )


def _video_or_404(request: HttpRequest, video_id: str) -> Video | JsonResponse:
    video = find(video_id, request.user)
    if video is None:
        return errors.not_found(f"No video {video_id[:80]} that you can see.")
    return video


# A script polling is told to ask again between these (milliseconds).
POLL_AFTER_LEAST, POLL_AFTER_MOST = 2_000, 15_000


def poll_after_ms(video: Video) -> int:
    due = video.next_poll_at
    if due is None:
        return POLL_AFTER_LEAST
    wait = (due - timezone.now()).total_seconds() * 1000 + 1000
    return int(min(max(wait, POLL_AFTER_LEAST), POLL_AFTER_MOST))


@api_view(["GET", "DELETE"])
@_guarded
def video(request: HttpRequest, video_id: str) -> HttpResponseBase:
    found = _video_or_404(request, video_id)
    if isinstance(found, JsonResponse):
        return found
    if request.method == "GET":
        response = JsonResponse(as_json(found, request.user))
        if found.in_flight:
            # When to ask again (`client.videos.poll` reads it): just after the tracker's
            # next look, so a script neither asks for nothing nor runs into its token's
            # budget polling a slow job.
            response["openai-poll-after-ms"] = str(poll_after_ms(found))
        return response
    if not found.can_edit(request.user):
        return errors.api_error(
            403, type=errors.PERMISSION, code="not_yours",
            message="Only its owner (or staff) can delete this video.",
        )  # fmt: skip
    try:
        services.video_delete(video=found, actor=request.user)
    except services.NotAllowed as exc:  # still being made
        return errors.api_error(
            409, type=errors.INVALID_REQUEST, code="in_flight", message=str(exc)
        )
    return JsonResponse({"id": api_id(found), "object": "video.deleted", "deleted": True})


@api_view(["GET", "HEAD"])
def video_content(request: HttpRequest, video_id: str) -> HttpResponseBase:
    """GET /v1/videos/{id}/content?variant=: the saved file, with Range."""
    variant = request.GET.get("variant", "") or "video"
    if variant not in VARIANTS:
        return errors.api_error(
            400, type=errors.INVALID_REQUEST, code="invalid_variant",
            message=f"“{variant[:40]}” is not a variant: use video, thumbnail or spritesheet.",
        )  # fmt: skip
    found = _video_or_404(request, video_id)
    if isinstance(found, JsonResponse):
        return found
    field, content_type, ext = VARIANTS[variant]
    fieldfile = getattr(found, field)
    if not fieldfile:
        message = (
            f"This video has no {variant} saved here."
            if found.is_archived
            else "This video is not ready: its files are saved once it completes."
        )
        return errors.not_found(message)
    name = f"{video_id}.{ext}" if variant == "video" else f"{video_id}-{variant}.{ext}"
    handoff = handoff_response(fieldfile, content_type=content_type, download_name=name)
    if handoff is not None:
        return handoff
    try:
        return ranged_file_response(request, fieldfile, content_type=content_type,
                                    download_name=name)  # fmt: skip
    except FileNotFoundError:
        return errors.not_found("This file is missing from storage.")


# --- Building on a video ---------------------------------------------------------------


def _build_on(
    request: HttpRequest, source: Video, kind: str, data: Any, seconds: str = ""
) -> HttpResponse:
    share = _share(data)
    if share is None:
        share = default_visibility() == Video.Visibility.TEAM
    fields = {"prompt": _text(data, "prompt", required=True)}
    if share:
        fields["share"] = "on"
    if kind == Video.Kind.EXTENSION:
        fields["seconds"] = seconds
    form = DeriveForm(fields, kind=kind, source=source)
    if not form.is_valid():
        raise _form_error(form, whole="lineage_refused")  # the source's rules said no
    options: dict[str, Any] = {
        "actor": request.user,
        "source": source,
        "prompt": form.cleaned_data["prompt"],
        "client": get_client(),
        "token": _token(request),
        "visibility": _visibility(share),
        "api_token_name": request.api_token.name,  # type: ignore[attr-defined]
    }
    if kind == Video.Kind.REMIX:
        return _created(request, services.video_remix(**options))
    return _created(request, services.video_extend(seconds=form.cleaned_data["seconds"], **options))


@api_view(["POST"])
@_guarded
def video_remix(request: HttpRequest, video_id: str) -> HttpResponseBase:
    """POST /v1/videos/{id}/remix: the source's model, length and size, a new prompt."""
    if (replayed := _replayed(request)) is not None:
        return replayed
    data, _files = _body(request)
    found = _video_or_404(request, video_id)
    if isinstance(found, JsonResponse):
        return found
    return _build_on(request, found, Video.Kind.REMIX, data)


@api_view(["POST"])
@_guarded
def video_extension(request: HttpRequest) -> HttpResponseBase:
    """POST /v1/videos/extensions: `{"video": {"id": ...}, "prompt", "seconds"}`."""
    if (replayed := _replayed(request)) is not None:
        return replayed
    data, _files = _body(request)
    source = data.get("video")
    raw = source.get("id") if isinstance(source, dict) else data.get("video_id")
    if not isinstance(raw, str) or not raw:
        raise BadRequest(
            "“video” is required: {\"id\": \"video_...\"}, the video to continue.",
            reason="missing_field", field="video",
        )  # fmt: skip
    found = _video_or_404(request, raw)
    if isinstance(found, JsonResponse):
        return found
    seconds = _text(data, "seconds")
    if not seconds:
        spec = lineage_spec(found)
        seconds = str(spec.default_seconds) if spec is not None else ""
    return _build_on(request, found, Video.Kind.EXTENSION, data, seconds)


# --- Models ----------------------------------------------------------------------------


@api_view(["GET"])
def models(request: HttpRequest) -> HttpResponse:
    """GET /v1/models: what the catalog offers now."""
    data = [
        {
            "id": spec.name,
            "object": "model",
            "created": 0,
            "owned_by": "videostudio",
            "seconds": list(spec.durations),
            "default_seconds": spec.default_seconds,
            "sizes": list(spec.sizes),
            "default_size": spec.default_size,
            "remix": spec.remix,
            "extend": spec.extend,
        }
        for spec in catalog_specs()
    ]
    return JsonResponse({"object": "list", "data": data})
