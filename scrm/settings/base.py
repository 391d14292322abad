"""Settings for every environment, read from the environment (django-environ).

Nothing here needs a running service: with no DATABASE_URL the database is a SQLite file under
var/, and with no REDIS_URL Celery uses kombu's filesystem transport and Django a local-memory cache.
"""

import secrets
from pathlib import Path

import environ
from celery.schedules import crontab
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
# A developer's machine: `make install` writes .env (DEBUG=true) once, so plain `python manage.py ...`
# works there. It is gitignored and never in an image; variables already in the environment win.
if (BASE_DIR / ".env").is_file():
    environ.Env.read_env(BASE_DIR / ".env")

DEBUG = env.bool("DEBUG", default=False)
# Where the embedded defaults keep their state (SQLite file, generated keys, broker folders).
VAR_DIR = Path(env("SIYU_VAR_DIR", default=str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def _generated_once(name: str, make) -> str:
    """A development secret generated on first start and kept in var/ so restarts keep sessions.

    Only reachable with DEBUG on: production must pass its secrets through the environment.
    """
    path = VAR_DIR / name
    if not path.exists():
        path.write_text(make())
        path.chmod(0o600)
    return path.read_text().strip()


def _required_secret(name: str, make) -> str:
    value = env(name, default="")
    if value:
        return value
    if not DEBUG:
        raise ImproperlyConfigured(f"{name} must be set when DEBUG is off.")
    return _generated_once(name.lower(), make)


SECRET_KEY = _required_secret("SECRET_KEY", lambda: secrets.token_urlsafe(50))
# Fernet key(s) for secrets at rest; a comma-separated list rotates (first encrypts, all decrypt).
FIELD_ENCRYPTION_KEY = [
    key.strip()
    for key in _required_secret("FIELD_ENCRYPTION_KEY", lambda: Fernet.generate_key().decode()).split(",")
    if key.strip()
]

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
PORT = env.int("PORT", default=8000)
# The address WeCom and browsers reach us at; used to print callback URLs.
PUBLIC_URL = env("PUBLIC_URL", default=f"http://127.0.0.1:{PORT}").rstrip("/")
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[PUBLIC_URL])

WECOM_API_BASE = env("WECOM_API_BASE", default="https://qyapi.weixin.qq.com/cgi-bin/")
# The only API bases a tenant may be pointed at, besides WECOM_API_BASE (a tenant admin sets its base,
# and the server calls it: anything else would let them reach the server's network).
WECOM_ALLOWED_API_BASES = env.list("WECOM_ALLOWED_API_BASES", default=[])
# The local WeCom sandbox (any loopback address): on for development (`make run`'s demo) and the tests,
# off in production unless asked for.
WECOM_SANDBOX_ALLOWED = env.bool("WECOM_SANDBOX_ALLOWED", default=DEBUG)
# Where `make run` serves the WeCom sandbox the demo tenant is connected to.
WECOM_SANDBOX_PORT = env.int("SANDBOX_PORT", default=PORT + 1)

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "encrypted_model_fields",
    "csp",
    "scrm.tenancy",
    "scrm.api",
    "scrm.wecom",
    # Before the apps that keep attachments as its materials (their migrations depend on it).
    "library",
    "contacts",
    "groups",
    "moments",
    "campaigns",
    "value",
    "sop",
    "analytics",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Before whitenoise, which answers static files without going further down: the dashboard's
    # index.html (served from WHITENOISE_ROOT) must carry the policy too.
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "scrm.api.middleware.RequestSizeLimitMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # Messages (DRF's validation errors) in the language the dashboard asks for (Accept-Language).
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "scrm.urls"
WSGI_APPLICATION = "scrm.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
            ]
        },
    }
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # web, worker and beat share the file: WAL lets readers run beside one writer, IMMEDIATE
    # transactions take the write lock up front instead of failing with "database is locked" later.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
else:
    # A database that stops answering must fail requests and /readyz quickly, not hang them.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("connect_timeout", 5)
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            # A stuck Redis must fail a request (and /readyz) in seconds, not hang it.
            "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 5},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
