"""Django settings for labeler, read from the environment (twelve-factor).

Every value has a safe default for the embedded mode (SQLite file under ``var/``,
Celery tasks in-process); production sets ``DEBUG`` off and supplies the rest.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from labeler.secret_key import local_secret_key
from labeler.site_address import site_address_check
from labeler.task_names import Task

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("LABELER_VAR_DIR") or BASE_DIR / "var")


def env_bool(name: str, default: bool) -> bool:
    """Read a boolean from the environment (1/true/yes/on, case-insensitive)."""
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    """Read an integer from the environment, failing loudly on a malformed value."""
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be an integer, got {value!r}.") from exc


def env_list(name: str, default: list[str]) -> list[str]:
    """Read a comma-separated list from the environment."""
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


DEBUG = env_bool("DEBUG", False)

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY must be set when DEBUG is off (for local work, set DEBUG=1)."
        )
    # Local work: this install's own random key, made on first use under var/ (mode 0600).
    SECRET_KEY = local_secret_key(VAR_DIR / "secret_key")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
# The address people reach the site at: every e-mailed, invitation, exported and answered
# link starts with it (labeler.site_address), never with a request's Host header. By
# default the address `make run` serves on.
try:
    LABELER_SITE_URL = site_address_check(
        os.environ.get("LABELER_SITE_URL") or "http://127.0.0.1:8000"
    )
except ValueError as wrong:
    raise ImproperlyConfigured(str(wrong)) from None

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "csp",
    "labeler.projects",
    "labeler.images",
    "labeler.annotations",
    "labeler.agreement",
    "labeler.predictions",
    "labeler.imports",
    "labeler.references",
    "labeler.exports",
    "labeler.serving",
    "labeler.monitoring",
    "labeler.webhooks",
    "labeler.bulk",
    "labeler.erasure",
    "labeler.demo",
    "labeler.idempotency",
    "labeler.outbox",
    "labeler.audit",
    "labeler.sso",
    "api",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Binds the request and its client address for the audit trail's entries.
    "labeler.http.middleware.AuditRequest",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, so that its 400 still passes the others and gets their headers.
    "labeler.http.middleware.UnsafeTextRefused",
]

ROOT_URLCONF = "labeler.urls"
WSGI_APPLICATION = "labeler.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "labeler.site_address.site_address_context",
            ],
            # Dates and times as every page writes them: |when, |when_text, |iso.
            "builtins": ["labeler.web.when"],
        },
    },
]

# Cache: Redis when REDIS_URL is set (shared by web processes and workers), else memory.
# Short socket timeouts: a Redis that is down fails a cache call quickly, never a request.
# (labeler.http.redis_cache: Django's backend, its redis-py client made once, not per call.)
REDIS_URL = os.environ.get("REDIS_URL", "")
CACHES = {
    "default": (
        {
            "BACKEND": "labeler.http.redis_cache.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 2},
        }
        if REDIS_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

# Sessions are read from the cache and written through to the database: a page or API
# call by a logged-in user costs no session query, and a cache flush logs nobody out.
# (labeler.http.sessions: Django's cached_db, which also serves sessions while the cache is down).
SESSION_ENGINE = "labeler.http.sessions"
# Django's backend, with the session's user read by a fixed statement (labeler.http.backends).
# Single sign-on's (labeler.sso.backend) answers nothing until OIDC_RP_CLIENT_ID is set.
AUTHENTICATION_BACKENDS = ["labeler.http.backends.UserBackend", "labeler.sso.backend.OidcBackend"]

# Database: DATABASE_URL (postgres://user:pass@host:5432/name or sqlite:///path);
# the default is a SQLite file under var/.
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'labeler.sqlite3'}",
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    # Connections are kept between requests here too (DATABASE_CONN_MAX_AGE): opening one
    # (the file, Django's functions registered, the pragmas) cost a millisecond of CPU,
    # on every request and on every write of the served-predictions log.
    # IMMEDIATE transactions take SQLite's write lock up front, so two requests can
    # never both read a free queue slot and then both claim it.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = os.environ.get("TIME_ZONE") or "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT") or VAR_DIR / "static")
# Front-end packages come from npm (package.json, `npm ci`); only their dist folders are served.
STATICFILES_DIRS = [
    BASE_DIR / "static",
    ("vendor/panzoom", BASE_DIR / "node_modules" / "@panzoom" / "panzoom" / "dist"),
]
MEDIA_URL = "media/"
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT") or VAR_DIR / "media")

# File storage: the local filesystem by default, any S3-compatible store with
# FILE_STORAGE=s3 (install the "s3" extra; django-storages reads AWS_* settings).
FILE_STORAGE = os.environ.get("FILE_STORAGE") or "filesystem"
if FILE_STORAGE == "s3":
    _default_storage: dict = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": os.environ.get("AWS_STORAGE_BUCKET_NAME", ""),
            "endpoint_url": os.environ.get("AWS_S3_ENDPOINT_URL") or None,
            "region_name": os.environ.get("AWS_S3_REGION_NAME") or None,
            "access_key": os.environ.get("AWS_ACCESS_KEY_ID") or None,
            "secret_key": os.environ.get("AWS_SECRET_ACCESS_KEY") or None,
            "default_acl": None,
            "file_overwrite": False,
            "querystring_auth": True,
        },
    }
elif FILE_STORAGE == "filesystem":
    _default_storage = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
else:
    raise ImproperlyConfigured(f"FILE_STORAGE must be 'filesystem' or 's3', not {FILE_STORAGE!r}.")
STORAGES = {
    "default": _default_storage,
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# Upload limits. Files are streamed to disk above FILE_UPLOAD_MAX_MEMORY_SIZE.
LABELER_MAX_IMAGE_BYTES = env_int("LABELER_MAX_IMAGE_BYTES", 50 * 1024 * 1024)
LABELER_MAX_ARCHIVE_BYTES = env_int("LABELER_MAX_ARCHIVE_BYTES", 2 * 1024 * 1024 * 1024)
LABELER_MAX_ARCHIVE_MEMBERS = env_int("LABELER_MAX_ARCHIVE_MEMBERS", 20_000)
LABELER_MAX_ARCHIVE_UNCOMPRESSED_BYTES = env_int(
    "LABELER_MAX_ARCHIVE_UNCOMPRESSED_BYTES", 8 * 1024 * 1024 * 1024
)
LABELER_MAX_COMPRESSION_RATIO = env_int("LABELER_MAX_COMPRESSION_RATIO", 200)
LABELER_MAX_IMAGE_PIXELS = env_int("LABELER_MAX_IMAGE_PIXELS", 100_000_000)
# Strips of 100000 x 1 pixels pass the pixel cap; no photograph or scan is this long.
LABELER_MAX_IMAGE_SIDE = env_int("LABELER_MAX_IMAGE_SIDE", 30_000)
# The most memory checking one uploaded image may hold while decoding it (what a request
# holds at once: its files are checked one after another). Estimated from the header, so
# an image over it is refused before decoding; JPEG and WebP are decoded at 1/8 scale
# and PNG row by row, so only some formats near the pixel cap come close (docs/reliability.md).
LABELER_MAX_DECODE_BYTES = env_int("LABELER_MAX_DECODE_BYTES", 256 * 1024 * 1024)
LABELER_MAX_FILES_PER_REQUEST = env_int("LABELER_MAX_FILES_PER_REQUEST", 1000)
LABELER_THUMBNAIL_SIZE = env_int("LABELER_THUMBNAIL_SIZE", 256)
# The labelling page shows a copy of each photo at most this many pixels a side (the
# original only when zoomed in past it); smaller images are shown as they are.
LABELER_DISPLAY_SIZE = env_int("LABELER_DISPLAY_SIZE", 2048)
# Two images are near-duplicates when their perceptual hashes differ in at most this many
# of 64 bits (labeler.images.duplicates.finding; 7 is calibrated in docs/benchmarks.md). Up to 7
# a band of the index is searched exactly or one bit off; from 8 two bits off, slower.
# -1 turns grouping off (hashes are still kept).
LABELER_DUPLICATE_DISTANCE = env_int("LABELER_DUPLICATE_DISTANCE", 7)
# Images hashed by an older version of the hashing are hashed again in the background,
# this many per task (labeler.images.duplicates.hash_upgrade); beat looks for them this often.
LABELER_HASH_UPGRADE_BATCH = env_int("LABELER_HASH_UPGRADE_BATCH", 500)
LABELER_HASH_UPGRADE_SECONDS = env_int("LABELER_HASH_UPGRADE_SECONDS", 600)
if LABELER_HASH_UPGRADE_BATCH < 1 or LABELER_HASH_UPGRADE_SECONDS < 1:
    raise ImproperlyConfigured(
        "LABELER_HASH_UPGRADE_BATCH and LABELER_HASH_UPGRADE_SECONDS must be 1 or more, got "
        f"{LABELER_HASH_UPGRADE_BATCH} and {LABELER_HASH_UPGRADE_SECONDS}."
    )
# The longest an image's address works (labeler.images.delivery.links); a page hands out the same
# address for half this long, so that the browser's cache keeps hitting.
LABELER_FILE_LINK_SECONDS = env_int("LABELER_FILE_LINK_SECONDS", 3600)
if LABELER_FILE_LINK_SECONDS < 60:
    raise ImproperlyConfigured(
        f"LABELER_FILE_LINK_SECONDS must be 60 or more, got {LABELER_FILE_LINK_SECONDS}."
    )
# Images read in place (labeler.references, README "Images that stay where they are").
# Folders a lead may register (absolute paths, comma-separated; their links resolved);
# none: folder references are off. Every read checks the file's real path again.
LABELER_REFERENCE_ROOTS = env_list("LABELER_REFERENCE_ROOTS", [])
if any(not os.path.isabs(root) for root in LABELER_REFERENCE_ROOTS):
    raise ImproperlyConfigured(
        f"LABELER_REFERENCE_ROOTS must be absolute paths, got {LABELER_REFERENCE_ROOTS}."
    )
# Buckets a lead may register, or "*" for any the credentials below can list; none: off.
LABELER_REFERENCE_BUCKETS = env_list("LABELER_REFERENCE_BUCKETS", [])
# The S3-compatible service those buckets are read from (blank endpoint: AWS; blank
# credentials: boto3's own chain, e.g. AWS_ACCESS_KEY_ID or an instance role). Read-only
# credentials are enough: nothing is ever written to or deleted from a referenced bucket.
LABELER_S3_ENDPOINT_URL = os.environ.get("LABELER_S3_ENDPOINT_URL") or ""
LABELER_S3_REGION = os.environ.get("LABELER_S3_REGION") or ""
LABELER_S3_ACCESS_KEY_ID = os.environ.get("LABELER_S3_ACCESS_KEY_ID") or ""
LABELER_S3_SECRET_ACCESS_KEY = os.environ.get("LABELER_S3_SECRET_ACCESS_KEY") or ""
# Browsers fetch a bucket's images from presigned addresses that work this many seconds
# (60 to 604800, S3's longest), signed for the endpoint browsers reach (blank: the one
# above). LABELER_S3_PRESIGN=0 streams them through this site's signed links instead.
LABELER_S3_PRESIGN = env_bool("LABELER_S3_PRESIGN", True)
LABELER_S3_PRESIGN_SECONDS = env_int("LABELER_S3_PRESIGN_SECONDS", 900)
if not 60 <= LABELER_S3_PRESIGN_SECONDS <= 604_800:
    raise ImproperlyConfigured(
        f"LABELER_S3_PRESIGN_SECONDS must be 60 to 604800, got {LABELER_S3_PRESIGN_SECONDS}."
    )
LABELER_S3_PUBLIC_ENDPOINT_URL = os.environ.get("LABELER_S3_PUBLIC_ENDPOINT_URL") or ""

LABELER_LEASE_SECONDS = env_int("LABELER_LEASE_SECONDS", 600)
# Live leases one annotator may hold in a project: the labelling page's look-ahead needs 5.
LABELER_MAX_LEASES = env_int("LABELER_MAX_LEASES", 10)
# How long an expired lease is kept: a label sent that late (a page's saved work sent
# after a lost connection) is still taken while its image has room for it.
LABELER_LATE_SUBMIT_SECONDS = env_int("LABELER_LATE_SUBMIT_SECONDS", 7 * 24 * 3600)
# Larger selections are refused for direct download: a background export writes them.
LABELER_EXPORT_DIRECT_MAX_IMAGES = env_int("LABELER_EXPORT_DIRECT_MAX_IMAGES", 10_000)
# Finished (or failed) background exports are deleted, file and row, once older than this
# many days, and beyond the newest this many of a project; 0 turns either rule off.
LABELER_EXPORT_KEEP_DAYS = env_int("LABELER_EXPORT_KEEP_DAYS", 14)
# Audit entries older than this many days are purged (hourly by beat); 0 keeps them forever.
LABELER_AUDIT_KEEP_DAYS = env_int("LABELER_AUDIT_KEEP_DAYS", 400)
# Requests refused for a role short of the route's (403) recorded per actor and minute;
# those over it are counted, and the actor's next recorded refusal says how many.
LABELER_AUDIT_REFUSALS_PER_MINUTE = env_int("LABELER_AUDIT_REFUSALS_PER_MINUTE", 10)
LABELER_EXPORT_KEEP_LAST = env_int("LABELER_EXPORT_KEEP_LAST", 10)
# Threads an archive export converts HEIC, AVIF and GIF images on while it copies the
# others: each holds one decode (within LABELER_MAX_DECODE_BYTES) at a time.
LABELER_EXPORT_CONVERT_THREADS = env_int("LABELER_EXPORT_CONVERT_THREADS", 2)
# Images prepared before converted copies were kept get theirs in the background: beat's
# every 5 minutes, at most this many (a 12-megapixel HEIC: most of a second); 0: never.
LABELER_CONVERTED_BACKFILL_BATCH = env_int("LABELER_CONVERTED_BACKFILL_BATCH", 100)
FILE_UPLOAD_MAX_MEMORY_SIZE = env_int("FILE_UPLOAD_MAX_MEMORY_SIZE", 5 * 1024 * 1024)
# A request's uploaded files stay in memory up to this many bytes together, the rest go
# to temporary files (labeler.images.upload_handler): a batch of photos is parsed without
# a round trip through the disk, an archive of gigabytes still is not held in memory.
LABELER_UPLOAD_MEMORY_BYTES = env_int("LABELER_UPLOAD_MEMORY_BYTES", 128 * 1024 * 1024)
FILE_UPLOAD_HANDLERS = ["labeler.images.upload_handler.SpooledUploadHandler"]
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DATA_UPLOAD_MAX_MEMORY_SIZE", 10 * 1024 * 1024)
DATA_UPLOAD_MAX_NUMBER_FILES = LABELER_MAX_FILES_PER_REQUEST
FILE_UPLOAD_TEMP_DIR = os.environ.get("FILE_UPLOAD_TEMP_DIR") or None

# Celery: with a broker URL tasks go to workers; with none they run in-process.
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL") or os.environ.get("REDIS_URL") or ""
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
if CELERY_TASK_ALWAYS_EAGER:
    CELERY_BROKER_URL = "memory://localhost/"  # never reached: tasks run in the calling process
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_IGNORE_RESULT = True
# Only the tasks a request waits on keep a result (ignore_result=False: the prediction
# API's), in the broker's Redis, for a minute: the caller reads it at once.
CELERY_RESULT_BACKEND = None if CELERY_TASK_ALWAYS_EAGER else CELERY_BROKER_URL
CELERY_RESULT_EXPIRES = 60
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {
    # The prediction API's own queue and workers: a caller waits on these, and on the gpu
    # queue they would wait behind every training (docker-compose's worker-serve).
    Task.ML_SERVE_PREDICT: {"queue": "serve"},
    Task.ML_SERVE_JOB: {"queue": "serve"},
    "worker.tasks.ml_*": {"queue": "gpu"},  # Task.ML_TRAIN, Task.ML_PREDICT
    # Exports read the database and storage only: any CPU worker writes them.
    Task.EXPORT_RUN: {"queue": "default"},
    Task.EXPORT_RUN_SMALL: {"queue": "default"},
    Task.BULK_RUN: {"queue": "default"},
    Task.WEBHOOK_DELIVER: {"queue": "default"},  # network only: any CPU worker
    Task.EXPLANATION_RENDER: {"queue": "gpu"},  # a forward and a backward pass of a model
}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A web request that sends a task while the broker is down gives up within about a
# second and a half (the intent is kept in the database and sent again by beat).
CELERY_BROKER_CONNECTION_TIMEOUT = 1
# A task taken by a worker that then died whole (killed, its host lost) is delivered again
# once it has been unacknowledged this long: longer than any one task runs (a training
# redelivered while its heartbeat is live does nothing; an export would be written twice).
# Every worker looks for such tasks every 10 s (kombu's default looks every 100 s).
LABELER_BROKER_VISIBILITY_SECONDS = env_int("LABELER_BROKER_VISIBILITY_SECONDS", 3600)
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "socket_connect_timeout": 1,
    "socket_timeout": 2,
    "visibility_timeout": LABELER_BROKER_VISIBILITY_SECONDS,
    "unacked_restore_interval": 10,
    "unacked_restore_throttle": 1,
}
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 2,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.2,
}
CELERY_TIMEZONE = TIME_ZONE
# Final labels and agreement caches are refreshed in the background at most once per this
# many seconds per project, by one run that sees every label given meanwhile.
AGREEMENT_REFRESH_SECONDS = env_int("AGREEMENT_REFRESH_SECONDS", 10)
# How often beat looks for projects due a drift check (labeler.monitoring).
LABELER_DRIFT_CHECK_SECONDS = env_int("LABELER_DRIFT_CHECK_SECONDS", 3600)
CELERY_BEAT_SCHEDULE = {
    "purge-expired-leases": {
        "task": Task.ASSIGNMENTS_PURGE_EXPIRED,
        "schedule": 300.0,
    },
    "reap-stale-training-runs": {
        "task": Task.TRAINING_RUNS_REAP,
        "schedule": 300.0,
    },
    "purge-expired-idempotency-keys": {
        "task": Task.IDEMPOTENCY_PURGE_EXPIRED,
        "schedule": 3600.0,
    },
    # Archives the import page kept for a second step that never came (an hour at most).
    "purge-import-stashes": {
        "task": Task.IMPORT_STASHES_PURGE,
        "schedule": 900.0,
    },
    # Exports past their project's export_keep_days (null: LABELER_EXPORT_KEEP_DAYS) or
    # LABELER_EXPORT_KEEP_LAST (also after each export).
    "purge-old-exports": {
        "task": Task.EXPORTS_PURGE,
        "schedule": 3600.0,
    },
    # Audit entries past LABELER_AUDIT_KEEP_DAYS (the oldest only; the chain stays checkable).
    "purge-old-audit-entries": {
        "task": Task.AUDIT_PURGE,
        "schedule": 3600.0,
    },
    # Work whose sending failed while the broker or the cache was down.
    "refresh-overdue-agreement": {
        "task": Task.AGREEMENT_REFRESH_OVERDUE,
        "schedule": 60.0,
    },
    "resend-queued-training-runs": {
        "task": Task.TRAINING_RUNS_RESEND,
        "schedule": 300.0,
    },
    "send-outbox": {
        "task": Task.OUTBOX_SEND,
        "schedule": 60.0,
    },
    # Images hashed by an older version of the near-duplicate hashing (after an upgrade).
    "upgrade-outdated-hashes": {
        "task": Task.HASHES_UPGRADE,
        "schedule": float(LABELER_HASH_UPGRADE_SECONDS),
    },
    # Converted copies of HEIC, AVIF and GIF images prepared before they were kept.
    "make-converted-copies": {
        "task": Task.IMAGES_CONVERTED_BACKFILL,
        "schedule": 300.0,
    },
    # Drift checks of the projects whose window holds enough served predictions.
    "check-drift": {
        "task": Task.DRIFT_CHECKS_DUE,
        "schedule": float(LABELER_DRIFT_CHECK_SECONDS),
    },
    # Served predictions past each project's served_log_days; expired prediction jobs.
    "purge-served-predictions": {
        "task": Task.SERVED_PREDICTIONS_PURGE,
        "schedule": 3600.0,
    },
}

# Model in the loop. Training and pre-labelling run on the "gpu" queue's workers.
LABELER_DEVICE = os.environ.get("LABELER_DEVICE") or "auto"  # auto | cuda | mps | cpu
LABELER_TORCH_THREADS = env_int("LABELER_TORCH_THREADS", 0)  # 0: every core
LABELER_MODEL_DIR = Path(os.environ.get("LABELER_MODEL_DIR") or VAR_DIR / "models")
LABELER_PRETRAINED_DIR = os.environ.get("LABELER_PRETRAINED_DIR", "")
# On CUDA, pre-labelling may decode large JPEGs not yet kept as inputs on the GPU (nvJPEG);
# off by default: measured on an H200 it was slower than the CPU's threads (docs/benchmarks.md).
LABELER_GPU_DECODE = env_bool("LABELER_GPU_DECODE", False)
LABELER_PRELABEL_CHUNK = env_int("LABELER_PRELABEL_CHUNK", 1024)
# The prediction API (labeler.serving): requests of up to this many images are answered at
# once, larger ones (up to the max) become a job to poll, kept this many hours; a request
# answered at once waits this long for the worker before answering 503.
LABELER_PREDICT_SYNC_MAX = env_int("LABELER_PREDICT_SYNC_MAX", 64)
# A request that asks for heat maps (a backward pass and a PNG each) sends at most this many.
LABELER_PREDICT_EXPLAIN_MAX = env_int("LABELER_PREDICT_EXPLAIN_MAX", 16)
LABELER_PREDICT_MAX_IMAGES = env_int("LABELER_PREDICT_MAX_IMAGES", 1000)
LABELER_PREDICT_JOB_KEEP_HOURS = env_int("LABELER_PREDICT_JOB_KEEP_HOURS", 24)
LABELER_PREDICT_TIMEOUT_SECONDS = env_int("LABELER_PREDICT_TIMEOUT_SECONDS", 60)
# The serving process runs a model on the CPU through ONNX Runtime (its graph exported once
# a weights file, kept in LABELER_MODEL_DIR/serving/); off: torch. Requests that arrive
# while a batch runs go in the next one; a batch that is not full waits this long for more
# (0: a lone request runs at once).
LABELER_SERVE_ONNX = env_bool("LABELER_SERVE_ONNX", True)
LABELER_PREDICT_BATCH_DELAY_MS = env_int("LABELER_PREDICT_BATCH_DELAY_MS", 0)
# Each worker keeps images decoded to small model inputs here, by content hash, so that
# later passes and runs skip decoding; "" turns it off. Safe to empty at any time.
LABELER_INPUT_CACHE_DIR = os.environ.get(
    "LABELER_INPUT_CACHE_DIR", str(VAR_DIR / "cache" / "inputs")
)
# Up to the backbones' native 224 pixels (147 KB an image): a photo's decode (tens of ms
# even reduced) must not come back every epoch.
LABELER_INPUT_CACHE_MAX_SIZE = env_int("LABELER_INPUT_CACHE_MAX_SIZE", 224)  # pixels a side
# Automatic retraining waits until no import has stored a file for this long: the
# batches of one client's import count as one import while they come this close.
LABELER_IMPORT_SETTLE_SECONDS = env_int("LABELER_IMPORT_SETTLE_SECONDS", 60)
# How long a worker that picks up a queued training waits for the project's new images to
# be hashed for near-duplicates (their groups decide the split) before the run fails.
LABELER_HASHING_WAIT_SECONDS = env_int("LABELER_HASHING_WAIT_SECONDS", 300)
# A running training with no heartbeat for this long is marked failed (its worker is gone).
LABELER_TRAINING_STALE_SECONDS = env_int("LABELER_TRAINING_STALE_SECONDS", 900)
# A training writes its heartbeat at least this often: while it decodes, every few batches
# within an epoch, and after each epoch. Keep it well below the stale limit above.
LABELER_TRAINING_HEARTBEAT_SECONDS = env_int("LABELER_TRAINING_HEARTBEAT_SECONDS", 30)
# How long a write's Idempotency-Key and its answer are kept for retries.
LABELER_IDEMPOTENCY_SECONDS = env_int("LABELER_IDEMPOTENCY_SECONDS", 24 * 3600)
# A run still queued this long after it was created is sent again (duplicates are no-ops).
LABELER_TRAINING_RESEND_SECONDS = env_int("LABELER_TRAINING_RESEND_SECONDS", 600)

# How many proxies in front of the web processes each append the address they saw to
# X-Forwarded-For. Login throttling and DRF's throttles take the client's address from
# there (the one the outermost proxy saw); 0 ignores the header, which a client can forge.
# Behind a proxy, 0 makes every client look like the proxy: set it.
NUM_PROXIES = env_int("NUM_PROXIES", 0)
if NUM_PROXIES < 0:
    raise ImproperlyConfigured(f"NUM_PROXIES must be 0 or more, got {NUM_PROXIES}.")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # DRF's, but JSON nested too deep is a 400 (api/parsers.py).
    "DEFAULT_PARSER_CLASSES": [
        "api.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    # Whatever parser a view names, NUL or a lone surrogate in what it parsed is a 400.
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "api.parsers.ContentNegotiation",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["api.filters.FilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "api.pagination.IdCursorPagination",
    "PAGE_SIZE": 100,
    "EXCEPTION_HANDLER": "api.errors.exception_handler",
    # "format" is the export endpoint's own parameter (json, csv, ...).
    "URL_FORMAT_OVERRIDE": None,
    "DEFAULT_THROTTLE_RATES": {"login": os.environ.get("LOGIN_THROTTLE_RATE") or "20/min"},
    # Where DRF's throttles find the client's address (NUM_PROXIES above).
    "NUM_PROXIES": NUM_PROXIES,
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    "DEFAULT_METADATA_CLASS": "api.metadata.Metadata",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "labeler API",
    "DESCRIPTION": "Projects, images, the annotation queue, annotations and exports.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "api.schema.document_errors",
    ],
    # Several models have a "status" with their own choices: name the export's.
    "ENUM_NAME_OVERRIDES": {
        "ExportStatusEnum": "labeler.exports.models.ExportStatus",
        # What became of an uploaded or imported file.
        "FileStatusEnum": ["created", "duplicate", "rejected"],
        # How a final label was decided (final labels and their history).
        "FinalLabelMethodEnum": "labeler.annotations.models.FinalLabelMethod",
        # What a project's own metadata field holds (text, number, date, choice).
        "MetadataFieldKindEnum": "labeler.images.models.FIELD_KINDS",
        # Where a registration points (references) and how its scan went.
        "ReferenceKindEnum": "labeler.references.models.ReferenceKind",
        "ReferenceStatusEnum": "labeler.references.models.ReferenceStatus",
        # How far a model version's packaging for download got.
        "ModelPackageStatusEnum": "labeler.predictions.models.PackageStatus",
    },
}

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "login"

# Security: production defaults satisfy `manage.py check --deploy`; a deployment
# behind a TLS-terminating proxy sets SECURE_PROXY_SSL_HEADER_NAME.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^healthz/$"]
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
# Content Security Policy (django-csp): scripts and styles come only from our static
# files, never inline; nothing is framed, posted or fetched off the site.
# The API reference pages (Swagger UI, Redoc) are third-party pages and get their own
# policy in api/urls.py. LABELER_CSP_REPORT_ONLY=1 sends it report-only: browsers log
# violations in their console and block nothing (no report address is set).
# Presigned addresses of referenced buckets' images are the bucket's origin, not this site's.
_PRESIGNED_ORIGINS: list[str] = []
if LABELER_REFERENCE_BUCKETS and LABELER_S3_PRESIGN:
    _bucket_endpoint = urlsplit(LABELER_S3_PUBLIC_ENDPOINT_URL or LABELER_S3_ENDPOINT_URL)
    _PRESIGNED_ORIGINS.append(
        f"{_bucket_endpoint.scheme}://{_bucket_endpoint.netloc}"
        if _bucket_endpoint.netloc
        else "https://*.amazonaws.com"  # AWS: the bucket's own host name, in any region
    )
_CSP_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", *_PRESIGNED_ORIGINS],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
if env_bool("LABELER_CSP_REPORT_ONLY", False):
    CONTENT_SECURITY_POLICY_REPORT_ONLY = _CSP_POLICY
else:
    CONTENT_SECURITY_POLICY = _CSP_POLICY
# Web logins (the login page, the admin's, the API's token exchange) are refused for a
# while after this many failures for one username from one address (labeler.http.login_throttle).
LABELER_LOGIN_MAX_FAILURES = env_int("LABELER_LOGIN_MAX_FAILURES", 5)
LABELER_LOGIN_LOCKOUT_SECONDS = env_int("LABELER_LOGIN_LOCKOUT_SECONDS", 15 * 60)
# Single sign-on with OpenID Connect (labeler.sso, docs/configuration.md): on once the
# client id and the provider's issuer are set. Endpoints not given are read from the
# issuer's /.well-known/openid-configuration; ID tokens are checked against its JWKS.
OIDC_RP_CLIENT_ID = os.environ.get("OIDC_RP_CLIENT_ID", "")
OIDC_RP_CLIENT_SECRET = os.environ.get("OIDC_RP_CLIENT_SECRET", "")
OIDC_OP_ISSUER = os.environ.get("OIDC_OP_ISSUER", "")
OIDC_OP_AUTHORIZATION_ENDPOINT = os.environ.get("OIDC_OP_AUTHORIZATION_ENDPOINT", "")
OIDC_OP_TOKEN_ENDPOINT = os.environ.get("OIDC_OP_TOKEN_ENDPOINT", "")
OIDC_OP_USER_ENDPOINT = os.environ.get("OIDC_OP_USER_ENDPOINT", "")
OIDC_OP_JWKS_ENDPOINT = os.environ.get("OIDC_OP_JWKS_ENDPOINT", "")
OIDC_RP_SIGN_ALGO = os.environ.get("OIDC_RP_SIGN_ALGO") or "RS256"
OIDC_RP_SCOPES = os.environ.get("OIDC_RP_SCOPES") or "openid email profile"
OIDC_USE_PKCE = env_bool("OIDC_USE_PKCE", True)
# Seconds to wait for the provider before telling the user it cannot be reached.
OIDC_TIMEOUT = env_int("OIDC_TIMEOUT", 10)
OIDC_AUTHENTICATE_CLASS = "labeler.web.sso.SsoLoginView"
OIDC_CALLBACK_CLASS = "labeler.web.sso.SsoCallbackView"
LOGIN_REDIRECT_URL_FAILURE = "login"
# The login page's button: "Sign in with <name>"; the local form hidden when asked.
LABELER_OIDC_PROVIDER_NAME = os.environ.get("LABELER_OIDC_PROVIDER_NAME") or "single sign-on"
LABELER_OIDC_HIDE_LOCAL_LOGIN = env_bool("LABELER_OIDC_HIDE_LOCAL_LOGIN", False)
# The claim listing the user's groups, mapped to roles by the admin's group mappings.
LABELER_OIDC_GROUPS_CLAIM = os.environ.get("LABELER_OIDC_GROUPS_CLAIM") or "groups"
# Link a first SSO login to the one local account with its verified e-mail (off: see
# labeler.sso.identities for why).
LABELER_OIDC_LINK_BY_EMAIL = env_bool("LABELER_OIDC_LINK_BY_EMAIL", False)
# "Forgot password?" requests per e-mail address an hour (ten times as many per client).
LABELER_PASSWORD_RESETS_PER_HOUR = env_int("LABELER_PASSWORD_RESETS_PER_HOUR", 3)
# Join-page forms sent from one client an hour (accounts made from invitation links), and
# invitation links no invitation has that one client may open an hour (token guesses).
LABELER_JOINS_PER_HOUR = env_int("LABELER_JOINS_PER_HOUR", 20)
LABELER_JOIN_MISSES_PER_HOUR = env_int("LABELER_JOIN_MISSES_PER_HOUR", 10)
# Invitations and password resets are e-mailed through Django's mail backends: printed
# on the console unless EMAIL_BACKEND names another (smtp with EMAIL_HOST and the rest).
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND") or "django.core.mail.backends.console.EmailBackend"
EMAIL_HOST = os.environ.get("EMAIL_HOST") or "localhost"
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER") or ""
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD") or ""
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL") or "labeler <labeler@localhost>"
# How long an invitation or password-reset link stays valid (Django's token timeout).
PASSWORD_RESET_TIMEOUT = env_int("PASSWORD_RESET_TIMEOUT", 7 * 24 * 3600)
# Time on one image beyond this counts as idle in the annotators' active time.
LABELER_ACTIVE_TIME_CAP_SECONDS = env_int("LABELER_ACTIVE_TIME_CAP_SECONDS", 120)
# Bulk actions over more images than this run in the background, with a progress URL.
LABELER_BULK_BACKGROUND_OVER = env_int("LABELER_BULK_BACKGROUND_OVER", 5000)
# A filtered listing (a page of images, a bulk count or selection) stopped past this many
# milliseconds, answered 503 saying to narrow the filters (labeler.browse.budget); 0: none.
LABELER_FILTER_BUDGET_MS = env_int("LABELER_FILTER_BUDGET_MS", 2000)
# Filtered listings a user may ask for (the images list and the bulk count), DRF's form.
LABELER_FILTER_THROTTLE_RATE = os.environ.get("LABELER_FILTER_THROTTLE_RATE") or "120/min"
# Webhooks (labeler/webhooks, docs/webhooks.md). Deliveries go to public addresses only;
# these networks (CIDRs, comma-separated) are allowed besides, e.g. a receiver on the LAN.
LABELER_WEBHOOK_ALLOWED_NETWORKS = env_list("LABELER_WEBHOOK_ALLOWED_NETWORKS", [])
# Each attempt waits this long to connect and for each read of the answer.
LABELER_WEBHOOK_TIMEOUT_SECONDS = env_int("LABELER_WEBHOOK_TIMEOUT_SECONDS", 5)
# Attempts a delivery gets before it fails; the wait doubles from the base up to the max.
LABELER_WEBHOOK_MAX_ATTEMPTS = env_int("LABELER_WEBHOOK_MAX_ATTEMPTS", 8)
LABELER_WEBHOOK_RETRY_BASE_SECONDS = env_int("LABELER_WEBHOOK_RETRY_BASE_SECONDS", 30)
LABELER_WEBHOOK_RETRY_MAX_SECONDS = env_int("LABELER_WEBHOOK_RETRY_MAX_SECONDS", 3600)
# An answer's body is read up to this many bytes (its first 1,000 characters are kept).
LABELER_WEBHOOK_ANSWER_BYTES = env_int("LABELER_WEBHOOK_ANSWER_BYTES", 16 * 1024)
if os.environ.get("SECURE_PROXY_SSL_HEADER_NAME"):
    SECURE_PROXY_SSL_HEADER = (os.environ["SECURE_PROXY_SSL_HEADER_NAME"], "https")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL") or "INFO"},
    # Django's default config gives the "django" logger a console handler of its own (while
    # DEBUG is on) and lets it propagate to root: every refused request was printed twice.
    # Its records go to root's handler alone (ADMINS is not set: no mail to send).
    "loggers": {
        "django": {"handlers": [], "level": "INFO"},
        # One line per task is noise in the web process when tasks run in-process.
        "celery.app.trace": {"level": "WARNING" if CELERY_TASK_ALWAYS_EAGER else "INFO"},
    },
}
