"""Named leases in the database: one holder at a time across every process and host.

A lease is claimed with one conditional UPDATE, so it holds on SQLite as well as on
PostgreSQL (select_for_update does nothing on SQLite). A holder that dies simply
lets its lease run out.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from videostudio.videos.models import Lease


def lease_acquire(name: str, token: uuid.UUID, ttl: timedelta) -> bool:
    """Take (or renew) a named lease with one conditional UPDATE."""
    now = timezone.now()
    if not Lease.objects.filter(name=name).exists():
        with contextlib.suppress(IntegrityError), transaction.atomic():
            Lease.objects.create(name=name)  # unless another process created it first
    free = Q(until__isnull=True) | Q(until__lt=now) | Q(token=token)
    return Lease.objects.filter(free, name=name).update(token=token, until=now + ttl) == 1


def lease_renew(name: str, token: uuid.UUID, ttl: timedelta) -> bool:
    """Extend a lease this holder still has: one conditional UPDATE (False: it lost it)."""
    until = timezone.now() + ttl
    return Lease.objects.filter(name=name, token=token).update(until=until) == 1


def lease_take_over(
    name: str,
    token: uuid.UUID,
    ttl: timedelta,
    *,
    poll: float = 0.25,
    sleep: Callable[[float], None] = time.sleep,
) -> bool:
    """Take the lease, or wait out a holder that stopped renewing it (it died) and take
    it then. Gives up at once when the holder renews it (it is alive) or holds it for
    longer than `ttl` from now (not a short, renewed lease: nothing to wait out)."""
    seen: object = None
    while not lease_acquire(name, token, ttl):
        until = Lease.objects.filter(name=name).values_list("until", flat=True).first()
        if until is not None and until - timezone.now() > ttl:
            return False
        if seen is not None and until is not None and until != seen:
            return False  # renewed meanwhile: its holder is at work
        seen = until
        sleep(poll)
    return True


def lease_release(name: str, token: uuid.UUID) -> None:
    Lease.objects.filter(name=name, token=token).update(token=None, until=None)


@contextlib.contextmanager
def lease_held(
    name: str, ttl: timedelta, *, wait: float = 0.0, poll: float = 0.2
) -> Iterator[bool]:
    """Hold the named lease for the block, waiting up to `wait` seconds for it; the
    block learns whether it got it (False: another holder is at work)."""
    token = uuid.uuid4()
    deadline = time.monotonic() + wait
    while not (held := lease_acquire(name, token, ttl)) and time.monotonic() < deadline:
        time.sleep(poll)
    try:
        yield held
    finally:
        if held:
            lease_release(name, token)