# --- HTTPS and browser protections --------------------------------------------------------
# Production (DEBUG off) is HTTPS-only by default: secure cookies, a redirect to https and HSTS
# (`manage.py check --deploy` is clean). Each is an environment knob, for a trial on plain http
# (docs/operations.md); development (`make run`, DEBUG on) serves http://127.0.0.1 and needs none.
SESSION_COOKIE_SECURE = env.bool("SECURE_COOKIES", default=not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
# Health checks come from inside the host (docker's healthcheck, a load balancer) over plain http.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 365 * 24 * 60 * 60)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
# Behind our own reverse proxy (NUM_PROXIES > 0, see REST_FRAMEWORK below) the connection is plain
# http from the proxy: it says in X-Forwarded-Proto whether the client's was https (it overwrites
# whatever the client sent; deploy/nginx.conf does). With no proxy the header is not trusted.
NUM_PROXIES = env.int("NUM_PROXIES", default=0)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if NUM_PROXIES else None

# Content-Security-Policy (django-csp) on every response: the dashboard, /api/docs/ and the API.
# Scripts only from this origin (the dashboard's bundles, Swagger UI's files from the sidecar app);
# inline styles are allowed because Ant Design and Swagger UI write <style> elements at run time.
# Images may also be data: URIs (icons in Ant Design and Swagger UI) and come from WeChat's and
# WeCom's avatar hosts (customers' and staff members' pictures are WeCom's URLs).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:", "*.qlogo.cn", "*.qpic.cn"],
        "font-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
# Uploaded and generated files (exports). Never served as public URLs: the API streams them to
# members allowed to see them.
MEDIA_ROOT = Path(env("MEDIA_ROOT", default=str(VAR_DIR / "media")))
# In development whitenoise serves straight from the apps' static folders; production runs collectstatic.
WHITENOISE_USE_FINDERS = DEBUG
# The built dashboard (`make run` / `make test` build it): its files at the site root, index.html
# for every client route (scrm/frontend.py). Vite names bundles by content hash under assets/.
FRONTEND_DIST = Path(env("FRONTEND_DIST", default=str(BASE_DIR / "frontend" / "dist")))
WHITENOISE_ROOT = FRONTEND_DIST if FRONTEND_DIST.is_dir() else None


def _hashed_bundle(path: str, url: str) -> bool:
    return url.startswith("/assets/")


WHITENOISE_IMMUTABLE_FILE_TEST = _hashed_bundle
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
# Uploaded files (the content library, exports) in an S3-compatible bucket instead of MEDIA_ROOT when
# STORAGE_S3_BUCKET is set (django-storages; docs/library.md). Private objects: the API streams them
# to members allowed to see them, as it does from MEDIA_ROOT. Credentials may also come from the usual
# AWS_* variables or an instance role (boto3's own lookup) when these are left empty.
STORAGE_S3_BUCKET = env("STORAGE_S3_BUCKET", default="")
if STORAGE_S3_BUCKET:
    STORAGES["default"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": STORAGE_S3_BUCKET,
            "endpoint_url": env("STORAGE_S3_ENDPOINT_URL", default="") or None,
            "region_name": env("STORAGE_S3_REGION", default="") or None,
            "access_key": env("STORAGE_S3_ACCESS_KEY", default="") or None,
            "secret_key": env("STORAGE_S3_SECRET_KEY", default="") or None,
            "location": env("STORAGE_S3_PREFIX", default=""),
            "addressing_style": env("STORAGE_S3_ADDRESSING_STYLE", default="") or None,
            "default_acl": "private",
            "file_overwrite": False,
            "querystring_auth": True,
        },
    }

