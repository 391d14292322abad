"""Test settings: PostgreSQL and Redis, as production (make test checks both answer first)."""

import os

# Test-only values; base.py refuses to start without them when DEBUG is off.
os.environ.setdefault("SECRET_KEY", "test-only-secret-key-not-for-production")
os.environ.setdefault("FIELD_ENCRYPTION_KEY", "rYJ3b-kvtBF2vQBhNUYi2Oyr0M4l2mbfpXQ6ZUhzBxk=")
os.environ.setdefault(
    "DATABASE_URL", os.environ.get("TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/siyu")
)
# One Redis database per xdist worker, so clearing the cache in one never touches another.
_worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
_redis_db = 1 + int(_worker.removeprefix("gw") or 0) % 14
os.environ.setdefault("REDIS_URL", os.environ.get("TEST_REDIS_URL", f"redis://127.0.0.1:6379/{_redis_db}"))
os.environ.setdefault("CELERY_TASK_ALWAYS_EAGER", "true")

from .base import *  # noqa: E402, F403
from .base import INSTALLED_APPS  # noqa: E402

INSTALLED_APPS = [*INSTALLED_APPS, "tests.tenantapp"]
ROOT_URLCONF = "tests.urls"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
DATABASES["default"]["CONN_MAX_AGE"] = 0  # noqa: F405
