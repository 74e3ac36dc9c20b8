"""README's production settings pass `manage.py check --deploy` untouched, and the
HTTPS settings do what they say."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

ROOT = Path(__file__).resolve().parent.parent

# As README's "Production settings" lists them (the key and secret made up).
PRODUCTION = {
    "SECRET_KEY": "k2VqT8wzR1nXf6bLp0Yd9sJ3hGm4cA7uE5tWiQoZyNvB-_kPxHrDlFgMjSaUeCo",
    "ALLOWED_HOSTS": "studio.example.com",
    "CSRF_TRUSTED_ORIGINS": "https://studio.example.com",
    "BEHIND_HTTPS_PROXY": "true",
    "VIDEOSTUDIO_TRUSTED_PROXIES": "1",
    "SECURE_COOKIES": "true",
    "SECURE_SSL_REDIRECT": "true",
    "SECURE_HSTS_SECONDS": "31536000",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": "true",
    "SECURE_HSTS_PRELOAD": "true",
    "VIDEOSTUDIO_API_KEY": "sk-not-a-real-key",
    "EMAIL_URL": "smtp+tls://studio:secret@mail.example.com:587",
}


def check_deploy(tmp_path: Path, **overrides: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "POE_API_KEY"}}
    env.update(PRODUCTION, VIDEOSTUDIO_DATA_DIR=str(tmp_path), **overrides)
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_is_silent_with_the_production_settings(tmp_path: Path) -> None:
    result = check_deploy(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "WARNINGS" not in result.stdout + result.stderr
    assert "?: (" not in result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_check_deploy_still_warns_when_https_is_left_out(tmp_path: Path) -> None:
    # The same check fails when it should: proof the silence above means something.
    result = check_deploy(tmp_path, SECURE_SSL_REDIRECT="false", SECURE_HSTS_SECONDS="0")
    assert result.returncode != 0
    assert "security.W004" in result.stderr + result.stdout
    assert "security.W008" in result.stderr + result.stdout


@pytest.mark.django_db
def test_plain_http_is_redirected_except_the_health_check(client: Client, settings: Any) -> None:
    settings.SECURE_SSL_REDIRECT = True
    response = client.get("/accounts/login/")
    assert response.status_code == 301
    assert response["Location"] == "https://testserver/accounts/login/"
    assert client.get("/health/").status_code != 301  # container healthchecks use HTTP


@pytest.mark.django_db
def test_behind_the_proxy_https_is_recognised_and_answered_with_hsts(
    client: Client, settings: Any
) -> None:
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    settings.SECURE_HSTS_PRELOAD = True
    response = client.get("/accounts/login/", HTTP_X_FORWARDED_PROTO="https")
    assert response.status_code == 200
    assert response["Strict-Transport-Security"] == ("max-age=31536000; includeSubDomains; preload")
