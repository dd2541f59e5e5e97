"""Settings for the tip line.

Every value comes from the environment and has an embedded default, so a fresh
checkout runs on SQLite with files under ``TIPLINE_DATA_DIR`` and no other
service. Defaults are the safe choice: DEBUG off, secure cookies, nothing
cached, secrets generated into the data directory (mode 0600) on first start.

A misconfiguration stops start-up with one readable line (``ConfigError`` is a
``SystemExit``), never with a traceback that could bury the cause.
"""

from __future__ import annotations

from pathlib import Path

from config.env import (
    ConfigError,
    envbool,
    envint,
    envlist,
    envstr,
    read_or_create_secret,
    secret_from_env,
)
from tipline.logging import scrubbed_logging_config

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(envstr("TIPLINE_DATA_DIR", str(BASE_DIR / "var"))).resolve()


def _ensure_private_dir(path: Path) -> Path:
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create the data directory {path}: {exc.strerror}") from None
    return path


_ensure_private_dir(DATA_DIR)

SECRET_KEY = secret_from_env("SECRET_KEY") or read_or_create_secret(DATA_DIR / "secret_key")
DEBUG = envbool("DEBUG", False)
ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", "127.0.0.1,localhost")
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "csp",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "tipline",
]

MIDDLEWARE = [
    # Outermost, so its no-store and policy headers reach every response,
    # static files and early refusals included.
    "tipline.middleware.PrivacyHeadersMiddleware",
    # Outside everything that answers early (WhiteNoise's static files, the
    # 400 for a bad Host header), so those responses carry the policy too.
    "csp.middleware.CSPMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "tipline.csrf.NoReferrerCsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Marks request.user verified once a one-time code was accepted this session.
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "tipline.context_processors.site",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------


def _database() -> dict:
    url = secret_from_env("DATABASE_URL")
    if url:
        import dj_database_url

        try:
            config = dj_database_url.parse(url, conn_max_age=envint("DATABASE_CONN_MAX_AGE", 60))
        except Exception:  # noqa: BLE001 - the URL may hold a password: never echo it
            raise ConfigError("DATABASE_URL is not a valid database URL") from None
        config["CONN_HEALTH_CHECKS"] = True
        return config
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": DATA_DIR / "tipline.sqlite3",
        "OPTIONS": {
            # WAL lets the web server read while the in-process pipeline writes;
            # IMMEDIATE transactions avoid "database is locked" upgrade races.
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 30,
        },
    }


DATABASES = {"default": _database()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Storage of encrypted blobs --------------------------------------------------

TIPLINE_STORAGE = envstr("TIPLINE_STORAGE", "local")


def _blob_storage() -> dict:
    if TIPLINE_STORAGE == "local":
        return {
            "BACKEND": "tipline.storage.BlobFileSystemStorage",
            "OPTIONS": {
                "location": str(DATA_DIR / "blobs"),
                "file_permissions_mode": 0o600,
                "directory_permissions_mode": 0o700,
            },
        }
    if TIPLINE_STORAGE == "s3":
        bucket = envstr("AWS_STORAGE_BUCKET_NAME", "")
        if not bucket:
            raise ConfigError("TIPLINE_STORAGE=s3 needs AWS_STORAGE_BUCKET_NAME")
        return {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": bucket,
                "endpoint_url": envstr("AWS_S3_ENDPOINT_URL", "") or None,
                "region_name": envstr("AWS_S3_REGION_NAME", "") or None,
                "access_key": secret_from_env("AWS_ACCESS_KEY_ID"),
                "secret_key": secret_from_env("AWS_SECRET_ACCESS_KEY"),
                "location": envstr("AWS_LOCATION", ""),
                "default_acl": "private",
                "querystring_auth": True,
                # Blob names are random and never reused: skip the existence check.
                "file_overwrite": True,
                "addressing_style": envstr("AWS_S3_ADDRESSING_STYLE", "") or None,
            },
        }
    raise ConfigError(f"TIPLINE_STORAGE must be 'local' or 's3', not {TIPLINE_STORAGE!r}")


