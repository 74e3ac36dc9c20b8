"""videostudio settings: every knob comes from the environment, with embedded defaults.

With nothing set, the app runs on SQLite under ./var with the built-in simulator
as its provider (demo mode). README.md lists every variable.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import dj_database_url
from csp.constants import NONCE, NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from videostudio.csp import extra_origins, report_uri, storage_origins
from videostudio.env import (
    email_settings,
    env_bool,
    env_float,
    env_int,
    env_list,
    env_proxies,
    env_str,
    local_secret,
)

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(env_str("VIDEOSTUDIO_DATA_DIR", str(BASE_DIR / "var"))).resolve()

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_str("SECRET_KEY") or local_secret(DATA_DIR / "secret_key")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("BEHIND_HTTPS_PROXY", False) else None
)
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = env_bool("SECURE_COOKIES", False)

# --- HTTPS ------------------------------------------------------------------------
# Off by default (a laptop serves plain HTTP); README's production settings turn them on.
# Behind a proxy that ends TLS, SECURE_SSL_REDIRECT needs BEHIND_HTTPS_PROXY too, or
# every request looks like plain HTTP and is redirected for ever.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
# Container healthchecks call /health/ over plain HTTP from inside the network.
SECURE_REDIRECT_EXEMPT = [r"^health/$"]
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)

INSTALLED_APPS = [
    # django.contrib.admin, with every ModelAdmin hardened against hostile query strings.
    "videostudio.adminsite.apps.StudioAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",  # "just now", "3 minutes ago" (naturaltime)
    "django_htmx",
    "csp",
    "template_partials",
    "django_q",
    "axes",
    "videostudio.accounts",
    "videostudio.pacing",
    "videostudio.catalog",
    "videostudio.videos",
    "videostudio.gallery",
    "videostudio.usage",
    "videostudio.ops",
    "videostudio.notifications",
    "videostudio.api",
]

MIDDLEWARE = [
    # First: every response (redirects included) and every log line carries the id.
    "videostudio.ops.logs.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Refuses bodies over the caps before anything reads them (CSRF reads the form in
    # process_view, which runs after every middleware's own call).
    "videostudio.limits.RequestLimitsMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last, as django-axes asks: turns a lock-out into the login page saying so.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "videostudio.urls"
WSGI_APPLICATION = "videostudio.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "csp.context_processors.nonce",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "videostudio.videos.context_processors.studio",
                "videostudio.usage.context_processors.team_balance",
                "videostudio.ops.context_processors.worker_banner",
                "videostudio.notifications.context_processors.bell",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
else:
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(DATA_DIR / "db.sqlite3"),
            "OPTIONS": {
                # IMMEDIATE: a writer takes the lock when its transaction starts,
                # so concurrent writers queue on busy_timeout instead of failing.
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": (
                    "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=20000;"
                ),
            },
            # A file, not memory: tests that race threads need one database they all see.
            "TEST": {"NAME": str(DATA_DIR / "test-db.sqlite3")},
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache: shared by every process (web and workers); Redis when scaled out ----------
REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "videostudio",
        }
    }
else:
    # A file cache is shared by the web server and the worker on one machine.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(DATA_DIR / "cache"),
        }
    }

# --- Auth -----------------------------------------------------------------------
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "videos:list"
LOGOUT_REDIRECT_URL = "login"
# Login throttling (django-axes): after this many failed sign-ins for one account, or
# from one address, that account or address is refused for the cool-off time. Kept in
# the database, so every process and host sees the same lock-outs; staff unlock in the
# admin (Axes -> Access attempts -> Unlock).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
VIDEOSTUDIO_LOGIN_FAILURES = env_int("VIDEOSTUDIO_LOGIN_FAILURES", 5, minimum=1)
VIDEOSTUDIO_LOCKOUT_MINUTES = env_int("VIDEOSTUDIO_LOCKOUT_MINUTES", 15, minimum=1)
AXES_FAILURE_LIMIT = VIDEOSTUDIO_LOGIN_FAILURES
AXES_COOLOFF_TIME = timedelta(minutes=VIDEOSTUDIO_LOCKOUT_MINUTES)
AXES_LOCKOUT_PARAMETERS = [["username"], ["ip_address"]]
# Attempts made while locked out do not stretch the lock-out: "try again in 15
# minutes" stays true. A success never clears the counts (it would let an attacker
# with an account of their own reset an address's count between guesses).
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_RESET_ON_SUCCESS = False
AXES_LOCKOUT_CALLABLE = "videostudio.accounts.views.locked_out"
AXES_VERBOSE = False  # no start-up banner in every command's output
# Logs name the account and address (passwords are never logged): what an admin needs.
AXES_SENSITIVE_PARAMETERS: list[str] = []
# The client's address: REMOTE_ADDR, or X-Forwarded-For as written by the proxies
# named here (a number of proxies in front, or their addresses/networks). Unset:
# X-Forwarded-For is ignored, so a client cannot pick its own address.
VIDEOSTUDIO_TRUSTED_PROXIES = env_proxies("VIDEOSTUDIO_TRUSTED_PROXIES")
AXES_CLIENT_IP_CALLABLE = "videostudio.accounts.addresses.client_ip"
# Django's checks, refusing in the app's words.
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "videostudio.accounts.passwords.UserAttributeSimilarityValidator"},
    {"NAME": "videostudio.accounts.passwords.MinimumLengthValidator"},
    {"NAME": "videostudio.accounts.passwords.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

# --- Content-Security-Policy ------------------------------------------------------
# Scripts come from this site, and only <script> tags carrying the request's nonce
# run; no inline style, no eval (htmx is configured without it in base.html).
# Media may come from the bucket too with signed delivery (added below, once the
# storage is known).
_CSP_DIRECTIVES: dict[str, list[object]] = {
    "default-src": [SELF],
    "script-src": [SELF, NONCE],
    "style-src": [SELF],
    "img-src": [SELF],
    "media-src": [SELF],
    "connect-src": [SELF],
    "object-src": [NONE],
    "base-uri": [SELF],
    "form-action": [SELF],
    "frame-ancestors": [NONE],
}
VIDEOSTUDIO_CSP_REPORT_URI = report_uri(
    env_str("VIDEOSTUDIO_CSP_REPORT_URI"), name="VIDEOSTUDIO_CSP_REPORT_URI"
)
if VIDEOSTUDIO_CSP_REPORT_URI:
    _CSP_DIRECTIVES["report-uri"] = [VIDEOSTUDIO_CSP_REPORT_URI]
# Report violations without blocking anything: for trying the policy on a deployment.
VIDEOSTUDIO_CSP_REPORT_ONLY = env_bool("VIDEOSTUDIO_CSP_REPORT_ONLY", False)
_CSP_POLICY = {"DIRECTIVES": _CSP_DIRECTIVES}
CONTENT_SECURITY_POLICY = None if VIDEOSTUDIO_CSP_REPORT_ONLY else _CSP_POLICY
CONTENT_SECURITY_POLICY_REPORT_ONLY = _CSP_POLICY if VIDEOSTUDIO_CSP_REPORT_ONLY else None

# --- Static and media -------------------------------------------------------------
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env_str("VIDEOSTUDIO_STATIC_ROOT", str(DATA_DIR / "staticfiles")))
MEDIA_ROOT = Path(env_str("VIDEOSTUDIO_MEDIA_ROOT", str(DATA_DIR / "media")))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)

# Archived media: a local folder, or S3-compatible storage (django-storages) when a
# bucket is named. Credentials never pass through settings: boto3 finds them itself
# (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, AWS_SHARED_CREDENTIALS_FILE, a role).
VIDEOSTUDIO_S3_BUCKET = env_str("VIDEOSTUDIO_S3_BUCKET").strip()
# How long a signed storage URL stays valid (signed delivery, S3 only).
VIDEOSTUDIO_SIGNED_URL_SECONDS = env_int("VIDEOSTUDIO_SIGNED_URL_SECONDS", 3600, minimum=1)
_MEDIA_STORAGE: dict[str, object]
if VIDEOSTUDIO_S3_BUCKET:
    _s3_options: dict[str, object] = {
        "bucket_name": VIDEOSTUDIO_S3_BUCKET,
        "endpoint_url": env_str("VIDEOSTUDIO_S3_ENDPOINT_URL").strip() or None,
        "region_name": env_str("VIDEOSTUDIO_S3_REGION").strip() or None,
        "location": env_str("VIDEOSTUDIO_S3_PREFIX").strip().strip("/"),
        "querystring_auth": True,
        "querystring_expire": VIDEOSTUDIO_SIGNED_URL_SECONDS,
        "signature_version": "s3v4",
        # No ACL sent: objects stay as private as the bucket (which must not be public).
        "default_acl": None,
        "file_overwrite": False,
        # Files opened through the storage spill to disk past 8 MB instead of memory.
        "max_memory_size": 8 * 1024 * 1024,
    }
    _MEDIA_STORAGE = {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": _s3_options}
else:
    _MEDIA_STORAGE = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
STORAGES = {
    "default": _MEDIA_STORAGE,
    # Hashed, compressed, cacheable names once collectstatic has run (make run, the
    # Dockerfile); plain names before that (tests, a bare checkout).
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "videostudio.staticfiles.StaticStorage"
        )
    },
}
# Serve files straight from STATICFILES_DIRS when collectstatic has not run (tests, DEBUG).
WHITENOISE_USE_FINDERS = True
WHITENOISE_MANIFEST_STRICT = False

# How archived media reaches the browser, after the view has checked the user:
# "django" streams it (HTTP Range), "x-accel" hands it to nginx (X-Accel-Redirect),
# "signed" redirects to a short-lived signed storage URL (S3).
_DELIVERIES = ("django", "x-accel", "signed")
VIDEOSTUDIO_MEDIA_DELIVERY = env_str("VIDEOSTUDIO_MEDIA_DELIVERY", "django").strip().lower()
if VIDEOSTUDIO_MEDIA_DELIVERY not in _DELIVERIES:
    raise ImproperlyConfigured(
        f"VIDEOSTUDIO_MEDIA_DELIVERY={VIDEOSTUDIO_MEDIA_DELIVERY!r} is not one of "
        + ", ".join(_DELIVERIES)
    )
if VIDEOSTUDIO_MEDIA_DELIVERY == "signed" and not VIDEOSTUDIO_S3_BUCKET:
    raise ImproperlyConfigured(
        "VIDEOSTUDIO_MEDIA_DELIVERY=signed needs a storage that signs URLs, but media is "
        "stored in a local folder: set VIDEOSTUDIO_S3_BUCKET (S3-compatible storage), "
        "or use VIDEOSTUDIO_MEDIA_DELIVERY=django or x-accel"
    )
if VIDEOSTUDIO_MEDIA_DELIVERY == "x-accel" and VIDEOSTUDIO_S3_BUCKET:
    raise ImproperlyConfigured(
        "VIDEOSTUDIO_MEDIA_DELIVERY=x-accel serves files from a local folder through nginx, "
        "but media is stored in S3 (VIDEOSTUDIO_S3_BUCKET): use signed or django"
    )
# Browsers follow the signed redirect to the bucket: the policy must allow its origin.
_CSP_MEDIA_ORIGINS = extra_origins(
    env_list("VIDEOSTUDIO_CSP_MEDIA_ORIGINS", []), name="VIDEOSTUDIO_CSP_MEDIA_ORIGINS"
)
if VIDEOSTUDIO_MEDIA_DELIVERY == "signed":
    _CSP_MEDIA_ORIGINS += storage_origins(
        bucket=VIDEOSTUDIO_S3_BUCKET,
        endpoint_url=str(_s3_options["endpoint_url"] or ""),
        region=str(_s3_options["region_name"] or ""),
    )
_CSP_DIRECTIVES["media-src"] += _CSP_MEDIA_ORIGINS
_CSP_DIRECTIVES["img-src"] += _CSP_MEDIA_ORIGINS
# nginx's internal location for x-accel; always "/.../".
VIDEOSTUDIO_X_ACCEL_PREFIX = (
    "/" + env_str("VIDEOSTUDIO_X_ACCEL_PREFIX", "/protected-media/").strip().strip("/") + "/"
).replace("//", "/")
# How long a browser may reuse media it fetched (Cache-Control: private, max-age).
VIDEOSTUDIO_MEDIA_CACHE_SECONDS = env_int("VIDEOSTUDIO_MEDIA_CACHE_SECONDS", 3600, minimum=0)
MAX_UPLOAD_MB = env_int("VIDEOSTUDIO_MAX_UPLOAD_MB", 10, minimum=1)
# The largest request body the app reads: the reference image plus room for the
# form's other fields. Larger ones are answered 413 before a byte is read
# (videostudio.limits); nginx's client_max_body_size should be a little above it.
VIDEOSTUDIO_MAX_REQUEST_BYTES = (MAX_UPLOAD_MB + 1) * 1024 * 1024
# Form fields other than files (Django's own caps; beyond them: 413 / 400 pages).
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
DATA_UPLOAD_MAX_NUMBER_FIELDS = 1000
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440

# --- Provider ---------------------------------------------------------------------
VIDEOSTUDIO_API_KEY = env_str("VIDEOSTUDIO_API_KEY") or env_str("POE_API_KEY")
VIDEOSTUDIO_API_BASE = env_str("VIDEOSTUDIO_API_BASE", "https://api.poe.com/v1").rstrip("/")
# Without a key, the built-in simulator answers in-process: demo mode.
VIDEOSTUDIO_DEMO = not VIDEOSTUDIO_API_KEY
VIDEOSTUDIO_PROVIDER_TIMEOUT = env_float("VIDEOSTUDIO_PROVIDER_TIMEOUT", 30.0, minimum=1)
VIDEOSTUDIO_PROVIDER_RETRIES = env_int("VIDEOSTUDIO_PROVIDER_RETRIES", 3, minimum=0)
# The key allows about 500 requests a minute for the whole team; stay under it. One
# budget (a token bucket) is shared by every process: through Redis with REDIS_URL,
# else through the database.
VIDEOSTUDIO_PROVIDER_RATE_PER_MINUTE = env_int(
    "VIDEOSTUDIO_PROVIDER_RATE_PER_MINUTE", 450, minimum=1
)
# How many calls may go at once after a quiet spell. Any 60 s window then holds at most
# rate + burst calls: 450 + 30 = 480, under a 500/min key whether the provider counts a
# sliding window or a token bucket with a burst of 30 or more.
VIDEOSTUDIO_PROVIDER_BURST = env_int("VIDEOSTUDIO_PROVIDER_BURST", 30, minimum=1)
# How a reference image travels: "multipart" (file input_reference, every dialect)
# or "json" (base64 input_image, Poe).
VIDEOSTUDIO_IMAGE_UPLOAD = env_str("VIDEOSTUDIO_IMAGE_UPLOAD", "multipart")
if VIDEOSTUDIO_IMAGE_UPLOAD not in {"multipart", "json"}:
    raise ImproperlyConfigured("VIDEOSTUDIO_IMAGE_UPLOAD must be multipart or json")
VIDEOSTUDIO_SIMULATOR_QUEUE_SECONDS = env_float(
    "VIDEOSTUDIO_SIMULATOR_QUEUE_SECONDS", 2.0, minimum=0
)
VIDEOSTUDIO_SIMULATOR_RENDER_SECONDS = env_float(
    "VIDEOSTUDIO_SIMULATOR_RENDER_SECONDS", 20.0, minimum=0
)
# How long the simulator keeps a finished job's files (Poe: about an hour).
VIDEOSTUDIO_SIMULATOR_EXPIRE_SECONDS = env_float(
    "VIDEOSTUDIO_SIMULATOR_EXPIRE_SECONDS", 3600.0, minimum=1
)

# --- Email: password reset ---------------------------------------------------------
# EMAIL_URL (smtp://, smtp+tls:// for STARTTLS, smtp+ssl:// for TLS from the start) or
# the usual EMAIL_HOST, EMAIL_PORT, EMAIL_HOST_USER, EMAIL_HOST_PASSWORD,
# EMAIL_USE_TLS / EMAIL_USE_SSL. Without either, demo mode prints mails to the
# console and a deployment with a key sends none: password reset is then hidden
# (its pages answer 404), never faked.
_email = email_settings(demo=VIDEOSTUDIO_DEMO)
EMAIL_BACKEND = _email.backend
EMAIL_HOST = _email.host
EMAIL_PORT = _email.port
EMAIL_HOST_USER = _email.user
EMAIL_HOST_PASSWORD = _email.password
EMAIL_USE_TLS = _email.use_tls
EMAIL_USE_SSL = _email.use_ssl
EMAIL_TIMEOUT = 10
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "videostudio <videostudio@localhost>")
VIDEOSTUDIO_PASSWORD_RESET = _email.enabled

# --- Notifications ------------------------------------------------------------------
# The studio's address as members reach it: links in emails and webhook payloads.
VIDEOSTUDIO_SITE_URL = env_str("VIDEOSTUDIO_SITE_URL", "http://127.0.0.1:8000").rstrip("/")
# Notifications (the bell, emails, webhooks) older than this many days are forgotten.
VIDEOSTUDIO_NOTIFICATION_DAYS = env_int("VIDEOSTUDIO_NOTIFICATION_DAYS", 30, minimum=1)
# Emails and webhook calls are tried this many times, the first retry after
# VIDEOSTUDIO_NOTIFY_RETRY_SECONDS and each next one twice as long after (with jitter).
VIDEOSTUDIO_NOTIFY_MAX_ATTEMPTS = env_int("VIDEOSTUDIO_NOTIFY_MAX_ATTEMPTS", 6, minimum=1)
VIDEOSTUDIO_NOTIFY_RETRY_SECONDS = env_float("VIDEOSTUDIO_NOTIFY_RETRY_SECONDS", 30.0, minimum=0.1)
# How many emails and webhook calls the worker sends at once.
VIDEOSTUDIO_NOTIFY_CONCURRENCY = env_int("VIDEOSTUDIO_NOTIFY_CONCURRENCY", 4, minimum=1)
# A webhook receiver must answer within this many seconds.
VIDEOSTUDIO_WEBHOOK_TIMEOUT_SECONDS = env_float(
    "VIDEOSTUDIO_WEBHOOK_TIMEOUT_SECONDS", 10.0, minimum=0.1
)
# A webhook is turned off (and its owner told) after this many failed tries in a row.
VIDEOSTUDIO_WEBHOOK_DISABLE_AFTER = env_int("VIDEOSTUDIO_WEBHOOK_DISABLE_AFTER", 15, minimum=1)
# Webhooks may call loopback and private addresses only when this is on (SSRF).
VIDEOSTUDIO_WEBHOOK_ALLOW_PRIVATE = env_bool("VIDEOSTUDIO_WEBHOOK_ALLOW_PRIVATE", False)
# The daily email digest goes out at this hour (0-23, in TIME_ZONE).
VIDEOSTUDIO_DIGEST_HOUR = env_int("VIDEOSTUDIO_DIGEST_HOUR", 8, minimum=0)
if VIDEOSTUDIO_DIGEST_HOUR > 23:
    raise ImproperlyConfigured("VIDEOSTUDIO_DIGEST_HOUR must be an hour of the day, 0 to 23")

# --- API ----------------------------------------------------------------------------
# Each personal access token may make this many requests a minute through /v1/, after a
# burst of VIDEOSTUDIO_API_TOKEN_BURST at once; beyond it: 429 with Retry-After. One
# budget per token, shared by every process (Redis with REDIS_URL, else the database).
VIDEOSTUDIO_API_TOKEN_RATE_PER_MINUTE = env_int(
    "VIDEOSTUDIO_API_TOKEN_RATE_PER_MINUTE", 60, minimum=1
)
VIDEOSTUDIO_API_TOKEN_BURST = env_int("VIDEOSTUDIO_API_TOKEN_BURST", 10, minimum=1)
# Working (not revoked, not expired) tokens a member may have at once: each has its
# own budget, so this bounds how fast one member's scripts may go.
VIDEOSTUDIO_API_TOKENS_PER_MEMBER = env_int("VIDEOSTUDIO_API_TOKENS_PER_MEMBER", 20, minimum=1)

# --- Jobs ---------------------------------------------------------------------------
# New videos are shared with the team ("team") or private to their owner ("private").
VIDEOSTUDIO_DEFAULT_VISIBILITY = env_str("VIDEOSTUDIO_DEFAULT_VISIBILITY", "team")
if VIDEOSTUDIO_DEFAULT_VISIBILITY not in {"team", "private"}:
    raise ImproperlyConfigured("VIDEOSTUDIO_DEFAULT_VISIBILITY must be team or private")
VIDEOSTUDIO_MAX_PROMPT_CHARS = env_int("VIDEOSTUDIO_MAX_PROMPT_CHARS", 4000, minimum=1)
# Warn this many hours before the provider deletes its copy (always in the last hour).
VIDEOSTUDIO_EXPIRY_WARNING_HOURS = env_float("VIDEOSTUDIO_EXPIRY_WARNING_HOURS", 24.0, minimum=0)
# Delete local copies this many days after completion (0: keep for ever). Starred
# videos are kept; owners see what is due this many days ahead.
VIDEOSTUDIO_RETENTION_DAYS = env_int("VIDEOSTUDIO_RETENTION_DAYS", 0, minimum=0)
VIDEOSTUDIO_RETENTION_NOTICE_DAYS = env_int("VIDEOSTUDIO_RETENTION_NOTICE_DAYS", 7, minimum=0)
# A page asks for progress (one request per turn, however many cards) when something on
# it is next expected to change: at most this often...
VIDEOSTUDIO_PAGE_POLL_SECONDS = env_float("VIDEOSTUDIO_PAGE_POLL_SECONDS", 2.0, minimum=0.5)
# ...and at least this often while a job on it is in flight...
VIDEOSTUDIO_PAGE_POLL_MAX_SECONDS = env_float("VIDEOSTUDIO_PAGE_POLL_MAX_SECONDS", 15.0, minimum=1)
# ...but no more often than this while its tab is in the background.
VIDEOSTUDIO_PAGE_POLL_HIDDEN_SECONDS = env_float(
    "VIDEOSTUDIO_PAGE_POLL_HIDDEN_SECONDS", 60.0, minimum=1
)
# How long one sweep task keeps polling before handing over to the next one.
VIDEOSTUDIO_SWEEP_SECONDS = env_float("VIDEOSTUDIO_SWEEP_SECONDS", 50.0, minimum=1)
# How many status looks the tracker has out at once (one pooled HTTP client).
VIDEOSTUDIO_SWEEP_CONCURRENCY = env_int("VIDEOSTUDIO_SWEEP_CONCURRENCY", 8, minimum=1)
# How many sends it has out at once (a create can take a few seconds to answer).
VIDEOSTUDIO_SEND_CONCURRENCY = env_int("VIDEOSTUDIO_SEND_CONCURRENCY", 4, minimum=1)
# How many jobs' files it downloads at once (each streamed to storage).
VIDEOSTUDIO_ARCHIVE_CONCURRENCY = env_int("VIDEOSTUDIO_ARCHIVE_CONCURRENCY", 3, minimum=1)
# The longest a job in flight goes without a status look, whatever its estimate says.
VIDEOSTUDIO_POLL_MAX_SECONDS = env_float("VIDEOSTUDIO_POLL_MAX_SECONDS", 60.0, minimum=2)
# How many of one member's jobs may be at the provider at once (0: no limit); the
# rest wait their turn in the send queue.
VIDEOSTUDIO_MEMBER_MAX_IN_FLIGHT = env_int("VIDEOSTUDIO_MEMBER_MAX_IN_FLIGHT", 0, minimum=0)

Q_CLUSTER = {
    "name": "videostudio",
    "orm": "default",
    "workers": env_int("VIDEOSTUDIO_WORKERS", 2, minimum=1),
    "timeout": int(VIDEOSTUDIO_SWEEP_SECONDS) + 120,
    "retry": int(VIDEOSTUDIO_SWEEP_SECONDS) + 180,
    "max_attempts": 1,
    "catch_up": False,
    "save_limit": 200,
    "ack_failures": True,
    "poll": 0.5,
    "label": "Tasks",
}

# --- Operations: /health/, the staff banner, logs, error reports -----------------------
# The worker counts as away once its heartbeat (every few seconds while it works, once
# a minute when idle) is older than this: /health/ fails and staff see a banner.
VIDEOSTUDIO_WORKER_STALE_SECONDS = env_int("VIDEOSTUDIO_WORKER_STALE_SECONDS", 180, minimum=30)
# A job this far past its next look (or archive), or a send this far past its turn while
# the worker is away, fails /health/.
VIDEOSTUDIO_POLL_OVERDUE_SECONDS = env_int("VIDEOSTUDIO_POLL_OVERDUE_SECONDS", 300, minimum=30)
# A finished video not saved here whose provider copy goes within this fails /health/.
VIDEOSTUDIO_ARCHIVE_RISK_MINUTES = env_int("VIDEOSTUDIO_ARCHIVE_RISK_MINUTES", 30, minimum=1)

# Error reports to Sentry, off unless a DSN is set; the provider key is scrubbed.
SENTRY_DSN = env_str("SENTRY_DSN").strip()
if SENTRY_DSN:
    from videostudio.ops.sentry import sentry_init

    sentry_init(
        dsn=SENTRY_DSN,
        environment=env_str("SENTRY_ENVIRONMENT").strip(),
        release=env_str("SENTRY_RELEASE").strip(),
        traces_sample_rate=env_float("SENTRY_TRACES_SAMPLE_RATE", 0.0, minimum=0),
        secrets=[
            VIDEOSTUDIO_API_KEY,
            SECRET_KEY,
            EMAIL_HOST_PASSWORD,
            str(DATABASES["default"].get("PASSWORD") or ""),
        ],
    )

# "plain" lines or "json" (one object a line); both carry the request id ("-" outside
# a request). The worker (django-q2) logs through the same handler.
LOG_FORMAT = env_str("LOG_FORMAT", "plain").strip().lower()
if LOG_FORMAT not in {"plain", "json"}:
    raise ImproperlyConfigured(f"LOG_FORMAT={LOG_FORMAT!r} is not plain or json")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_id": {"()": "videostudio.ops.logs.RequestIdFilter"},
        # 4xx (403, 404, a bad host, a body too large): warnings without tracebacks.
        "client_errors": {"()": "videostudio.logfilters.ClientErrors"},
    },
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s"},
        "json": {"()": "videostudio.ops.logs.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["request_id", "client_errors"],
        }
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
        # Failures and lock-outs are warnings; every login's bookkeeping is not news.
        "axes": {"level": "WARNING"},
    },
}
