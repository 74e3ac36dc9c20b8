from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect, HttpResponseStopPolling

from videostudio.catalog.services import catalog_specs
from videostudio.connection import get_client
from videostudio.http import note, page_asked
from videostudio.videos import services
from videostudio.videos.expiry import needs_attention, notice_changed, video_cards
from videostudio.videos.forms import DeriveForm, VideoEditForm, VideoForm
from videostudio.videos.lineage import family_tree, lineage_refusal
from videostudio.videos.media import handoff_response, ranged_file_response
from videostudio.videos.models import Video
from videostudio.videos.points import CostPreview, points
from videostudio.videos.retention import retention_due
from videostudio.videos.watching import watch

MEDIA = {
    # variant -> (model field, content type, download extension)
    "video": ("video_file", "video/mp4", "mp4"),
    "thumbnail": ("thumbnail_file", "image/webp", "webp"),
    "spritesheet": ("spritesheet_file", "image/jpeg", "jpg"),
    "reference": ("reference_image", "image/jpeg", "jpg"),
}
MAX_POLLED = 200
DERIVE_STATE = re.compile(r"(f|r[0-9a-f]{8})\.(f|r[0-9a-f]{8})")


@login_required
@require_GET
def video_list(request: HttpRequest) -> HttpResponse:
    """My videos; or, with ?family=<id>, every video of one family the user can see."""
    family = None
    family_id = request.GET.get("family", "")
    if family_id and not (family_id.isascii() and family_id.isdigit()):
        note(request, "That link to a family of videos is not one: your own videos are shown.")
        family_id = ""
    if family_id:
        family = get_object_or_404(Video.objects.visible_to(request.user), pk=int(family_id))
        root_id = family.root_id or family.pk
        videos = (
            Video.objects.visible_to(request.user)
            .filter(Q(pk=root_id) | Q(root_id=root_id))
            .select_related("owner")
        )
    else:
        videos = Video.objects.filter(owner_id=request.user.pk, deleted_at__isnull=True)
    page = page_asked(request, Paginator(videos, 24))
    videos_shown = list(page.object_list)
    cards = video_cards(videos_shown)
    return render(
        request,
        "videos/list.html",
        {
            "page": page,
            "cards": cards,
            "family": family,
            "attention": [] if family else needs_attention(request.user),
            "retention": [] if family else retention_due(request.user),
            "budget": None if family else points().month(request.user),
            # A family page shows no month line: its poller must not send one.
            "poller": _poller(videos_shown, "family" if family else "list"),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def video_new(request: HttpRequest) -> HttpResponse:
    htmx = getattr(request, "htmx", None)
    specs = catalog_specs()
    if not specs:
        return render(request, "videos/new.html", {"form": None})
    if request.method == "GET":
        # Keep what the user chose when the new model allows it.
        initial: dict[str, Any] = {k: request.GET.get(k) for k in ("model", "seconds", "size")}
        source = request.GET.get("from", "")
        if source.isascii() and source.isdigit():
            # "Try again": the same settings as an earlier job.
            earlier = Video.objects.visible_to(request.user).filter(pk=int(source)).first()
            if earlier is not None:
                initial.update(
                    model=earlier.model,
                    prompt=earlier.prompt,
                    seconds=earlier.seconds,
                    size=earlier.size,
                )
        form = VideoForm(initial={k: v for k, v in initial.items() if v}, catalog=specs)
        context = {"form": form, "estimate": _estimate(request, form)}
        if htmx and htmx.target == "cost-estimate":
            # The duration or size changed: what would it cost?
            return render(request, "videos/new.html#estimate", context)
        if htmx and htmx.target == "video-fields":
            # The model changed: show the durations and sizes it allows.
            return render(request, "videos/new.html#fields", context)
        return render(request, "videos/new.html", context)

    form = VideoForm(request.POST, request.FILES, catalog=specs)
    if form.is_valid():
        data = form.cleaned_data
        done = _sending(
            request,
            form,
            lambda: services.video_submit(
                owner=request.user,  # type: ignore[arg-type]  # login_required
                spec=form.spec,
                prompt=data["prompt"],
                seconds=data["seconds"],
                size=data["size"],
                image=data.get("image"),
                client=get_client(),
                token=data.get("token"),
                visibility=_visibility(data),
            ),
            success="Queued. It is sent in a moment; this page follows its progress.",
            then=lambda video: reverse("videos:list"),
        )
        if done is not None:
            return done
    template = "videos/new.html#form" if htmx else "videos/new.html"
    return render(request, template, {"form": form, "estimate": _estimate(request, form)})


def _estimate(request: HttpRequest, form: VideoForm) -> CostPreview:
    source = form.data if form.is_bound else form.initial
    seconds = source.get("seconds")
    try:
        seconds = int(seconds) if seconds is not None else form.spec.default_seconds
    except (TypeError, ValueError):
        seconds = form.spec.default_seconds
    if seconds not in form.spec.durations:
        seconds = form.spec.default_seconds
    size = source.get("size")
    if size not in form.spec.sizes:
        size = form.spec.default_size
    estimate = points().estimate(model=form.spec.name, seconds=seconds, size=str(size))
    return CostPreview(estimate, points().month(request.user))


def _visibility(data: dict[str, Any]) -> str:
    return Video.Visibility.TEAM if data.get("share") else Video.Visibility.PRIVATE


def _go(request: HttpRequest, url: str) -> HttpResponse:
    return HttpResponseClientRedirect(url) if getattr(request, "htmx", None) else redirect(url)


def _sending(
    request: HttpRequest,
    form: Any,
    send: Callable[[], Video],
    *,
    success: str,
    then: Callable[[Video], str],
) -> HttpResponse | None:
    """Queue a job from a valid form: the redirect onwards, or None with the reason on
    the form. The provider is not called here: the tracker sends the job, and what
    the provider says of it shows on its card."""
    try:
        video = send()
    except services.Refused as exc:
        form.add_error(None, str(exc))
        return None
    messages.success(request, success)
    return _go(request, then(video))


@login_required
@require_GET
def video_detail(request: HttpRequest, pk: int) -> HttpResponse:
    video = get_object_or_404(Video.objects.visible_to(request.user).select_related("owner"), pk=pk)
    return render(request, "videos/detail.html", _detail_context(request, video))


def _derive_sections(video: Video, **forms: Any) -> dict[str, dict[str, Any]]:
    """For each of remix and extend: its form, or why it is not possible. A form that
    was sent is shown back as it was, with what it was refused for."""
    sections: dict[str, dict[str, Any]] = {}
    for kind in (Video.Kind.REMIX, Video.Kind.EXTENSION):
        form = forms.get(kind)
        refusal = lineage_refusal(video, kind) if form is None else None
        if form is None and refusal is None:
            form = _derive_form(video, kind)
        sections[kind] = {"refusal": refusal, "form": form, "kind": kind}
    return sections


def _derive_state(sections: dict[str, dict[str, Any]]) -> str:
    """What the page's remix and extend sections show, in short ("f" a form, else a
    digest of the refusal): the poller sends it back, so a section is redrawn only
    when what it says changes, never under what a member is typing."""
    return ".".join(
        "f" if section["refusal"] is None
        else "r" + hashlib.sha256(section["refusal"].encode()).hexdigest()[:8]
        for section in sections.values()
    )  # fmt: skip


def _detail_context(
    request: HttpRequest,
    video: Video,
    *,
    sent: DeriveForm | None = None,
    edit_form: VideoEditForm | None = None,
) -> dict[str, Any]:
    """The page; with a form that was sent (and refused) shown back as it was."""
    derive = _derive_sections(video, **({sent.kind: sent} if sent is not None else {}))
    return {
        "video": video,
        "card": video_cards([video])[0],
        "poller": _poller([video], "detail", derive=_derive_state(derive)),
        "edit_form": edit_form or _edit_form(video),
        "can_edit": video.can_edit(request.user),
        "tree": family_tree(video, request.user),
        "remix": derive[Video.Kind.REMIX],
        "extend": derive[Video.Kind.EXTENSION],
    }


def _derive_form(video: Video, kind: str, data: Any = None) -> DeriveForm:
    # Two of these share a page: each names its fields (and their help and error ids) apart.
    return DeriveForm(data, kind=kind, source=video, auto_id=f"id_{kind}_%s")


@login_required
@require_POST
def video_derive(request: HttpRequest, pk: int, kind: str) -> HttpResponse:
    """Remix or extend a video the user can see; the new video is theirs."""
    source = get_object_or_404(
        Video.objects.visible_to(request.user).select_related("owner"), pk=pk
    )
    htmx = getattr(request, "htmx", None)
    form = _derive_form(source, kind, request.POST)
    if form.is_valid():
        data = form.cleaned_data
        options: dict[str, Any] = {
            "actor": request.user,
            "source": source,
            "prompt": data["prompt"],
            "client": get_client(),
            "token": data.get("token"),
            "visibility": _visibility(data),
        }
        remix = kind == Video.Kind.REMIX
        done = _sending(
            request,
            form,
            lambda: (
                services.video_remix(**options)
                if remix
                else services.video_extend(seconds=data["seconds"], **options)
            ),
            success=f"{'Remix' if remix else 'Extension'} queued. It is sent in a moment.",
            then=lambda video: video.get_absolute_url(),
        )
        if done is not None:
            return done
    if htmx:
        return render(
            request,
            "videos/detail.html#derive",
            {"video": source, "kind": kind, "form": form, "refusal": None},
        )
    return render(request, "videos/detail.html", _detail_context(request, source, sent=form))


def _edit_form(video: Video, data: Any = None) -> VideoEditForm:
    return VideoEditForm(data, initial={"title": video.title, "visibility": video.visibility})


def _editable(request: HttpRequest, pk: int) -> Video:
    """The video if the user may change it: 404 if they cannot see it, 403 if they
    can see it but it is not theirs."""
    video = get_object_or_404(Video.objects.visible_to(request.user).select_related("owner"), pk=pk)
    if not video.can_edit(request.user):
        raise PermissionDenied("Only the owner can change this video.")
    return video


@login_required
@require_POST
def video_archive(request: HttpRequest, pk: int) -> HttpResponse:
    video = get_object_or_404(Video.objects.visible_to(request.user), pk=pk)
    services.video_archive_retry(video=video, actor=request.user)
    messages.success(request, "Saving the files again; this page updates when it is done.")
    return redirect(video)


@login_required
@require_POST
def video_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    video = _editable(request, pk)
    try:
        services.video_cancel(video=video, actor=request.user)
    except services.NotAllowed as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "Cancelled; nothing was spent.")
    return redirect(video)


@login_required
@require_POST
def video_edit(request: HttpRequest, pk: int) -> HttpResponse:
    video = _editable(request, pk)
    form = _edit_form(video, request.POST)
    if form.is_valid():
        video = services.video_update(
            video=video,
            actor=request.user,
            title=form.cleaned_data["title"],
            visibility=form.cleaned_data["visibility"],
        )
        form = _edit_form(video)
        saved = True
    else:
        saved = False
    context = {"video": video, "edit_form": form, "can_edit": True, "saved": saved}
    if getattr(request, "htmx", None):
        return render(request, "videos/detail.html#owner", context)
    if not saved:
        # Without htmx too, the page says what was refused and keeps what was typed.
        context = _detail_context(request, video, edit_form=form)
        return render(request, "videos/detail.html", context)
    return redirect(video)


@login_required
@require_http_methods(["GET", "POST"])
def video_delete(request: HttpRequest, pk: int) -> HttpResponse:
    video = _editable(request, pk)
    if request.method == "POST":
        try:
            services.video_delete(video=video, actor=request.user)
        except services.NotAllowed as exc:
            messages.error(request, str(exc))
            return redirect(video)
        messages.success(
            request,
            "Deleted here. The provider has no delete, so its own copy stays until it "
            "expires (usually within a day).",
        )
        return redirect("videos:list")
    return render(request, "videos/delete.html", {"video": video})


@login_required
@require_GET
def video_progress(request: HttpRequest) -> HttpResponse:
    """One request per turn for every card a page watches (in flight, or with a
    notice the clock will change).

    Answers only the cards that changed since the page last asked (out-of-band
    swaps), and stops the polling (286) once nothing is left to watch.
    """
    asked = request.GET.get("view")
    view = asked if asked in ("detail", "family") else "list"
    ids = [
        int(i)
        for i in request.GET.getlist("id")[:MAX_POLLED]
        if i.isascii() and i.isdigit() and len(i) < 19
    ]
    since = _since(request.GET.get("since", ""))
    now = timezone.now()
    visible = Video.objects.visible_to(request.user)
    videos = list(visible.filter(pk__in=ids).select_related("owner"))
    # A card changed when its row did, or when the clock moved its notice on (its
    # provider copy expired: the countdown ends and the remix and extend forms go).
    changed = video_cards(
        [v for v in videos if v.updated_at > since or notice_changed(v, since=since, now=now)],
        now=now,
    )
    shown = request.GET.get("derive", "")
    derive = shown if DERIVE_STATE.fullmatch(shown) else ""
    context: dict[str, Any] = {"changed": changed}
    if view == "detail" and changed:
        # A job that just finished can now be remixed and extended (and one whose copy
        # expired no longer can): redraw those sections whose word changed, only.
        sections = _derive_sections(changed[0].video)
        derive, before = _derive_state(sections), derive.split(".")
        context["derive"] = [
            section
            for section, now_says, said in zip(
                sections.values(), derive.split("."), before + [""] * 2, strict=False
            )
            if now_says != said
        ]
    poller = context["poller"] = _poller(videos, view, now=now, derive=derive)
    template = f"videos/{'detail' if view == 'detail' else 'list'}.html#progress"
    if view == "list" and changed:
        # Costs move as jobs finish: the month's line follows (and the header's balance),
        # and so does what needs attention.
        context["budget"] = points().month(request.user)
        context["attention"] = needs_attention(request.user, now=now)
    if poller["every_ms"] is None:
        return HttpResponseStopPolling(render(request, template, context).content)
    return render(request, template, context)


def _since(raw: str) -> datetime:
    """The time the page last asked (seconds since the epoch, as `_poller` wrote it).
    Anything else (junk, NaN, a time before 1970 or past tomorrow) asks for every
    card: redrawing them all is harmless, a wrong time would hide changes."""
    try:
        seconds = float(raw)
    except ValueError:
        seconds = 0.0
    if not 0 <= seconds <= timezone.now().timestamp() + 86_400:  # False for NaN too
        seconds = 0.0
    return datetime.fromtimestamp(seconds, tz=UTC)


def _poller(
    videos: Any, view: str, *, now: datetime | None = None, derive: str = ""
) -> dict[str, Any]:
    """What the page's single poller asks about next time, and when (and, on a video's
    page, what its remix and extend sections say: `_derive_state`)."""
    now = now or timezone.now()
    watched = watch(videos, now=now)
    # Look back a second: a change committed while this request ran is sent
    # twice rather than never.
    since = now.timestamp() - 1.0
    every = None if watched.seconds is None else round(watched.seconds * 1000)
    return {
        "ids": watched.ids,
        "every_ms": every,
        "since": f"{since:.3f}",
        "view": view,
        "derive": derive,
    }


@login_required
@require_http_methods(["GET", "HEAD"])
def video_media(request: HttpRequest, pk: int, variant: str) -> HttpResponseBase:
    if variant not in MEDIA:
        raise Http404("No such file")
    field_name, content_type, ext = MEDIA[variant]
    video = get_object_or_404(Video.objects.visible_to(request.user), pk=pk)
    fieldfile = getattr(video, field_name)
    if not fieldfile:
        raise Http404("This file is not archived.")
    download = f"video-{video.pk}-{variant}.{ext}" if request.GET.get("download") else None
    # Only now, with the user checked: nginx (x-accel) or a signed URL may take over.
    handoff = handoff_response(fieldfile, content_type=content_type, download_name=download)
    if handoff is not None:
        return handoff
    try:
        return ranged_file_response(
            request, fieldfile, content_type=content_type, download_name=download
        )
    except FileNotFoundError:
        raise Http404("This file is missing from storage.") from None
