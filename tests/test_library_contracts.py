"""What the app borrows from libraries beyond their public API, pinned by tests that
fail loudly when a new version changes it."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from django.core.files.base import ContentFile
from moto import mock_aws

from videostudio.videos.media import _s3_object


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Any:
    for variable in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(variable, "testing")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with mock_aws():
        boto3.client("s3", region_name="eu-west-1").create_bucket(
            Bucket="studio-media",
            CreateBucketConfiguration={"LocationConstraint": "eu-west-1"},
        )
        yield


def test_the_s3_object_the_app_reads_is_the_one_django_storages_wrote(aws: Any) -> None:
    # media._s3_object uses S3Storage._normalize_name (private): the key it builds from a
    # stored name, prefix included, must be the key the storage itself wrote.
    from storages.backends.s3 import S3Storage

    storage = S3Storage(bucket_name="studio-media", location="team", region_name="eu-west-1")
    name = storage.save("videos/2026/12/a b/video.mp4", ContentFile(b"0123456789"))
    obj = _s3_object(storage, name)
    assert obj is not None
    assert obj.key == f"team/{name}"
    obj.load()  # a HEAD: the object is really there
    assert obj.content_length == 10