STORAGES = {
    "default": _blob_storage(),
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# The newsroom's name for its tip line, shown in every page's header.
TIPLINE_SITE_NAME = envstr("TIPLINE_SITE_NAME", "")

# --- Keys ------------------------------------------------------------------------

# The pipeline key's private half: readable by the worker only. It lets the
# worker open raw uploads to sanitize them; tips drop its grant when done.
TIPLINE_PIPELINE_KEY_FILE = Path(
    envstr("TIPLINE_PIPELINE_KEY_FILE", str(DATA_DIR / "pipeline.key"))
)

# --- Intake limits -----------------------------------------------------------------

MIB = 1024 * 1024
TIPLINE_MAX_FILE_BYTES = envint("TIPLINE_MAX_FILE_MB", 1024) * MIB
TIPLINE_MAX_TIP_BYTES = envint("TIPLINE_MAX_TIP_MB", 2048) * MIB
TIPLINE_MAX_FILES = envint("TIPLINE_MAX_FILES", 20)
TIPLINE_MAX_NOTE_CHARS = envint("TIPLINE_MAX_NOTE_CHARS", 20000)
TIPLINE_MAX_LINKS = envint("TIPLINE_MAX_LINKS", 20)
# Received dates are stored coarsened to this many hours (24 = the day).
TIPLINE_RECEIVED_GRANULARITY_HOURS = envint("TIPLINE_RECEIVED_GRANULARITY_HOURS", 24)

# --- Abuse limit and cache (tipline.intake.ratelimit) ----------------------------
# A flood of tips is limited for the whole installation, never per client: a
# per-client limit needs an address (Tor users share exits, an onion service
# sees none) and even a keyed hash of one is a record of who sent. The cache
# holds one number, the tips accepted in the current clock hour; 0 = no limit.
TIPLINE_MAX_TIPS_PER_HOUR = envint("TIPLINE_MAX_TIPS_PER_HOUR", 120)


def _cache() -> dict:
    url = secret_from_env("CACHE_URL") or ""
    if url.startswith(("redis://", "rediss://", "unix://")):
        return {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": url}
    if url:
        # The URL may hold a password: never echo it.
        raise ConfigError("CACHE_URL must start with redis://, rediss:// or unix://")
    # Files, not memory: gunicorn's processes on one host share them, with no
    # other service to run. Kept out of the database so no dump or backup holds
    # the counter; folder 0700, files 0600 (Django's own modes).
    return {
        "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
        "LOCATION": str(_ensure_private_dir(DATA_DIR / "cache")),
    }


CACHES = {"default": _cache()}
# --- End of abuse limit and cache ------------------------------------------------

# Form fields other than files are small; a large non-file body is an attack.
DATA_UPLOAD_MAX_MEMORY_SIZE = 256 * 1024
DATA_UPLOAD_MAX_NUMBER_FIELDS = 200
# One more than the tip line's own limit, so the upload handler refuses first
# with its own message ("at most 20 files") instead of a bare "broken upload".
DATA_UPLOAD_MAX_NUMBER_FILES = TIPLINE_MAX_FILES + 1
# Never spool an upload to a plaintext temp file: the intake view installs its
# encrypting handler; these are what any other view would get.
FILE_UPLOAD_HANDLERS = ["tipline.intake.upload.RefuseUploadHandler"]
FILE_UPLOAD_MAX_MEMORY_SIZE = 0

# --- Celery ------------------------------------------------------------------------

CELERY_BROKER_URL = secret_from_env("CELERY_BROKER_URL") or ""
# With no broker the pipeline runs in-process, so `make run` needs nothing else.
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = envint("TIPLINE_TASK_TIME_LIMIT", 3600)
CELERY_TASK_SOFT_TIME_LIMIT = max(CELERY_TASK_TIME_LIMIT - 60, 60)
# Redis hands an unacknowledged task to another worker after this long: keep it
# above the time limit, or a file near the limit is cleaned twice at once.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_TASK_TIME_LIMIT + 600}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# --- Internationalisation ------------------------------------------------------------

LANGUAGE_CODE = "es"
LANGUAGES = [("es", "Español"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
USE_TZ = True
TIME_ZONE = "UTC"

# --- Static files ----------------------------------------------------------------------

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Served straight from the source tree by WhiteNoise: nothing to collect
# before `make run`. Like every page, static files are sent with no-store: a
# cached stylesheet is a trace of the visit in the source's browser.
STATIC_ROOT = None
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG
# WhiteNoise sends `Access-Control-Allow-Origin: *` by default; nothing here is for other sites.
WHITENOISE_ALLOW_ALL_ORIGINS = False

# --- Sessions, cookies, transport --------------------------------------------------------

# Browsers treat 127.0.0.1, localhost and .onion as secure contexts, so Secure
# cookies work for `make run` and onion services as well as behind TLS.
TIPLINE_SECURE_COOKIES = envbool("TIPLINE_SECURE_COOKIES", True)
SESSION_COOKIE_SECURE = TIPLINE_SECURE_COOKIES
CSRF_COOKIE_SECURE = TIPLINE_SECURE_COOKIES
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Strict"
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_AGE = envint("TIPLINE_SESSION_HOURS", 8) * 3600
# A session cookie (no expiry) so nothing outlives the source's browser session.
CSRF_COOKIE_AGE = None
CSRF_COOKIE_SAMESITE = "Strict"
CSRF_COOKIE_HTTPONLY = True
CSRF_FAILURE_VIEW = "tipline.views.csrf_failure"
# Django's security.W003 looks for the stock CsrfViewMiddleware by name; ours is
# a subclass (tipline/csrf.py). tipline/checks.py checks for the subclass and,
# in place of security.W016 (skipped once W003 fires), for the Secure cookie.
SILENCED_SYSTEM_CHECKS = ["security.W003"]

# --- Staff accounts --------------------------------------------------------------------------

LOGIN_URL = "staff:login"
# Argon2id for staff passwords; the editor's private key is sealed separately
# under Argon2id too (tipline.triage.accounts), with its own parameters.
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Argon2id cost of sealing an editor's private key under their password
# (memory in KiB). Stored with each sealed key, so raising it later only
# affects keys sealed from then on (a password change re-seals).
TIPLINE_EDITOR_KEY_ARGON2 = {"memory_cost": 64 * 1024, "iterations": 3, "lanes": 4}
# Consecutive failed logins before an account locks; the lock lasts
# TIPLINE_LOGIN_LOCK_MINUTES and doubles with each further failure (max a day).
TIPLINE_LOGIN_FAILURES_BEFORE_LOCK = envint("TIPLINE_LOGIN_FAILURES_BEFORE_LOCK", 5)
TIPLINE_LOGIN_LOCK_MINUTES = envint("TIPLINE_LOGIN_LOCK_MINUTES", 15)
OTP_TOTP_ISSUER = TIPLINE_SITE_NAME or "Tip line"
# The account lock above already limits guesses (and counts only attempts with
# the right password). django-otp's own per-device delay on top would refuse a
# right code typed a second after a typo and count that as one more failure.
OTP_TOTP_THROTTLE_FACTOR = 0
OTP_STATIC_THROTTLE_FACTOR = 0

# --- Retention and daily maintenance -------------------------------------------------------

# Raw uploads nobody will process any more (an upload cut off by a crash, a
# file the pipeline tried and failed on) are deleted after this many hours.
TIPLINE_ABANDONED_UPLOAD_HOURS = envint("TIPLINE_ABANDONED_UPLOAD_HOURS", 72)
# Tips deleted per transaction by the purge.
TIPLINE_PURGE_BATCH_SIZE = envint("TIPLINE_PURGE_BATCH_SIZE", 200)
# The hour (UTC) of the daily purge, sweep and notification (Celery beat, or
# the web process itself in the embedded default).
TIPLINE_DAILY_RUN_HOUR = envint("TIPLINE_DAILY_RUN_HOUR", 3)
# A fixed daily email to editors with an address ("check the tip line"): no
# content, no count, the same every day, so the mail provider learns nothing.
TIPLINE_NOTIFY_EMAIL = envbool("TIPLINE_NOTIFY_EMAIL", False)
EMAIL_HOST = envstr("EMAIL_HOST", "")
EMAIL_PORT = envint("EMAIL_PORT", 587)
EMAIL_HOST_USER = envstr("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = secret_from_env("EMAIL_HOST_PASSWORD") or ""
EMAIL_USE_TLS = envbool("EMAIL_USE_TLS", True)
DEFAULT_FROM_EMAIL = envstr("DEFAULT_FROM_EMAIL", "tipline@localhost")
EMAIL_BACKEND = (
    "django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_HOST
    else "django.core.mail.backends.dummy.EmailBackend"
)

TIPLINE_HTTPS = envbool("TIPLINE_HTTPS", False)
if TIPLINE_HTTPS:
    SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", 63072000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = envbool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = envbool("SECURE_HSTS_PRELOAD", False)
if envbool("TIPLINE_BEHIND_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "no-referrer"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
TIPLINE_ONION_URL = envstr("TIPLINE_ONION_URL", "")

# No inline script or style anywhere, nothing from another host, no framing.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'none'"],
        "style-src": ["'self'"],
        "img-src": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
        "base-uri": ["'none'"],
    }
}

# --- Logging -------------------------------------------------------------------------------

# Records pass a filter that removes anything shaped like a network address, and
# Django's request logger never gets the request's client details.
LOGGING = scrubbed_logging_config(
    root_level=envstr("LOG_LEVEL", "INFO"),
    loggers={
        # Its records carry the request; 4xx noise says nothing we need.
        "django.request": {"level": "ERROR"},
        "django.security.DisallowedHost": {"handlers": [], "propagate": False},
    },
)
# Never set: Django would email every server error with the request's client
# address and user agent, past the logging filter that removes addresses.
ADMINS: list = []
