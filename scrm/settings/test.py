"""Test settings: PostgreSQL and Redis, as production (make test checks both answer first)."""

import os

# Tests run as production does, whatever a developer's .env says.
os.environ["DEBUG"] = "false"
# Test-only values; base.py refuses to start without them when DEBUG is off.
os.environ.setdefault("SECRET_KEY", "test-only-secret-key-not-for-production")
os.environ.setdefault("FIELD_ENCRYPTION_KEY", "rYJ3b-kvtBF2vQBhNUYi2Oyr0M4l2mbfpXQ6ZUhzBxk=")
os.environ.setdefault(
    "DATABASE_URL", os.environ.get("TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/siyu")
)
os.environ.setdefault("REDIS_URL", os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/1"))
os.environ.setdefault("CELERY_TASK_ALWAYS_EAGER", "true")
# Tests serve the WeCom sandbox (and scripted WeComs) on 127.0.0.1.
os.environ.setdefault("WECOM_SANDBOX_ALLOWED", "true")
# The live server (browser tests) is plain http on 127.0.0.1: production's HTTPS-only defaults off.
# tests/test_project.py checks those defaults in a process of their own.
os.environ.setdefault("SECURE_COOKIES", "false")
os.environ.setdefault("SECURE_SSL_REDIRECT", "false")
os.environ.setdefault("SECURE_HSTS_SECONDS", "0")

from .base import *  # noqa: F403
from .base import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "tests.tenantapp"]
ROOT_URLCONF = "tests.urls"
# Lets a test's teardown wait for the live server's requests in progress before the database flush.
MIDDLEWARE = ["tests.inflight.InFlightMiddleware", *MIDDLEWARE]  # noqa: F405
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
DATABASES["default"]["CONN_MAX_AGE"] = 0  # noqa: F405
# A test database per run (pytest-django adds _gwN per xdist worker), so two suites running at once
# on one machine (a developer's and CI's, or two checkouts) never drop each other's database.
DATABASES["default"]["TEST"] = {"NAME": f"test_{DATABASES['default']['NAME']}_{os.getpid()}"}  # noqa: F405
# Swagger UI's assets come from the apps' static folders, as in development (no collectstatic in tests).
WHITENOISE_USE_FINDERS = True
STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"  # noqa: F405