# Bodies above this get a 413 in the API's error shape (DRF's parsers read the stream directly
# and would otherwise bypass Django's DATA_UPLOAD_MAX_MEMORY_SIZE check).
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("MAX_REQUEST_BYTES", default=2 * 1024 * 1024)
# Multipart uploads (the content library's files): WeCom's largest file (20 MB) and the form around it.
MAX_UPLOAD_REQUEST_BYTES = env.int("MAX_UPLOAD_BYTES", default=21 * 1024 * 1024)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "scrm.tenancy.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["scrm.api.permissions.IsTenantMember"],
    "DEFAULT_THROTTLE_CLASSES": ["scrm.api.throttling.WriteRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "write": env("THROTTLE_WRITE_RATE", default="300/min"),
    },
    "DEFAULT_PARSER_CLASSES": ["scrm.api.parsers.JSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_PAGINATION_CLASS": "scrm.api.pagination.DualPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "scrm.api.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "scrm.api.schema.AutoSchema",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    # How many reverse proxies in front of us append to X-Forwarded-For. The throttles (login failures,
    # anonymous writes) count the address the outermost of ours saw; with 0, the default, the header is
    # ignored and the connection's address counts, since a client can write any X-Forwarded-For it
    # likes. docker-compose.yml's nginx is one (NUM_PROXIES=1 there).
    "NUM_PROXIES": NUM_PROXIES,
}
# Failed logins allowed per (username, client address) within the window before a 429.
LOGIN_MAX_FAILURES = env.int("LOGIN_MAX_FAILURES", default=5)
LOGIN_FAILURE_WINDOW_SECONDS = env.int("LOGIN_FAILURE_WINDOW_SECONDS", default=15 * 60)

SPECTACULAR_SETTINGS = {
    "TITLE": "Siyu SCRM API",
    "DESCRIPTION": (
        "Multi-tenant SCRM for WeCom. Dashboard clients use the session cookie with CSRF; integrators "
        "send `Authorization: Bearer <api key>`. Errors always have the shape "
        "`{type, title, status, detail, errors}`."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "scrm.api.schema.database_independent_integers",
    ],
    "ENUM_NAME_OVERRIDES": {
        "RoleEnum": "scrm.tenancy.models.Role",
        "DataScopeEnum": "scrm.tenancy.models.DataScope",
        "InvitationStatusEnum": "scrm.tenancy.models.InvitationStatus",
        "ContactStatusEnum": "contacts.models.ContactStatus",
        "FollowStatusEnum": "contacts.models.FollowStatus",
        "RunStatusEnum": "scrm.durable.RunStatus",
        "TransferStatusEnum": "contacts.models.TransferStatus",
        "SyncKindEnum": "contacts.models.SyncKind",
        "GroupStatusEnum": "groups.models.GroupStatus",
        "GroupTransferKindEnum": "groups.models.GroupTransferKind",
        "GroupTransferItemStatusEnum": "groups.models.GroupTransferItemStatus",
        "MaterialKindEnum": "library.models.MaterialKind",
        "CampaignStatusEnum": "campaigns.models.CampaignStatus",
        "ChatTypeEnum": "campaigns.models.ChatType",
        "SingleChatTypeEnum": ["single"],
        "GroupChatTypeEnum": ["group"],
        "CampaignTaskStatusEnum": "campaigns.models.TaskStatus",
        "RecipientStatusEnum": "campaigns.models.RecipientStatus",
        "MomentTaskStatusEnum": "moments.models.TaskStatus",
        "MomentCreateTypeEnum": "moments.models.CreateType",
        "MomentInteractionKindEnum": "moments.models.InteractionKind",
        "MomentCalendarKindEnum": ["scheduled", "submitting", "corp", "member"],
        # Value (issue 17): its enums would otherwise take the generic names campaigns' use.
        "ReasonEnum": "campaigns.services.plan.SKIP_STATUSES",
        "TierEnum": "value.models.Tier",
        "PointsReasonEnum": "value.models.PointsReason",
        "PointsActionEnum": "value.models.PointsAction",
        "FieldKindEnum": "value.models.FieldKind",
        "OrderStatusEnum": "value.models.OrderStatus",
        # SOP automations (issue 18).
        "SopKindEnum": "sop.models.SopKind",
        "SopStatusEnum": "sop.models.SopStatus",
        "SopEnrolmentStatusEnum": "sop.models.EnrolmentStatus",
        "SopStepStatusEnum": "sop.models.StepStatus",
        "SopTaskStatusEnum": "sop.models.SopTaskStatus",
        "SopTemplateEnum": "sop.templates.TEMPLATE_KEYS",
    },
}

