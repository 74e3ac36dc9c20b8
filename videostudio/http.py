"""Small helpers for views that every app shares."""

from __future__ import annotations

from django.http import HttpRequest
from django.utils.http import url_has_allowed_host_and_scheme


def safe_next(request: HttpRequest, default: str) -> str:
    """Where a form asked to go back to (`next`) if it is a path on this site, else
    `default`.

    Only a local path is taken: no scheme, no other host, no control characters, and
    not a bare word either (`redirect()` would take it for a view name and fail).
    """
    target = request.POST.get("next", "")
    if (
        target.startswith("/")
        and target.isprintable()
        and url_has_allowed_host_and_scheme(target, allowed_hosts=None)
    ):
        return target
    return default
