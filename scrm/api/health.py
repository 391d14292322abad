"""Liveness and readiness probes (outside /api/, unauthenticated, not in the OpenAPI schema)."""

from __future__ import annotations

import uuid

from django.core.cache import cache
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.http import require_GET
from kombu import Connection

from scrm.celery import app as celery_app


@require_GET
def healthz(request):
    return JsonResponse({"status": "ok"})


def _check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _check_broker() -> None:
    conf = celery_app.conf
    # kombu's redis transport ignores connect_timeout and blocks forever reading the reply to its
    # first PING: bound the socket waits so a broker that accepts but never answers fails the probe.
    options = {**(conf.broker_transport_options or {}), "socket_timeout": 2, "socket_connect_timeout": 2}
    with Connection(conf.broker_url, transport_options=options, connect_timeout=2) as conn:
        conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=3)


def _check_cache() -> None:
    key = f"readyz:{uuid.uuid4().hex}"
    cache.set(key, "1", timeout=5)
    if cache.get(key) != "1":
        raise RuntimeError("value written to the cache could not be read back")
    cache.delete(key)


@require_GET
def readyz(request):
    checks = {}
    for name, check in (("database", _check_database), ("broker", _check_broker), ("cache", _check_cache)):
        try:
            check()
            checks[name] = {"ok": True}
        except Exception as exc:  # any failure means "not ready": report it, never crash the probe
            checks[name] = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    ready = all(check["ok"] for check in checks.values())
    return JsonResponse(
        {"status": "ok" if ready else "unavailable", "checks": checks}, status=200 if ready else 503
    )
