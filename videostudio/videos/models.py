from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone


def video_dir(video: Video) -> str:
    """Where a video's files live in storage: one folder per video."""
    # created_at is not set yet while a new row's reference image is being saved.
    when = video.created_at or timezone.now()
    return f"videos/{when:%Y/%m}/{video.uid}"


def reference_upload_to(instance: Video, filename: str) -> str:
    ext = filename.rsplit(".", 1)[-1].lower() if "." in filename else "bin"
    return f"{video_dir(instance)}/reference.{ext}"


class VideoQuerySet(models.QuerySet["Video"]):
    def visible_to(self, user: Any) -> VideoQuerySet:
        """What `user` may see. Every page and media URL goes through here, so the
        rules for private videos live in one place. Private means the owner only:
        staff and superusers included (they see its cost in the usage review, never
        its prompt, page or files)."""
        if not getattr(user, "is_authenticated", False):
            return self.none()
        return self.filter(deleted_at__isnull=True).filter(self.visible_q(user))

    @staticmethod
    def visible_q(user: Any) -> Q:
        return Q(visibility=Video.Visibility.TEAM) | Q(owner_id=user.pk)

    def shared(self) -> VideoQuerySet:
        """Finished, archived and shared with the team: what the gallery shows."""
        return self.filter(
            deleted_at__isnull=True,
            visibility=Video.Visibility.TEAM,
            status=Video.Status.COMPLETED,
            archived_at__isnull=False,
        )


def default_visibility() -> str:
    return str(settings.VIDEOSTUDIO_DEFAULT_VISIBILITY)


