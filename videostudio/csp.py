"""Where browsers fetch media from, for the Content-Security-Policy.

With `VIDEOSTUDIO_MEDIA_DELIVERY=signed` the media view answers with a redirect to a
signed storage URL, and a browser checks the policy again for the redirect's target:
the bucket's origin must be in media-src (videos) and img-src (posters, sprites).
These are the origins boto3 signs URLs for, as django-storages is set up in
settings.py (path-style for an explicit endpoint, virtual-hosted on AWS when the
bucket's name allows it); tests/test_csp.py holds this against real signed URLs.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

# A bucket name that can be a DNS label of its own (no dots: TLS wildcards cover one level).
_VIRTUAL_HOSTABLE = re.compile(r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")


def _origin(url: str, *, name: str) -> str:
    parts = urlsplit(url.strip())
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise ImproperlyConfigured(f"{name}={url!r} is not an http(s) URL")
    return f"{parts.scheme}://{parts.netloc}"


def storage_origins(*, bucket: str, endpoint_url: str = "", region: str = "") -> list[str]:
    """The origins a signed URL of `bucket` can point a browser to (and AWS's own
    redirect to the bucket's region)."""
    if endpoint_url:
        return [_origin(endpoint_url, name="VIDEOSTUDIO_S3_ENDPOINT_URL")]
    suffix = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    # The bucket's own host name when it can have one, else S3's (path-style URLs).
    host = f"{bucket}.s3" if _VIRTUAL_HOSTABLE.match(bucket) else "s3"
    origins = [f"https://{host}.amazonaws.com"] if suffix == "amazonaws.com" else []
    if region:
        origins.append(f"https://{host}.{region}.{suffix}")
    return origins


def report_uri(value: str, *, name: str) -> str:
    """Where browsers send violation reports: a URL or a path of this site, one word
    (a space or ';' would add directives to the policy)."""
    value = value.strip()
    if value and (
        re.search(r"[\s;,'\"]", value)
        or not (value.startswith("/") or urlsplit(value).scheme in {"http", "https"})
    ):
        raise ImproperlyConfigured(f"{name}={value!r} is not a URL or a path")
    return value


def extra_origins(values: list[str], *, name: str) -> list[str]:
    """Origins an admin adds by hand (a CDN in front of the bucket, say)."""
    return [_origin(value, name=name) for value in values if value.strip()]