# --- Celery -------------------------------------------------------------------------------
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
else:
    # kombu's filesystem transport: works across web, worker and beat processes with no server.
    _broker_dir = VAR_DIR / "broker"
    for _sub in ("queue", "processed", "control"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        # The exchange tables too: kombu's default is ./control, which would land in the checkout.
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_EAGER_PROPAGATES = True
# Tasks are acknowledged before they run unless a task opts in to acks_late (only idempotent ones).
CELERY_TASK_ACKS_LATE = False
CELERY_TASK_TIME_LIMIT = 10 * 60
CELERY_TASK_SOFT_TIME_LIMIT = 9 * 60
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = TIME_ZONE
CONTACTS_NIGHTLY_SYNC_HOUR = env.int("CONTACTS_NIGHTLY_SYNC_HOUR", default=3)
CONTACTS_NIGHTLY_SYNC_MINUTE = env.int("CONTACTS_NIGHTLY_SYNC_MINUTE", default=0)
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE = {
    "clear-expired-sessions": {
        "task": "tenancy.clear_expired_sessions",
        "schedule": 6 * 60 * 60,
    },
    "requeue-stale-callback-events": {
        "task": "wecom.requeue_stale_events",
        "schedule": 60,
    },
    # Durable work (contact and group syncs, contacts jobs, campaign dispatch: scrm.durable) whose
    # worker died or whose task message was lost resumes from its checkpoint.
    "requeue-stale-durable-work": {
        "task": "durable.requeue_stale",
        "schedule": 120,
    },
    # Customer transfers complete in WeCom after 24 hours; their outcome is polled, not pushed.
    "poll-contacts-transfers": {
        "task": "contacts.poll_transfers",
        "schedule": 600,
    },
    # The nightly reconciliation: a full sync of every tenant with ContactSettings.nightly_sync on,
    # catching whatever callbacks were lost. Hour and minute in TIME_ZONE (China time by default).
    "contacts-nightly-sync": {
        "task": "contacts.sync_nightly",
        "schedule": crontab(hour=CONTACTS_NIGHTLY_SYNC_HOUR, minute=CONTACTS_NIGHTLY_SYNC_MINUTE),
    },
    # Channel codes with a schedule or a daily cap change members over the day.
    "contacts-channels-refresh": {
        "task": "contacts.channels_refresh_all",
        "schedule": 60,
    },
    # The media of the library's materials that welcome messages use are uploaded again before WeCom
    # forgets them (3 days), so a greeting (20 seconds) never waits for an upload.
    "library-media-refresh": {
        "task": "library.media_refresh",
        "schedule": 6 * 60 * 60,
    },
    # WeCom's daily group statistics (per owner, up to yesterday, China days): fetched once a day in
    # the early morning, when yesterday's are complete. The groups themselves are reconciled by the
    # nightly sync above (one run per kind).
    "groups-stats-daily": {
        "task": "groups.stats_daily",
        "schedule": crontab(hour=6, minute=15),
    },
    # Group codes that open a new group when all theirs are full: read them back so that the groups
    # WeCom opened join their lists (and get synced); only the new group's own create callback tells.
    "groups-join-ways-refresh": {
        "task": "groups.join_ways_refresh_all",
        "schedule": 10 * 60,
    },
    # A group transfer whose task was lost runs again (as its last attempt).
    "groups-requeue-stale-transfers": {
        "task": "groups.requeue_stale_transfers",
        "schedule": 15 * 60,
    },
    # A group refresh (re-read until WeCom shows a callback's change) whose task message was lost.
    "groups-refresh-overdue": {
        "task": "groups.refresh_overdue",
        "schedule": 30,
    },
    # Scheduled campaigns whose time has come start dispatching (claimed with SKIP LOCKED).
    "campaigns-dispatch-due": {
        "task": "campaigns.dispatch_due",
        "schedule": 60,
    },
    # Campaign results are polled when due (next_poll_at: every 5 minutes at first, then hourly, then
    # daily until the campaign closes; campaigns/services/results.py).
    "campaigns-poll-due": {
        "task": "campaigns.poll_due",
        "schedule": 60,
    },
    # Members' own mass messages are read back so the frequency caps count them.
    "campaigns-readback": {
        "task": "campaigns.readback_all",
        "schedule": 60 * 60,
    },
    # Moments tasks: scheduled posts whose time has come are submitted, jobs' results read, claims
    # whose answer was lost reconciled (MomentTask.next_check_at, claimed with SKIP LOCKED).
    "moments-due": {
        "task": "moments.due",
        "schedule": 60,
    },
    # Every Moment's tracking poll when due (next_poll_at: by age, every 15 minutes at first, then
    # hourly, then daily for 14 days; moments/services/tracking.py).
    "moments-poll-due": {
        "task": "moments.poll_due",
        "schedule": 60,
    },
    # The members' own posts (and corp posts made in WeCom's admin console), read once a day.
    "moments-member-sync": {
        "task": "moments.member_sync_all",
        "schedule": crontab(hour=4, minute=30),
    },
    # Members who have not published a corp post after the tenant's set hours: one app message each.
    "moments-remind-due": {
        "task": "moments.remind_due_all",
        "schedule": crontab(minute=5),
    },
    # The department leaders' daily digest, sent by the tenants for which it is 18:00 now.
    "moments-digest": {
        "task": "moments.digest_all",
        "schedule": crontab(minute=0),
    },
    # Customer value (value/tasks.py): every minute, the customers with new events are recomputed
    # (scores, tiers, LTV) and earn their points, per tenant with events past its cursor.
    "value-tick": {
        "task": "value.tick",
        "schedule": 60,
    },
    # Every customer again at night (time alone makes a customer silent), after the nightly sync;
    # points past their expiry expire, idempotency records older than 24 h go. TIME_ZONE (China) time.
    "value-nightly": {
        "task": "value.nightly",
        "schedule": crontab(hour=3, minute=40),
    },
    # SOP engine (sop/tasks.py): each tick runs ~25 s — new events enrol customers, due steps run
    # (claimed with SKIP LOCKED), deliveries go to WeCom — so a due step waits seconds, not a beat.
    "sop-tick": {
        "task": "sop.tick",
        "schedule": 30,
    },
    # Date triggers, group schedules and segment triggers.
    "sop-schedule": {
        "task": "sop.schedule",
        "schedule": 10 * 60,
    },
    # SOP mass-message tasks' send results (SopDelivery.next_poll_at) → tasks done.
    "sop-poll": {
        "task": "sop.poll",
        "schedule": 5 * 60,
    },
}
# SOP steps due for one member within this many seconds become ONE WeCom task / reminder (0: one per pass).
SOP_COALESCE_SECONDS = env.int("SOP_COALESCE_SECONDS", default=60)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {"django.request": {"level": "ERROR"}},
}