class Video(models.Model):
    """One generation job and, once it finishes, its archived files.

    The row is the source of truth: `next_poll_at` says when the tracker should
    look at it again (None: nothing left to do), `lease_*` says who is looking.
    """

    class Status(models.TextChoices):
        # Recorded and queued: the tracker sends it under the team's request budget,
        # fairly across members.
        WAITING = "waiting", "Waiting to send"
        SUBMITTING = "submitting", "Sending"
        # Sent, but the provider never confirmed it: being settled from the usage history.
        UNCONFIRMED = "unconfirmed", "Unconfirmed"
        # The usage history could not tell whether an unconfirmed send was made: an
        # admin decides (see the usage review); nothing is booked to the member.
        UNSETTLED = "unsettled", "Unsettled"
        QUEUED = "queued", "Queued"
        IN_PROGRESS = "in_progress", "Generating"
        COMPLETED = "completed", "Completed"
        FAILED = "failed", "Failed"
        UNKNOWN = "unknown", "Unknown"

    class Visibility(models.TextChoices):
        TEAM = "team", "Shared with the team"
        PRIVATE = "private", "Private to its owner"

    class Kind(models.TextChoices):
        ORIGINAL = "original", "Original"
        REMIX = "remix", "Remix"
        EXTENSION = "extension", "Extension"

    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="videos"
    )
    provider_id = models.CharField(max_length=500, null=True, blank=True, unique=True)
    # Set by the form: a resubmitted form (double click, reload) finds its job
    # instead of paying for a second one.
    client_token = models.UUIDField(null=True, blank=True, editable=False)
    # Made through the studio's API: the name of the member's token it came with
    # ("" for the web form).
    api_token_name = models.CharField(max_length=100, blank=True, default="")

    model = models.CharField(max_length=100)
    prompt = models.TextField()
    seconds = models.PositiveIntegerField()
    size = models.CharField(max_length=20)
    reference_image = models.FileField(upload_to=reference_upload_to, blank=True)

    # Lineage: remixes and extensions point at their parent and their root.
    title = models.CharField(max_length=200, blank=True)
    visibility = models.CharField(
        max_length=8, choices=Visibility.choices, default=default_visibility
    )
    deleted_at = models.DateTimeField(null=True, blank=True)

    kind = models.CharField(max_length=12, choices=Kind.choices, default=Kind.ORIGINAL)
    # Generations from the root (0 for an original).
    depth = models.PositiveSmallIntegerField(default=0)
    # Kept up to date as remixes are made: the gallery sorts by it.
    remix_count = models.PositiveIntegerField(default=0)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="children"
    )
    root = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="descendants"
    )

    status = models.CharField(max_length=12, choices=Status.choices, default=Status.SUBMITTING)
    provider_status = models.CharField(max_length=40, blank=True)
    progress = models.PositiveSmallIntegerField(default=0)
    error_code = models.CharField(max_length=100, blank=True)
    error_message = models.TextField(blank=True)
    usage = models.JSONField(null=True, blank=True)

    class Cost(models.TextChoices):
        """Where a job's cost came from, in order of truth."""

        REPORTED = "reported", "Reported by the provider"  # the job's own `usage`
        LEDGER = "ledger", "From the points history"  # a charge attributed beyond doubt
        ESTIMATED = "estimated", "Estimated"  # the catalog's price: never a bill
        NONE = "none", "Not charged"  # refused, failed, or never made

    # Seconds the provider charges for: an extension pays for its new part only.
    billed_seconds = models.PositiveIntegerField(default=0)
    cost_points = models.PositiveIntegerField(null=True, blank=True)
    cost_source = models.CharField(max_length=10, choices=Cost.choices, blank=True)
    # Held against the owner's budget from sending until the cost is known.
    reserved_points = models.PositiveIntegerField(default=0)
    # When the cost counts in totals: its charge's time once one is attributed (so
    # jobs and the ledger fall in the same period), else when the job was made.
    cost_at = models.DateTimeField(default=timezone.now, db_index=True)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)

    video_file = models.FileField(max_length=300, blank=True)
    thumbnail_file = models.FileField(max_length=300, blank=True)
    spritesheet_file = models.FileField(max_length=300, blank=True)
    # The spritesheet's grid, read when it is archived, for the hover preview
    # (`videos.sprites`): no grid, no preview. `sprite_frames`: the tiles that hold a
    # frame (trailing ones may be blank); `sprite_source`: who said the grid.
    sprite_columns = models.PositiveSmallIntegerField(null=True, blank=True)
    sprite_rows = models.PositiveSmallIntegerField(null=True, blank=True)
    sprite_frames = models.PositiveSmallIntegerField(null=True, blank=True)
    sprite_source = models.CharField(
        max_length=10,
        blank=True,
        choices=[
            ("provider", "said by the provider"),
            ("catalog", "pinned in the catalog"),
            ("seams", "read from the sheet"),
        ],
    )
    archived_at = models.DateTimeField(null=True, blank=True)
    archive_attempts = models.PositiveSmallIntegerField(default=0)
    archive_error = models.TextField(blank=True)

    # What the tracker has learned of the job's pace, to look again when it is likely
    # done: the first and the latest progress it read, and the estimate they give.
    first_progress = models.PositiveSmallIntegerField(null=True, blank=True)
    first_progress_at = models.DateTimeField(null=True, blank=True)
    progress_at = models.DateTimeField(null=True, blank=True)
    estimated_finish_at = models.DateTimeField(null=True, blank=True)
    # When the tracker saw it finished (completed or failed): against the provider's
    # `completed_at`, how late it noticed.
    detected_at = models.DateTimeField(null=True, blank=True)

    # WAITING: when it may be sent; otherwise when to look at the provider again;
    # None when nothing is left to do.
    next_poll_at = models.DateTimeField(null=True, blank=True)
    poll_failures = models.PositiveSmallIntegerField(default=0)
    lease_token = models.UUIDField(null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)

    objects = VideoQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["owner", "client_token"], name="video_unique_client_token"
            ),
        ]
        indexes = [
            # Gallery orders, each paged by keyset (value, id).
            models.Index(fields=["-created_at", "-id"], name="video_recent_idx"),
            models.Index(fields=["-seconds", "-id"], name="video_longest_idx"),
            models.Index(fields=["-remix_count", "-id"], name="video_remixed_idx"),
            models.Index(fields=["next_poll_at"], name="video_due_idx"),
            models.Index(fields=["owner", "-created_at"], name="video_owner_recent_idx"),
            models.Index(fields=["status", "next_poll_at"], name="video_status_due_idx"),
            # Unsaved videos by their provider copy's deadline (/health/: archives at
            # risk); partial, so it holds only the few not archived yet.
            models.Index(
                fields=["expires_at"],
                condition=Q(archived_at__isnull=True),
                name="video_unsaved_expiry_idx",
            ),
        ]

    def __str__(self) -> str:
        # No prompt or title: this shows wherever a video is named (admin lists, logs,
        # deletion pages), to people who may not see a private video's content.
        return f"Video #{self.pk} ({self.model})"

    def get_absolute_url(self) -> str:
        return reverse("videos:detail", args=[self.pk])

    @property
    def display_title(self) -> str:
        return self.title or self.prompt

    def is_hidden_from(self, user: Any) -> bool:
        """Private and not `user`'s own: its content is not theirs to see."""
        return self.visibility == Video.Visibility.PRIVATE and self.owner_id != user.pk

    def can_edit(self, user: Any) -> bool:
        """Visibility, title and deletion are the owner's (and, on videos they can
        see, staff's) to change."""
        if not user.is_authenticated:
            return False
        return user.pk == self.owner_id or (user.is_staff and not self.is_hidden_from(user))

    @property
    def in_flight(self) -> bool:
        """Still changing: the page keeps polling while any card is in flight."""
        return self.next_poll_at is not None

    @property
    def ready_in(self) -> str:
        """About how long until it is done ("40 s", "3 min"), or "" when unknown or due."""
        if self.estimated_finish_at is None or self.status not in (
            self.Status.QUEUED,
            self.Status.IN_PROGRESS,
        ):
            return ""
        seconds = (self.estimated_finish_at - timezone.now()).total_seconds()
        if seconds < 5:
            return ""
        if seconds < 90:
            return f"{int(seconds // 5 * 5)} s"
        return f"{round(seconds / 60)} min"

    @property
    def frame_size(self) -> tuple[int, int] | None:
        """(width, height) from `size` ("720x1280"), or None when it says nothing."""
        width, _, height = self.size.lower().partition("x")
        try:
            w, h = int(width), int(height)
        except ValueError:
            return None
        return (w, h) if w > 0 and h > 0 else None

    @property
    def has_preview(self) -> bool:
        """A spritesheet with a grid of two frames or more: the card can scrub it."""
        return bool(
            self.spritesheet_file
            and self.sprite_columns
            and self.sprite_rows
            and (self.sprite_frames or 0) >= 2
        )

    @property
    def is_archived(self) -> bool:
        return self.archived_at is not None and bool(self.video_file)

    @property
    def display_status(self) -> str:
        if self.status == self.Status.COMPLETED and not self.is_archived:
            return "Saving" if self.in_flight else "Not saved"
        if self.error_code == "charged_untracked":
            return "Made, not followed"  # charged, but the provider never gave its id
        if self.status == self.Status.UNKNOWN and self.provider_status:
            return self.provider_status.replace("_", " ").capitalize()
        return str(self.get_status_display())

    @property
    def phase(self) -> str:
        """Where the job is, for the page's announcements: "working" while in flight,
        then "ready" (saved here, plays), "failed" (not made, or not saved) or
        "stopped" (anything else, e.g. a send nobody confirmed)."""
        if self.in_flight:
            return "working"
        if self.is_archived:
            return "ready"
        if self.status in (self.Status.FAILED, self.Status.COMPLETED):
            return "failed"
        return "stopped"

    @property
    def status_class(self) -> str:
        if self.status == self.Status.COMPLETED and not self.is_archived:
            return "saving" if self.in_flight else "failed"
        return str(self.status)


class Duration(models.Model):
    """How long the provider takes for one kind of job, learned from finished ones:
    the tracker looks again when a new job of that kind is likely done."""

    model = models.CharField(max_length=100)
    seconds = models.PositiveIntegerField()
    size = models.CharField(max_length=20)
    samples = models.PositiveIntegerField(default=0)
    # A moving average (seconds from send to completion), and of its spread.
    mean = models.FloatField(default=0.0)
    deviation = models.FloatField(default=0.0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["model", "seconds", "size"], name="duration_kind"),
        ]

    def __str__(self) -> str:
        return f"{self.model} {self.seconds}s {self.size}: {self.mean:.0f} s"


class Lease(models.Model):
    """A named lease, claimed with a conditional UPDATE (works on SQLite too)."""

    name = models.CharField(max_length=50, primary_key=True)
    token = models.UUIDField(null=True, blank=True)
    until = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.name


class Heartbeat(models.Model):
    """When a named process last said it was alive (the tracker, once per pass)."""

    name = models.CharField(max_length=50, primary_key=True)
    at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} at {self.at:%Y-%m-%d %H:%M:%S}"
