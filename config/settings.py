"""Settings for the tip line.

Every value comes from the environment and has an embedded default, so a fresh
checkout runs on SQLite with files under ``TIPLINE_DATA_DIR`` and no other
service. Defaults are the safe choice: DEBUG off, secure cookies, nothing
cached, secrets generated into the data directory (mode 0600) on first start.

Every value is checked here, at start-up: a malformed or out-of-range one
stops the process with one readable line naming the variable (``ConfigError``
is a ``SystemExit``), never with a traceback that could bury the cause.

Importing this module writes nothing; it reads the environment and the files
the environment names. The data directory and the generated secret key are
made by ``config.bootstrap.prepare_data_dir()``, which every entry point
(manage.py, config.wsgi, config.asgi, ``celery -A config``) runs first.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from urllib.parse import urlsplit

from config.bootstrap import (
    SECOND_FACTOR_KEY_FILE_NAME,
    SECRET_KEY_FILE_NAME,
    data_dir,
)
from config.env import (
    ConfigError,
    envbool,
    envchoice,
    envint,
    envlist,
    envstr,
    read_generated_secret,
    secret_from_env,
)
from tipline.logging import scrubbed_logging_config

# --- Paths and the data directory ---------------------------------------------------------

BASE_DIR = Path(__file__).resolve().parent.parent
# Where the embedded default keeps everything: SQLite, blobs, generated secrets.
DATA_DIR = data_dir()

# --- Secrets ------------------------------------------------------------------------------

# SECRET_KEY (or SECRET_KEY_FILE) when set, else the key config.bootstrap
# generated into the data dir. Every entry point generates it before Django
# loads these settings. Imported any other way, on a data dir that has no key
# yet, the settings stop with a line saying how to start: making up a key here
# would write to disk on import, and one made up in memory would differ
# between processes (every session and form signed by another one invalid).
SECRET_KEY = secret_from_env("SECRET_KEY") or read_generated_secret(DATA_DIR / SECRET_KEY_FILE_NAME)
if not SECRET_KEY:
    raise ConfigError(
        f"SECRET_KEY is not set and {DATA_DIR / SECRET_KEY_FILE_NAME} does not exist: start "
        "through manage.py, config.wsgi, config.asgi or `celery -A config`, which create it"
    )

# The pipeline key's private half: readable by the worker only. It lets the
# worker open raw uploads to sanitize them; tips drop its grant when done.
TIPLINE_PIPELINE_KEY_FILE = Path(
    envstr("TIPLINE_PIPELINE_KEY_FILE", str(DATA_DIR / "pipeline.key"))
)
# The one-time set-up link's token, kept only as its hash (tipline/setup/token.py);
# deleted when set-up is done.
TIPLINE_SETUP_TOKEN_FILE = DATA_DIR / "setup_token"
# It rotates this often (hours), and the old private half is destroyed: a
# seized worker opens no tip whose cleaning ended before the last rotation
# (tipline/pipeline_key.py, docs/crypto.md). At most a week: the point is a short life.
TIPLINE_PIPELINE_KEY_HOURS = envint("TIPLINE_PIPELINE_KEY_HOURS", 24, minimum=1, maximum=168)

# --- Django core --------------------------------------------------------------------------

DEBUG = envbool("DEBUG", False)
ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", "127.0.0.1,localhost")

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
    "tipline.csrf.OwnOriginCsrfViewMiddleware",
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

# The newsroom's name for its tip line, shown in every page's header.
TIPLINE_SITE_NAME = envstr("TIPLINE_SITE_NAME", "")

# Internationalisation.
LANGUAGE_CODE = "es"
LANGUAGES = [("es", "Español"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
USE_TZ = True
TIME_ZONE = "UTC"

# Static files: `manage.py collectstatic` (run by `make run`, and at every
# release: docs/deploy.md) copies static/ into STATIC_ROOT under names carrying
# a hash of their content, with gzip copies, and WhiteNoise serves them from
# there. Hashed names never change content, so they are cached for a year
# (tipline/middleware.py); everything else, pages included, stays no-store.
# STATIC_ROOT is built from the code, not data: beside the code by default,
# never in the data dir (docs/decisions.md, issue 16).
STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT") or BASE_DIR / "staticfiles")
# Only what collectstatic wrote: the source tree's unhashed files are not served.
WHITENOISE_USE_FINDERS = False
WHITENOISE_AUTOREFRESH = DEBUG
# Served at the site's root: /favicon.ico, which browsers ask for whatever the page links.
WHITENOISE_ROOT = BASE_DIR / "static" / "root"
# WhiteNoise sends `Access-Control-Allow-Origin: *` by default; nothing here is for other sites.
WHITENOISE_ALLOW_ALL_ORIGINS = False

# --- Database -----------------------------------------------------------------------------

# Seconds a connection is reused (DATABASE_URL only; 0 = a new one per request).
DATABASE_CONN_MAX_AGE = envint("DATABASE_CONN_MAX_AGE", 60, minimum=0)


# On every SQLite connection: deleted rows are overwritten with zeros instead of
# staying in free pages, where a deleted grant (a wrapped tip key) could be
# found again (tipline/pipeline_key.py deleted_grants_scrub, docs/crypto.md).
SQLITE_SECURE_DELETE = "PRAGMA secure_delete=ON;"


def _database() -> dict:
    url = secret_from_env("DATABASE_URL")
    if url:
        import dj_database_url

        try:
            config = dj_database_url.parse(url, conn_max_age=DATABASE_CONN_MAX_AGE)
        except Exception:  # noqa: BLE001 - the URL may hold a password: never echo it
            raise ConfigError("DATABASE_URL is not a valid database URL") from None
        config["CONN_HEALTH_CHECKS"] = True
        if config.get("ENGINE") == "django.db.backends.sqlite3":
            options = config.setdefault("OPTIONS", {})
            options["init_command"] = f"{options.get('init_command', '')};{SQLITE_SECURE_DELETE}"
        return dict(config)
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": DATA_DIR / "tipline.sqlite3",
        "OPTIONS": {
            # WAL lets the web server read while the in-process pipeline writes;
            # IMMEDIATE transactions avoid "database is locked" upgrade races.
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
            + SQLITE_SECURE_DELETE,
            "transaction_mode": "IMMEDIATE",
            "timeout": 30,
        },
    }


DATABASES = {"default": _database()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Blob storage (encrypted uploads) -----------------------------------------------------

TIPLINE_STORAGE = envchoice("TIPLINE_STORAGE", "local", ["local", "s3"])


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
            # Unset: boto3's default ("auto").
            "addressing_style": (
                envchoice("AWS_S3_ADDRESSING_STYLE", "auto", ["auto", "virtual", "path"])
                if envstr("AWS_S3_ADDRESSING_STYLE", "")
                else None
            ),
        },
    }


STORAGES = {
    "default": _blob_storage(),
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# --- Cache --------------------------------------------------------------------------------
# It holds the flood counters of tipline.intake.flood (see TIPLINE_FLOOD_TIPS_PER_HOUR
# below) and the marks of used forms of tipline.intake.form_token, nothing else.


# A name of our own inside it, checked before use (tipline/intake/cache.py).
_MEMORY_FS = "/dev/shm"  # noqa: S108


def _cache() -> dict:
    url = secret_from_env("CACHE_URL") or ""
    if url.startswith(("redis://", "rediss://", "unix://")):
        return {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": url}
    if url:
        # The URL may hold a password: never echo it.
        raise ConfigError("CACHE_URL must start with redis://, rediss:// or unix://")
    # Files on a memory file system: the web server's processes on one host share
    # them with no other service to run, and nothing of them reaches the disk (a
    # file rewritten at every tip dated the last one; tipline/intake/cache.py).
    # Kept out of the database so no dump or backup holds the counter. The
    # folder's name comes from the secret key, so no other account can make it first.
    if not os.path.isdir(_MEMORY_FS):
        # No memory file system: each process counts for itself (`manage.py
        # tipline_status` warns; a form sent twice to two processes makes two tips).
        return {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "tipline"}
    name = hashlib.sha256(f"{SECRET_KEY}\0{DATA_DIR}".encode()).hexdigest()[:32]
    return {
        "BACKEND": "tipline.intake.cache.MemoryFileCache",
        "LOCATION": os.path.join(_MEMORY_FS, f"tipline-{name}"),
        # One entry per form used in the last TIPLINE_FORM_TOKEN_HOURS: Django's
        # 300 would cull (at random) used-form marks and flood counters in a flood.
        "OPTIONS": {"MAX_ENTRIES": 100_000},
    }


CACHES = {"default": _cache()}

# --- Celery -------------------------------------------------------------------------------

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
# The soft limit, a minute earlier, lets the task clean up; it is at least a
# minute itself, so the hard limit must be two.
CELERY_TASK_TIME_LIMIT = envint("TIPLINE_TASK_TIME_LIMIT", 3600, minimum=120)
CELERY_TASK_SOFT_TIME_LIMIT = CELERY_TASK_TIME_LIMIT - 60
# Redis hands an unacknowledged task to another worker after this long: keep it
# above the time limit, or a file near the limit is cleaned twice at once.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_TASK_TIME_LIMIT + 600}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# --- Safe copies (tipline/worker/safe_copy.py, docs/sanitize.md "Safe copies") -------------

# "auto": bubblewrap where the kernel allows it, else `unshare -n`; with neither,
# no safe copy is made ("could not be made"), never one outside a sandbox.
TIPLINE_SAFE_COPIES = envbool("TIPLINE_SAFE_COPIES", True)
TIPLINE_SANDBOX = envchoice("TIPLINE_SANDBOX", "auto", ["auto", "bubblewrap", "unshare"])
TIPLINE_SAFE_COPY_DPI = envint("TIPLINE_SAFE_COPY_DPI", 150, minimum=50, maximum=300)
TIPLINE_SAFE_COPY_MAX_PAGES = envint("TIPLINE_SAFE_COPY_MAX_PAGES", 300, minimum=1, maximum=5000)
TIPLINE_SAFE_COPY_OCR = envbool("TIPLINE_SAFE_COPY_OCR", True)
TIPLINE_SAFE_COPY_MEMORY_MB = envint(
    "TIPLINE_SAFE_COPY_MEMORY_MB", 3072, minimum=512, maximum=65536
)
TIPLINE_SAFE_COPY_CPU_SECONDS = envint(
    "TIPLINE_SAFE_COPY_CPU_SECONDS", 600, minimum=10, maximum=7200
)
# The whole conversion, wall clock: below the task's own limit, so a hang is
# killed by us (and marked) before Celery kills the task.
TIPLINE_SAFE_COPY_SECONDS = envint(
    "TIPLINE_SAFE_COPY_SECONDS",
    min(900, CELERY_TASK_SOFT_TIME_LIMIT - 30),
    minimum=10,
    maximum=CELERY_TASK_SOFT_TIME_LIMIT - 30,
)
TIPLINE_SAFE_COPY_SCRATCH_MB = envint("TIPLINE_SAFE_COPY_SCRATCH_MB", 512, minimum=64, maximum=8192)
TIPLINE_SAFE_COPY_MAX_OUTPUT_MB = envint(
    "TIPLINE_SAFE_COPY_MAX_OUTPUT_MB", 8192, minimum=16, maximum=65536
)

# --- Intake limits ------------------------------------------------------------------------

# Not configuration: a unit. Read by tipline.intake.messages and
# tipline.intake.views (MB in the refusal messages and on the form); to move there.
_MIB = 1024 * 1024
TIPLINE_MAX_FILE_BYTES = envint("TIPLINE_MAX_FILE_MB", 1024, minimum=1) * _MIB
TIPLINE_MAX_TIP_BYTES = envint("TIPLINE_MAX_TIP_MB", 2048, minimum=1) * _MIB
if TIPLINE_MAX_TIP_BYTES < TIPLINE_MAX_FILE_BYTES:
    # Else a file under its own limit would be refused as "the tip is too large".
    raise ConfigError(
        f"TIPLINE_MAX_TIP_MB ({TIPLINE_MAX_TIP_BYTES // _MIB}) must not be smaller than "
        f"TIPLINE_MAX_FILE_MB ({TIPLINE_MAX_FILE_BYTES // _MIB})"
    )
TIPLINE_MAX_FILES = envint("TIPLINE_MAX_FILES", 20, minimum=1)
# A note and its links travel as form fields, which DATA_UPLOAD_MAX_MEMORY_SIZE
# (below) caps at 256 KiB: 50,000 characters are at most 200 KB of UTF-8.
TIPLINE_MAX_NOTE_CHARS = envint("TIPLINE_MAX_NOTE_CHARS", 20000, minimum=1, maximum=50000)
TIPLINE_MAX_LINKS = envint("TIPLINE_MAX_LINKS", 20, minimum=0, maximum=100)
# Received dates are stored coarsened to this many hours (24 = the day). The
# hours of a day are cut into equal slots (tipline.intake.services.coarse_now),
# so the number must divide 24.
TIPLINE_RECEIVED_GRANULARITY_HOURS = envint(
    "TIPLINE_RECEIVED_GRANULARITY_HOURS", 24, minimum=1, maximum=24
)
if 24 % TIPLINE_RECEIVED_GRANULARITY_HOURS:
    raise ConfigError(
        "TIPLINE_RECEIVED_GRANULARITY_HOURS must divide 24 (1, 2, 3, 4, 6, 8, 12 or 24), "
        f"not {TIPLINE_RECEIVED_GRANULARITY_HOURS}"
    )
# A flood of tips is contained for the whole installation, never per client: a
# per-client limit needs an address (Tor users share exits, an onion service
# sees none) and even a keyed hash of one is a record of who sent. No tip is
# refused: beyond this many forms or tips in a clock hour, tips are marked
# "arrived during a flood" and kept apart in the inbox (tipline.intake.flood).
TIPLINE_FLOOD_TIPS_PER_HOUR = envint(
    "TIPLINE_FLOOD_TIPS_PER_HOUR", 120, minimum=1, maximum=1_000_000
)
# How long a form stays good for one tip (tipline.intake.form_token): generous,
# a source may write for a long time and a large video over Tor takes an hour.
TIPLINE_FORM_TOKEN_HOURS = envint("TIPLINE_FORM_TOKEN_HOURS", 12, minimum=1, maximum=72)

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
# Whatever a file-system storage saves is the tip line's alone (the process's
# umask, config/bootstrap.py, says the same for what Django does not create).
FILE_UPLOAD_PERMISSIONS = 0o600
FILE_UPLOAD_DIRECTORY_PERMISSIONS = 0o700
# New files are refused (a note without files never is) while they would leave
# less than this free on the disk of the blob storage; 0 = no check. Local
# storage only: an object store has no disk to fill (tipline.intake.reserve).
TIPLINE_STORAGE_RESERVE_MB = envint("TIPLINE_STORAGE_RESERVE_MB", 1024, minimum=0)

# --- The web server (tipline/server, config/server.py) ------------------------------------
# Django work in flight at once, per worker process and per side: the source
# pages and the staff pages (/staff/) each have their own threads, so one side
# cannot take the other's. A request waiting for one waits in the event loop,
# which costs memory only; an upload takes a source thread only for its last
# step, once its body has arrived.
TIPLINE_SOURCE_CONCURRENCY = envint("TIPLINE_SOURCE_CONCURRENCY", 8, minimum=1, maximum=256)
TIPLINE_STAFF_CONCURRENCY = envint("TIPLINE_STAFF_CONCURRENCY", 4, minimum=1, maximum=256)
# The body of any request but an upload is read into memory before Django
# sees it: a larger one is refused (413), from its Content-Length when it has one.
TIPLINE_MAX_REQUEST_BODY_KB = envint(
    "TIPLINE_MAX_REQUEST_BODY_KB", 1024, minimum=64, maximum=64 * 1024
)
# A client that has not sent its request headers this long after connecting
# (or after the previous response) is disconnected.
TIPLINE_HEADER_TIMEOUT_SECONDS = envint(
    "TIPLINE_HEADER_TIMEOUT_SECONDS", 60, minimum=1, maximum=3600
)
# A request body that brings fewer than RATE x WINDOW bytes in a window of
# WINDOW seconds (time the server itself spends not counted) is cut off, and
# nothing of it kept. Sized for Tor: a slow circuit gives a few KiB/s and may
# stall for a minute; 128 B/s over two minutes cuts only clients holding a
# connection open on purpose.
TIPLINE_MIN_UPLOAD_BYTES_PER_SECOND = envint(
    "TIPLINE_MIN_UPLOAD_BYTES_PER_SECOND", 128, minimum=1, maximum=1024 * 1024
)
TIPLINE_MIN_UPLOAD_WINDOW_SECONDS = envint(
    "TIPLINE_MIN_UPLOAD_WINDOW_SECONDS", 120, minimum=1, maximum=3600
)

# --- Staff accounts and sign-in -----------------------------------------------------------

LOGIN_URL = "staff:login"
# Argon2id for staff passwords; the editor's private key is sealed separately
# under Argon2id too, with its own parameters (tipline.triage.accounts).
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
# Only staff have sessions; the editor's key is forgotten with the session.
SESSION_COOKIE_AGE = envint("TIPLINE_SESSION_HOURS", 8, minimum=1) * 3600
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
# Consecutive failed logins before an account locks; the lock lasts
# TIPLINE_LOGIN_LOCK_MINUTES and doubles with each further failure, up to a
# day (so a first lock longer than a day would be cut to one).
TIPLINE_LOGIN_FAILURES_BEFORE_LOCK = envint("TIPLINE_LOGIN_FAILURES_BEFORE_LOCK", 5, minimum=1)
TIPLINE_LOGIN_LOCK_MINUTES = envint("TIPLINE_LOGIN_LOCK_MINUTES", 15, minimum=1, maximum=1440)
# django-otp's own; the enrolment URI reads TIPLINE_SITE_NAME at each call
# (tipline/accounts/second_factor.py, authenticator_issuer).
OTP_TOTP_ISSUER = TIPLINE_SITE_NAME or "Tip line"
# The account lock above already limits guesses (and counts only attempts with
# the right password). django-otp's own per-device delay on top would refuse a
# right code typed a second after a typo and count that as one more failure.
OTP_TOTP_THROTTLE_FACTOR = 0
OTP_STATIC_THROTTLE_FACTOR = 0
# The secret that seals authenticator secrets and keys the hashes of backup and
# sign-in codes (tipline/accounts/second_factor.py). Never in the database, so
# a dump alone opens no second factor: TIPLINE_SECOND_FACTOR_KEY (or its _FILE)
# when set (every web process needs the same one), else the file
# config.bootstrap generates into the data dir. Empty only when imported
# without the bootstrap: staff sign-in then refuses to start (fails closed).
TIPLINE_SECOND_FACTOR_KEY = secret_from_env("TIPLINE_SECOND_FACTOR_KEY") or (
    read_generated_secret(DATA_DIR / SECOND_FACTOR_KEY_FILE_NAME) or ""
)
if TIPLINE_SECOND_FACTOR_KEY and len(TIPLINE_SECOND_FACTOR_KEY) < 32:
    raise ConfigError("TIPLINE_SECOND_FACTOR_KEY must be at least 32 characters")
# Password checks (Argon2id, ~100 MiB each) run at once per process; more wait
# in line up to TIPLINE_PASSWORD_CHECK_WAIT_SECONDS, then get a "try again"
# page. Bounds the memory a burst of sign-ins can take (tipline/accounts/checks.py).
TIPLINE_PASSWORD_CHECKS_AT_ONCE = envint(
    "TIPLINE_PASSWORD_CHECKS_AT_ONCE", 2, minimum=1, maximum=64
)
TIPLINE_PASSWORD_CHECK_WAIT_SECONDS = envint(
    "TIPLINE_PASSWORD_CHECK_WAIT_SECONDS", 10, minimum=1, maximum=120
)

# Sources come back (tipline/conversation/): each check-back derives the source's
# key with Argon2id (64 MiB). Per process, TIPLINE_CHECKBACKS_AT_ONCE run and at
# most TIPLINE_CHECKBACKS_WAITING wait (up to TIPLINE_CHECKBACK_WAIT_SECONDS);
# beyond that a check-back is told "busy" at once, so the source form always
# keeps most of the source threads (tipline/conversation/checks.py). A visit
# ends after TIPLINE_CHECKBACK_IDLE_MINUTES without a request.
TIPLINE_CHECKBACKS_AT_ONCE = envint("TIPLINE_CHECKBACKS_AT_ONCE", 1, minimum=1, maximum=16)
TIPLINE_CHECKBACKS_WAITING = envint("TIPLINE_CHECKBACKS_WAITING", 2, minimum=0, maximum=64)
TIPLINE_CHECKBACK_WAIT_SECONDS = envint("TIPLINE_CHECKBACK_WAIT_SECONDS", 5, minimum=1, maximum=60)
TIPLINE_CHECKBACK_IDLE_MINUTES = envint(
    "TIPLINE_CHECKBACK_IDLE_MINUTES", 15, minimum=1, maximum=120
)

# --- Retention and the daily run ----------------------------------------------------------

# Raw uploads nobody will process any more (an upload cut off by a crash, a
# file the pipeline tried and failed on) are deleted after this many hours.
TIPLINE_ABANDONED_UPLOAD_HOURS = envint("TIPLINE_ABANDONED_UPLOAD_HOURS", 72, minimum=1)
# Tips deleted per transaction by the purge.
TIPLINE_PURGE_BATCH_SIZE = envint("TIPLINE_PURGE_BATCH_SIZE", 200, minimum=1)
# The hour (UTC) of the daily purge, sweep and notification (Celery beat, or
# the web process itself in the embedded default).
TIPLINE_DAILY_RUN_HOUR = envint("TIPLINE_DAILY_RUN_HOUR", 3, minimum=0, maximum=23)
# New blobs wait in the storage's spool and are stored in shuffled batches, one
# at the end of each window of this many minutes (windows start at midnight
# UTC), so the disk and the bucket date a tip to its window, not its second
# (tipline/retention/settle.py, docs/arrivals.md). Beat's crontab and the
# windows need a divisor of 60 or a whole number of hours dividing 24.
TIPLINE_ARRIVAL_BATCH_MINUTES = envint("TIPLINE_ARRIVAL_BATCH_MINUTES", 60, minimum=1, maximum=1440)
if 60 % TIPLINE_ARRIVAL_BATCH_MINUTES and (
    TIPLINE_ARRIVAL_BATCH_MINUTES % 60 or 1440 % TIPLINE_ARRIVAL_BATCH_MINUTES
):
    raise ConfigError(
        "TIPLINE_ARRIVAL_BATCH_MINUTES must divide 60 (1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30) "
        "or be whole hours dividing 24 (60, 120, 180, 240, 360, 480, 720, 1440), "
        f"not {TIPLINE_ARRIVAL_BATCH_MINUTES}"
    )
# The sweep sees a blob's time only to its window: an upload still arriving
# must never look abandoned.
if TIPLINE_ABANDONED_UPLOAD_HOURS * 60 < 2 * TIPLINE_ARRIVAL_BATCH_MINUTES:
    raise ConfigError(
        f"TIPLINE_ABANDONED_UPLOAD_HOURS ({TIPLINE_ABANDONED_UPLOAD_HOURS}) must be at least "
        f"two arrival windows (TIPLINE_ARRIVAL_BATCH_MINUTES={TIPLINE_ARRIVAL_BATCH_MINUTES})"
    )

# --- Email --------------------------------------------------------------------------------

# A fixed daily email to editors with an address ("check the tip line"): no
# content, no count, the same every day, so the mail provider learns nothing.
TIPLINE_NOTIFY_EMAIL = envbool("TIPLINE_NOTIFY_EMAIL", False)
EMAIL_HOST = envstr("EMAIL_HOST", "")
EMAIL_PORT = envint("EMAIL_PORT", 587, minimum=1, maximum=65535)
EMAIL_HOST_USER = envstr("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = secret_from_env("EMAIL_HOST_PASSWORD") or ""
EMAIL_USE_TLS = envbool("EMAIL_USE_TLS", True)
DEFAULT_FROM_EMAIL = envstr("DEFAULT_FROM_EMAIL", "tipline@localhost")
EMAIL_BACKEND = (
    "django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_HOST
    else "django.core.mail.backends.dummy.EmailBackend"
)

# --- Transport and security ---------------------------------------------------------------

# Cookies. Browsers treat 127.0.0.1, localhost and .onion as secure contexts,
# so Secure cookies work for `make run` and onion services as well as behind TLS.
TIPLINE_SECURE_COOKIES = envbool("TIPLINE_SECURE_COOKIES", True)
SESSION_COOKIE_SECURE = TIPLINE_SECURE_COOKIES
CSRF_COOKIE_SECURE = TIPLINE_SECURE_COOKIES
# Browsers accept a `__Host-` cookie only if it is Secure, for Path=/, with no
# Domain, from the host itself: a page on a sibling subdomain cannot plant or
# replace it (tipline/csrf.py). The prefix needs Secure, so it goes with it;
# tipline/checks.py warns when it is missing and stops on a mismatch.
TIPLINE_COOKIE_PREFIX = "__Host-" if TIPLINE_SECURE_COOKIES else ""
SESSION_COOKIE_NAME = TIPLINE_COOKIE_PREFIX + "sessionid"
CSRF_COOKIE_NAME = TIPLINE_COOKIE_PREFIX + "csrftoken"
# Never set by the site, but read by the staff pages' LocaleMiddleware if present.
LANGUAGE_COOKIE_NAME = TIPLINE_COOKIE_PREFIX + "django_language"
# Staff messages in the session, not in a `messages` cookie of their own.
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Strict"
# A session cookie (no expiry) so nothing outlives the source's browser session.
CSRF_COOKIE_AGE = None
CSRF_COOKIE_SAMESITE = "Strict"
CSRF_COOKIE_HTTPONLY = True
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS", "")
CSRF_FAILURE_VIEW = "tipline.views.csrf_failure"
# Django's security.W003 looks for the stock CsrfViewMiddleware by name; ours is
# a subclass (tipline/csrf.py). tipline/checks.py checks for the subclass and,
# in place of security.W016 (skipped once W003 fires), for the Secure cookie.
SILENCED_SYSTEM_CHECKS = ["security.W003"]

# TLS: behind it, redirect to HTTPS and send HSTS (0 seconds = no HSTS).
TIPLINE_HTTPS = envbool("TIPLINE_HTTPS", False)
if TIPLINE_HTTPS:
    SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", 63072000, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = envbool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = envbool("SECURE_HSTS_PRELOAD", False)
if envbool("TIPLINE_BEHIND_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

SECURE_CONTENT_TYPE_NOSNIFF = True
# Our own pages get the referrer (so a form post carries its real Origin,
# which tipline/csrf.py requires); every other site gets nothing, as with
# no-referrer. Also in templates/base.html, for the document itself.
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# Sent as Onion-Location (tipline.middleware), so Tor Browser offers the onion service.
TIPLINE_ONION_URL = envstr("TIPLINE_ONION_URL", "")
if TIPLINE_ONION_URL:
    _onion = urlsplit(TIPLINE_ONION_URL)
    if _onion.scheme not in {"http", "https"} or not (_onion.hostname or "").endswith(".onion"):
        raise ConfigError(
            f"TIPLINE_ONION_URL must be an http:// or https:// address ending in .onion, "
            f"not {TIPLINE_ONION_URL!r}"
        )

# No inline script or style anywhere, nothing from another host, no framing.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'none'"],
        # Our own scripts only (static/upload.js: resumable uploads), sending only to us.
        "script-src": ["'self'"],
        "connect-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
        "base-uri": ["'none'"],
    }
}

# --- Logging ------------------------------------------------------------------------------

LOG_LEVEL = envchoice(
    "LOG_LEVEL", "INFO", ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"], ignore_case=True
)
# Records pass a filter that removes anything shaped like a network address, and
# Django's request logger never gets the request's client details.
LOGGING = scrubbed_logging_config(
    root_level=LOG_LEVEL,
    loggers={
        # Its records carry the request; 4xx noise says nothing we need.
        "django.request": {"level": "ERROR"},
        "django.security.DisallowedHost": {"handlers": [], "propagate": False},
        # A line per task ("Received task", "succeeded in 0.4s") is a line per
        # file, timestamped by the journal: it dates arrivals. Failures still show.
        "celery.app.trace": {"level": "WARNING"},
        "celery.worker.strategy": {"level": "WARNING"},
    },
)
# Never set: Django would email every server error with the request's client
# address and user agent, past the logging filter that removes addresses.
ADMINS: list = []
