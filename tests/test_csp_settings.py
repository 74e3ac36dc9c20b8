"""The Content-Security-Policy's settings: report-only mode, a report URI, and the
origins media may come from (the bucket's, with signed delivery, held against the
URLs boto3 really signs)."""

from __future__ import annotations

import runpy
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.core.exceptions import ImproperlyConfigured
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from storages.backends.s3 import S3Storage

from videostudio.csp import storage_origins

ROOT = Path(__file__).resolve().parent.parent


SETTINGS_ENV = [
    "VIDEOSTUDIO_CSP_REPORT_ONLY",
    "VIDEOSTUDIO_CSP_REPORT_URI",
    "VIDEOSTUDIO_CSP_MEDIA_ORIGINS",
    "VIDEOSTUDIO_MEDIA_DELIVERY",
    "VIDEOSTUDIO_S3_BUCKET",
    "VIDEOSTUDIO_S3_ENDPOINT_URL",
    "VIDEOSTUDIO_S3_REGION",
]


def load_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, **env: str) -> dict[str, Any]:
    """settings.py run afresh under `env` (without touching the live settings)."""
    monkeypatch.setenv("VIDEOSTUDIO_DATA_DIR", str(tmp_path))
    for name in SETTINGS_ENV:
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(ROOT / "videostudio" / "settings.py"))


def directives(loaded: dict[str, Any], key: str = "CONTENT_SECURITY_POLICY") -> dict[str, Any]:
    policy = loaded[key]
    assert policy is not None
    return dict(policy["DIRECTIVES"])


def test_report_only_sends_the_same_policy_without_enforcing_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    enforced = directives(load_settings(monkeypatch, tmp_path))
    loaded = load_settings(
        monkeypatch,
        tmp_path,
        VIDEOSTUDIO_CSP_REPORT_ONLY="1",
        VIDEOSTUDIO_CSP_REPORT_URI="https://reports.example/csp",
    )
    assert loaded["CONTENT_SECURITY_POLICY"] is None
    report_only = directives(loaded, "CONTENT_SECURITY_POLICY_REPORT_ONLY")
    assert report_only.pop("report-uri") == ["https://reports.example/csp"]
    assert report_only == enforced
    with pytest.raises(ImproperlyConfigured):
        load_settings(monkeypatch, tmp_path, VIDEOSTUDIO_CSP_REPORT_ONLY="maybe")
    path = load_settings(monkeypatch, tmp_path, VIDEOSTUDIO_CSP_REPORT_URI="/csp-reports/")
    assert directives(path)["report-uri"] == ["/csp-reports/"]
    # One URL, not a way to add directives to the policy.
    for junk in ("https://r.example/; script-src *", "r.example/csp", "javascript:x"):
        with pytest.raises(ImproperlyConfigured, match="VIDEOSTUDIO_CSP_REPORT_URI"):
            load_settings(monkeypatch, tmp_path, VIDEOSTUDIO_CSP_REPORT_URI=junk)


def test_signed_delivery_lets_media_come_from_the_bucket_and_nothing_else_does(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    loaded = directives(
        load_settings(
            monkeypatch,
            tmp_path,
            VIDEOSTUDIO_S3_BUCKET="studio-media",
            VIDEOSTUDIO_S3_ENDPOINT_URL="http://minio.internal:9000/",
            VIDEOSTUDIO_MEDIA_DELIVERY="signed",
        )
    )
    assert loaded["media-src"] == ["'self'", "http://minio.internal:9000"]
    assert loaded["img-src"] == ["'self'", "http://minio.internal:9000"]
    assert loaded["script-src"] == directives(load_settings(monkeypatch, tmp_path))["script-src"]
    # Django delivery streams from this site, whatever storage holds the files.
    streamed = directives(load_settings(monkeypatch, tmp_path, VIDEOSTUDIO_MEDIA_DELIVERY="django"))
    assert streamed["media-src"] == ["'self'"]


def test_extra_media_origins_are_checked_and_added(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    loaded = directives(
        load_settings(
            monkeypatch,
            tmp_path,
            VIDEOSTUDIO_CSP_MEDIA_ORIGINS="https://cdn.example.com/videos/, https://b.example",
        )
    )
    assert loaded["media-src"] == ["'self'", "https://cdn.example.com", "https://b.example"]
    with pytest.raises(ImproperlyConfigured, match="VIDEOSTUDIO_CSP_MEDIA_ORIGINS"):
        load_settings(monkeypatch, tmp_path, VIDEOSTUDIO_CSP_MEDIA_ORIGINS="'unsafe-inline'")


def signed_url(**options: Any) -> str:
    storage = S3Storage(
        access_key="AKIAEXAMPLE",
        secret_key="not-a-secret",
        querystring_auth=True,
        signature_version="s3v4",
        **options,
    )
    return str(storage.url("videos/1/video.mp4"))


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


@pytest.mark.parametrize(
    ("bucket", "endpoint_url", "region"),
    [
        ("studio-media", "", ""),
        ("studio-media", "", "eu-west-1"),
        ("studio-media", "", "us-gov-west-1"),
        ("studio-media", "", "cn-north-1"),
        ("my.dotted.bucket", "", ""),
        ("my.dotted.bucket", "", "eu-west-1"),
        ("studio-media", "http://minio:9000", ""),
        ("studio-media", "https://s3.example.com/base/", "eu-west-1"),
    ],
)
def test_the_policy_allows_the_origin_of_real_signed_urls(
    bucket: str, endpoint_url: str, region: str
) -> None:
    url = signed_url(
        bucket_name=bucket, endpoint_url=endpoint_url or None, region_name=region or None
    )
    assert "X-Amz-Signature" in url
    assert origin(url) in storage_origins(bucket=bucket, endpoint_url=endpoint_url, region=region)


REGIONS = ["", "us-east-1", "eu-west-1", "ap-south-1", "cn-north-1", "us-gov-west-1", "sa-east-1"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    bucket=st.from_regex(r"[a-z0-9][a-z0-9.-]{1,30}[a-z0-9]", fullmatch=True),
    region=st.sampled_from(REGIONS),
)
def test_any_bucket_name_and_region_signs_urls_the_policy_allows(bucket: str, region: str) -> None:
    url = signed_url(bucket_name=bucket, region_name=region or None)
    assert origin(url) in storage_origins(bucket=bucket, region=region)
