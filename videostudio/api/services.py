"""Making, revoking and checking personal access tokens: the only code that writes them."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from videostudio.api.models import ApiToken

# Every token starts with this, so a leaked one is recognisable (secret scanners,
# logs) and a typo'd header is refused before any lookup.
TOKEN_PREFIX = "vs_"
# Characters of a token kept in the clear to tell tokens apart on the pages.
SHOWN_CHARS = 12
# Longer than any token this makes: refused without hashing it.
MAX_TOKEN_CHARS = 200
# last_used_at is written at most this often per token: not a write per request.
LAST_USED_EVERY = timedelta(minutes=1)


class NotAllowed(Exception):
    """Only the token's owner, or staff, may revoke it."""


def token_digest(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


class TooMany(Exception):
    """A member has as many working tokens as they may."""


def token_create(
    *, user: Any, name: str, expires_at: datetime | None = None
) -> tuple[ApiToken, str]:
    """A new token for `user`: the row, and the token itself, which is never kept (the
    caller shows it once). Raises TooMany past VIDEOSTUDIO_API_TOKENS_PER_MEMBER working
    tokens: each has its own request budget, so their number bounds a member's rate."""
    most = settings.VIDEOSTUDIO_API_TOKENS_PER_MEMBER
    working = ApiToken.objects.filter(user_id=user.pk, revoked_at__isnull=True).exclude(
        expires_at__lte=timezone.now()
    )
    if working.count() >= most:
        raise TooMany(
            f"You have {most} working tokens, the most a member may have: revoke one you "
            "no longer use first."
        )
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user,
        name=name,
        prefix=raw[:SHOWN_CHARS],
        digest=token_digest(raw),
        expires_at=expires_at,
    )
    return token, raw


def token_revoke(*, token: ApiToken, actor: Any) -> bool:
    """Stop the token working, at once: True if this revoked it, False if it was
    revoked already (the first revocation, and who made it, stay)."""
    if not (actor.is_staff or token.user_id == actor.pk):
        raise NotAllowed("Only its owner, or staff, may revoke a token.")
    now = timezone.now()
    revoked = ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
        revoked_at=now, revoked_by=actor
    )
    token.refresh_from_db(fields=["revoked_at", "revoked_by"])
    return bool(revoked)


def token_authenticate(raw: str, *, now: datetime | None = None) -> ApiToken | None:
    """The token `raw` names, if it may be used now: not revoked, not expired, its
    member's account active. None otherwise, whatever the reason (callers say no more).

    Looked up by its digest: what an attacker controls is compared only as a hash, so
    timing tells nothing of a real token.
    """
    if not raw or len(raw) > MAX_TOKEN_CHARS or not raw.isascii():
        return None
    if not raw.startswith(TOKEN_PREFIX):
        return None
    digest = token_digest(raw)
    token = ApiToken.objects.select_related("user").filter(digest=digest).first()
    if token is None or not hmac.compare_digest(token.digest, digest):
        return None
    now = now or timezone.now()
    if token.status_at(now) != ApiToken.Status.ACTIVE or not token.user.is_active:
        return None
    _note_use(token, now)
    return token


def _note_use(token: ApiToken, now: datetime) -> None:
    """Stamp last_used_at, unless it was stamped within the last minute (by any process:
    the UPDATE's condition decides, so two requests at once write once)."""
    if token.last_used_at is not None and now - token.last_used_at < LAST_USED_EVERY:
        return
    stale = Q(last_used_at__isnull=True) | Q(last_used_at__lte=now - LAST_USED_EVERY)
    if ApiToken.objects.filter(stale, pk=token.pk).update(last_used_at=now):
        token.last_used_at = now
