"""Strict helpers for reading settings from the environment.

Junk values fail loudly at start-up instead of silently meaning "off".
"""

from __future__ import annotations

import ipaddress
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar
from urllib.parse import unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

N = TypeVar("N", int, float)

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str = "") -> str:
    """A string setting; `NAME_FILE` (a path) wins over `NAME`, for secrets."""
    file_path = os.environ.get(f"{name}_FILE")
    if file_path:
        try:
            return Path(file_path).read_text().strip()
        except OSError as exc:
            raise ImproperlyConfigured(f"{name}_FILE={file_path!r} cannot be read: {exc}") from exc
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(
        f"{name}={raw!r} is not a boolean; use one of 1/0, true/false, yes/no"
    )


def _env_number(name: str, default: N, cast: Callable[[str], N], kind: str, minimum: N | None) -> N:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = cast(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not {kind}") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name}={value} must be at least {minimum}")
    return value


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    return _env_number(name, default, int, "a whole number", minimum)


def env_float(name: str, default: float, *, minimum: float | None = None) -> float:
    return _env_number(name, default, float, "a number", minimum)


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def local_secret(path: Path) -> str:
    """A secret generated once into an untracked file, for local runs without configuration."""
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(50)
    # O_EXCL: two processes starting at once agree on one key.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as fh:
        fh.write(value)
    return value


SMTP = "django.core.mail.backends.smtp.EmailBackend"
CONSOLE = "django.core.mail.backends.console.EmailBackend"
# scheme of EMAIL_URL -> (use_tls (STARTTLS), use_ssl, default port)
_EMAIL_SCHEMES = {
    "smtp": (False, False, 25),
    "smtp+tls": (True, False, 587),
    "submission": (True, False, 587),
    "smtp+ssl": (False, True, 465),
    "smtps": (False, True, 465),
}


@dataclass(frozen=True)
class EmailSettings:
    backend: str
    enabled: bool  # whether the app may promise a mail (password reset)
    host: str = "localhost"
    port: int = 25
    user: str = ""
    password: str = ""
    use_tls: bool = False
    use_ssl: bool = False


def email_settings(*, demo: bool) -> EmailSettings:
    """How mail is sent: EMAIL_URL, else EMAIL_HOST and friends, else the console in
    demo mode and no mail at all otherwise."""
    url = env_str("EMAIL_URL").strip()
    if url:
        return _email_from_url(url)
    host = env_str("EMAIL_HOST").strip()
    if host:
        use_tls, use_ssl = env_bool("EMAIL_USE_TLS", False), env_bool("EMAIL_USE_SSL", False)
        if use_tls and use_ssl:
            raise ImproperlyConfigured("EMAIL_USE_TLS and EMAIL_USE_SSL cannot both be on")
        return EmailSettings(
            backend=SMTP,
            enabled=True,
            host=host,
            port=env_int("EMAIL_PORT", 465 if use_ssl else 587 if use_tls else 25, minimum=1),
            user=env_str("EMAIL_HOST_USER"),
            password=env_str("EMAIL_HOST_PASSWORD"),
            use_tls=use_tls,
            use_ssl=use_ssl,
        )
    return (
        EmailSettings(backend=CONSOLE, enabled=True)
        if demo
        else EmailSettings(backend=SMTP, enabled=False)
    )


def _email_from_url(url: str) -> EmailSettings:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "console":
        return EmailSettings(backend=CONSOLE, enabled=True)
    if scheme not in _EMAIL_SCHEMES:
        raise ImproperlyConfigured(
            f"EMAIL_URL has scheme {scheme!r}; use smtp://, smtp+tls:// (STARTTLS), "
            "smtp+ssl:// (TLS from the start) or console://"
        )
    use_tls, use_ssl, default_port = _EMAIL_SCHEMES[scheme]
    try:
        port = parts.port or default_port
    except ValueError:
        raise ImproperlyConfigured("EMAIL_URL has a port that is not a number") from None
    if not parts.hostname:
        raise ImproperlyConfigured("EMAIL_URL names no host, e.g. smtp+tls://user:pass@host:587")
    return EmailSettings(
        backend=SMTP,
        enabled=True,
        host=parts.hostname,
        port=port,
        user=unquote(parts.username or ""),
        password=unquote(parts.password or ""),
        use_tls=use_tls,
        use_ssl=use_ssl,
    )


def env_proxies(name: str) -> int | tuple[str, ...]:
    """Trusted reverse proxies: a number of proxies in front of the app ("1"), or
    their addresses and networks ("10.0.0.5, 172.16.0.0/12"). Unset: none (0)."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return 0
    if raw.isdigit():
        return int(raw)
    networks = []
    for item in (part.strip() for part in raw.split(",")):
        if not item:
            continue
        try:
            networks.append(str(ipaddress.ip_network(item, strict=False)))
        except ValueError:
            raise ImproperlyConfigured(
                f"{name}: {item!r} is not an address or network; give a number of proxies "
                "or a comma-separated list such as 10.0.0.5,172.16.0.0/12"
            ) from None
    return tuple(networks)
