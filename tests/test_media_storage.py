"""Media on S3-compatible storage (moto), and the settings that choose how media is served."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
import requests
from django.core.files.base import File
from django.core.files.storage import FileSystemStorage, default_storage
from django.test import Client
from django.utils import timezone
from moto import mock_aws

from videostudio.videos.models import Video

from .media_kit import BODY, ROOT, SIZE, archived_video, body_of, media_url

pytestmark = pytest.mark.django_db


@pytest.fixture
def browser(client: Client, owner: Any) -> Client:
    client.force_login(owner)
    return client


# --- S3-compatible storage (moto) ----------------------------------------------------------


def _settings_process(
    extra_env: dict[str, str], expression: str
) -> subprocess.CompletedProcess[str]:
    code = f"import django; django.setup(); from django.conf import settings; print({expression})"
    clean = {
        k: v for k, v in os.environ.items() if not k.startswith(("VIDEOSTUDIO", "POE", "AWS_"))
    }
    clean.update(extra_env, DJANGO_SETTINGS_MODULE="videostudio.settings")
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=clean, capture_output=True, text=True
    )


S3_ENV = {
    "VIDEOSTUDIO_S3_BUCKET": "studio-media",
    "VIDEOSTUDIO_S3_REGION": "eu-west-1",
    "VIDEOSTUDIO_S3_PREFIX": "/team-a/",
    "VIDEOSTUDIO_SIGNED_URL_SECONDS": "300",
}


@pytest.fixture(scope="module")
def s3_storage_setting(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """STORAGES["default"] exactly as settings.py builds it from S3_ENV."""
    data_dir = tmp_path_factory.mktemp("s3-settings")
    result = _settings_process(
        {
            **S3_ENV,
            "VIDEOSTUDIO_DATA_DIR": str(data_dir),
            "AWS_SECRET_ACCESS_KEY": "never-in-settings",
        },
        "__import__('json').dumps(settings.STORAGES['default'])",
    )
    assert result.returncode == 0, result.stderr
    storage: dict[str, Any] = json.loads(result.stdout)
    return storage


@pytest.fixture
def s3(
    settings: Any, monkeypatch: pytest.MonkeyPatch, s3_storage_setting: dict[str, Any]
) -> Iterator[Any]:
    """An in-process S3 (moto) holding the bucket, as the default storage."""
    for variable in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(variable, "testing")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    with mock_aws():
        client = boto3.client("s3", region_name="eu-west-1")
        client.create_bucket(
            Bucket="studio-media",
            CreateBucketConfiguration={"LocationConstraint": "eu-west-1"},
        )
        settings.STORAGES = {**settings.STORAGES, "default": s3_storage_setting}
        assert not isinstance(default_storage, FileSystemStorage)
        yield client
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    }


def test_an_s3_bucket_switches_storage_to_s3_with_private_signed_urls(
    s3_storage_setting: dict[str, Any],
) -> None:
    assert s3_storage_setting["BACKEND"] == "storages.backends.s3.S3Storage"
    options = s3_storage_setting["OPTIONS"]
    assert options["bucket_name"] == "studio-media"
    assert options["region_name"] == "eu-west-1"
    assert options["location"] == "team-a"
    assert options["endpoint_url"] is None
    assert options["querystring_auth"] is True and options["querystring_expire"] == 300
    assert options["default_acl"] is None and options["file_overwrite"] is False
    # Credentials are left to boto3: they never pass through settings.
    assert not {"access_key", "secret_key", "security_token"} & set(options)
    assert "never-in-settings" not in json.dumps(s3_storage_setting)


def test_files_archived_to_s3_are_served_by_a_signed_redirect(
    browser: Client, owner: Any, settings: Any, s3: Any, tmp_path: Path
) -> None:
    settings.VIDEOSTUDIO_MEDIA_DELIVERY = "signed"
    video = Video.objects.create(
        owner=owner,
        model="Sora-2",
        prompt="waves",
        seconds=4,
        size="720x1280",
        status=Video.Status.COMPLETED,
        archived_at=timezone.now(),
    )
    # As the archiver does: a downloaded file put into the default storage.
    downloaded = tmp_path / "video.mp4"
    downloaded.write_bytes(BODY)
    with downloaded.open("rb") as fh:
        video.video_file = default_storage.save(f"videos/{video.pk}/video.mp4", File(fh))
    video.save()
    stored = s3.get_object(Bucket="studio-media", Key=f"team-a/videos/{video.pk}/video.mp4")
    assert stored["Body"].read() == BODY

    response = browser.get(media_url(video))
    assert response.status_code == 302
    assert response["Cache-Control"] == "private, no-store"
    location = urlsplit(response["Location"])
    query = parse_qs(location.query)
    assert "studio-media" in location.netloc + location.path
    assert location.path.endswith(f"/team-a/videos/{video.pk}/video.mp4")
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"] and query["X-Amz-Signature"]
    assert query["X-Amz-Expires"] == ["300"]
    assert query["response-content-type"] == ["video/mp4"]
    assert "response-content-disposition" not in query
    fetched = requests.get(response["Location"], timeout=10)
    assert fetched.status_code == 200 and fetched.content == BODY

    download = browser.get(media_url(video) + "?download=1")
    query = parse_qs(urlsplit(download["Location"]).query)
    assert query["response-content-disposition"] == [
        f'attachment; filename="video-{video.pk}-video.mp4"'
    ]
    fetched = requests.get(download["Location"], timeout=10)
    assert fetched.headers["Content-Disposition"] == (
        f'attachment; filename="video-{video.pk}-video.mp4"'
    )


def test_django_delivery_streams_ranges_from_s3_without_downloading_the_whole_file(
    browser: Client, owner: Any, s3: Any
) -> None:
    video = archived_video(owner)
    assert video.video_file.name
    with mock.patch("storages.backends.s3.S3File") as s3file:
        whole = browser.get(media_url(video))
        assert whole.status_code == 200 and whole["Content-Length"] == str(SIZE)
        assert body_of(whole) == BODY
        part = browser.get(media_url(video), HTTP_RANGE="bytes=100-199")
        assert part.status_code == 206 and part["Content-Range"] == f"bytes 100-199/{SIZE}"
        assert body_of(part) == BODY[100:200]
        assert browser.get(media_url(video), HTTP_IF_NONE_MATCH=whole["ETag"]).status_code == 304
    s3file.assert_not_called()  # every read was a ranged GET

    s3.delete_object(Bucket="studio-media", Key=f"team-a/{video.video_file.name}")
    assert browser.get(media_url(video)).status_code == 404


# --- The settings that choose ------------------------------------------------------------


def test_signed_delivery_refuses_to_start_on_local_storage(tmp_path: Path) -> None:
    result = _settings_process(
        {"VIDEOSTUDIO_DATA_DIR": str(tmp_path), "VIDEOSTUDIO_MEDIA_DELIVERY": "signed"},
        "settings.VIDEOSTUDIO_MEDIA_DELIVERY",
    )
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "VIDEOSTUDIO_MEDIA_DELIVERY=signed" in result.stderr
    assert "VIDEOSTUDIO_S3_BUCKET" in result.stderr


def test_an_unknown_delivery_is_refused_naming_the_allowed_ones(tmp_path: Path) -> None:
    result = _settings_process(
        {"VIDEOSTUDIO_DATA_DIR": str(tmp_path), "VIDEOSTUDIO_MEDIA_DELIVERY": "sendfile"},
        "settings.VIDEOSTUDIO_MEDIA_DELIVERY",
    )
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "'sendfile' is not one of django, x-accel, signed" in result.stderr


def test_x_accel_refuses_to_start_on_s3_storage(tmp_path: Path) -> None:
    result = _settings_process(
        {**S3_ENV, "VIDEOSTUDIO_DATA_DIR": str(tmp_path), "VIDEOSTUDIO_MEDIA_DELIVERY": "x-accel"},
        "settings.VIDEOSTUDIO_MEDIA_DELIVERY",
    )
    assert result.returncode != 0 and "ImproperlyConfigured" in result.stderr


def test_delivery_defaults_to_django_and_accepts_the_others(tmp_path: Path) -> None:
    default = _settings_process(
        {"VIDEOSTUDIO_DATA_DIR": str(tmp_path)},
        "settings.VIDEOSTUDIO_MEDIA_DELIVERY, settings.VIDEOSTUDIO_X_ACCEL_PREFIX, "
        "settings.STORAGES['default']['BACKEND']",
    )
    assert default.returncode == 0, default.stderr
    assert default.stdout.split() == [
        "django",
        "/protected-media/",
        "django.core.files.storage.FileSystemStorage",
    ]
    chosen = _settings_process(
        {
            **S3_ENV,
            "VIDEOSTUDIO_DATA_DIR": str(tmp_path),
            "VIDEOSTUDIO_MEDIA_DELIVERY": "Signed",
            "VIDEOSTUDIO_S3_ENDPOINT_URL": "http://127.0.0.1:9000",
        },
        "settings.VIDEOSTUDIO_MEDIA_DELIVERY, "
        "settings.STORAGES['default']['OPTIONS']['endpoint_url']",
    )
    assert chosen.returncode == 0, chosen.stderr
    assert chosen.stdout.split() == ["signed", "http://127.0.0.1:9000"]
    prefix = _settings_process(
        {
            "VIDEOSTUDIO_DATA_DIR": str(tmp_path),
            "VIDEOSTUDIO_MEDIA_DELIVERY": "x-accel",
            "VIDEOSTUDIO_X_ACCEL_PREFIX": "internal",
        },
        "settings.VIDEOSTUDIO_X_ACCEL_PREFIX",
    )
    assert prefix.returncode == 0, prefix.stderr
    assert prefix.stdout.strip() == "/internal/"
