"""Who is told what, and how: events, each member's notifications, and their deliveries.

An `Event` is one happening (`videos.events.Happening`), recorded once under its
key. Each member it concerns gets one `Notification` (the bell and the
notifications page); each email and each webhook it goes out by is one `Delivery`,
sent by the worker at its own pace. Unique constraints make "once" hold under
any interleaving: a second record of the same event, notification or delivery is
refused by the database, not by a check that may race.
"""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from django.db import models
from django.db.models import Q


class Event(models.Model):
    kind = models.CharField(max_length=40, db_index=True)
    key = models.CharField(max_length=200, unique=True)
    video = models.ForeignKey(
        "videos.Video", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Whose event it is (None: the team's, told to staff).
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    # Who did it, when that was somebody else (a teammate's remix).
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.kind} ({self.key})"


class Notification(models.Model):
    """One event, for one member: what the bell counts until it is read."""

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="notifications")
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["event", "recipient"], name="one_notification_each")
        ]
        indexes = [
            # The bell: a member's unread count.
            models.Index(fields=["recipient", "read_at"], name="notification_unread"),
        ]

    def __str__(self) -> str:
        return f"{self.event.kind} for {self.recipient_id}"


class EmailChoice(models.TextChoices):
    OFF = "off", "Off"
    NOW = "now", "Immediately"
    DIGEST = "digest", "Daily digest"


class EmailPreference(models.Model):
    """A member's choice for one kind of event; absent: the kind's default."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="email_preferences"
    )
    kind = models.CharField(max_length=40)
    choice = models.CharField(max_length=10, choices=EmailChoice.choices)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "kind"], name="one_email_choice_each")
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.kind}: {self.choice}"


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


class Webhook(models.Model):
    """Where events go by HTTP: a member's own (their events), or the team's (staff set
    it up: every member's events, without private prompts)."""

    class Format(models.TextChoices):
        JSON = "json", "JSON"
        SLACK = "slack", "Slack-compatible"

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="webhooks",
        help_text="Empty: a team-wide webhook (staff only).",
    )
    name = models.CharField(max_length=100)
    url = models.URLField(max_length=500)
    format = models.CharField(max_length=10, choices=Format.choices, default=Format.JSON)
    secret = models.CharField(max_length=100, default=new_secret)
    # The kinds of event it wants; empty: every kind it may receive.
    kinds = models.JSONField(default=list, blank=True)
    active = models.BooleanField(default=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=300, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name

    @property
    def team_wide(self) -> bool:
        return self.owner_id is None

    @property
    def shown_url(self) -> str:
        """The address as pages show it: a password in it (`user:pw@host`) hidden."""
        parts = urlsplit(self.url)
        if parts.password is None:
            return self.url
        host = parts.hostname or ""
        if ":" in host:
            host = f"[{host}]"
        where = f"{parts.username}:•••@{host}" + (f":{parts.port}" if parts.port else "")
        return urlunsplit(parts._replace(netloc=where))

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or ""

    def wants(self, kind: str) -> bool:
        return not self.kinds or kind in self.kinds


class Delivery(models.Model):
    """One event going out by one email (to one member) or one webhook."""

    class Channel(models.TextChoices):
        EMAIL = "email", "Email"
        WEBHOOK = "webhook", "Webhook"

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting to be sent"
        SENT = "sent", "Sent"
        FAILED = "failed", "Gave up"
        SKIPPED = "skipped", "Not sent"

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="deliveries")
    channel = models.CharField(max_length=10, choices=Channel.choices)
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    webhook = models.ForeignKey(
        Webhook, null=True, blank=True, on_delete=models.CASCADE, related_name="deliveries"
    )
    digest = models.BooleanField(default=False)  # an email that waits for the daily digest
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True, db_index=True)
    lease_token = models.UUIDField(null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "deliveries"
        constraints = [
            models.UniqueConstraint(
                fields=["event", "recipient"],
                condition=Q(channel="email"),
                name="one_email_each",
            ),
            models.UniqueConstraint(
                fields=["event", "webhook"],
                condition=Q(channel="webhook"),
                name="one_webhook_call_each",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.channel} of {self.event_id}: {self.status}"


class DeliveryAttempt(models.Model):
    """One try at a delivery: the webhook's delivery log."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="tries")
    at = models.DateTimeField(auto_now_add=True, db_index=True)
    ok = models.BooleanField(default=False)
    status_code = models.PositiveIntegerField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.delivery_id} at {self.at:%H:%M:%S}: {self.status_code or self.error}"