# --- WeCom gateway -------------------------------------------------------------------------
WECOM_HTTP_TIMEOUT = env.float("WECOM_HTTP_TIMEOUT", default=10.0)
# WeCom allows 10,000 calls per minute per corp and API; stay under it.
WECOM_REQUESTS_PER_MINUTE = env.int("WECOM_REQUESTS_PER_MINUTE", default=9000)
# And 150,000 calls per hour: a large first sync paces itself under it instead of meeting 45009.
WECOM_REQUESTS_PER_HOUR = env.int("WECOM_REQUESTS_PER_HOUR", default=140_000)
# Concurrent calls per corp and API; lower for the APIs known to answer 45033.
WECOM_CONCURRENCY = env.int("WECOM_CONCURRENCY", default=20)
WECOM_CONCURRENCY_OVERRIDES = {
    "externalcontact/mark_tag": env.int("WECOM_MARK_TAG_CONCURRENCY", default=5),
    "externalcontact/remark": env.int("WECOM_REMARK_CONCURRENCY", default=5),
}
WECOM_CONCURRENCY_WAIT_SECONDS = env.float("WECOM_CONCURRENCY_WAIT_SECONDS", default=30.0)
# Callback bodies are a few hundred bytes; anything far larger is not from WeCom.
WECOM_CALLBACK_MAX_BYTES = env.int("WECOM_CALLBACK_MAX_BYTES", default=64 * 1024)
# A delivery whose signed timestamp is further than this from our clock (either way) is refused, so a
# captured one cannot be replayed. WeCom's own retries (3, at 5 s) arrive within seconds of signing.
WECOM_CALLBACK_MAX_AGE_SECONDS = env.int("WECOM_CALLBACK_MAX_AGE_SECONDS", default=300)
# A failing callback event is retried this many times (with backoff), then parked for replay.
WECOM_EVENT_MAX_ATTEMPTS = env.int("WECOM_EVENT_MAX_ATTEMPTS", default=5)
