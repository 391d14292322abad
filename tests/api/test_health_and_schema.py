"""Probes (/healthz, /readyz), the OpenAPI schema and its documentation page (DESIGN.md §8)."""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Callable, Iterator

import pytest
import yaml
from django.core.management import call_command
from django.test import Client

from scrm.celery import app as celery_app

UNREACHABLE_BROKER = "redis://127.0.0.1:1/0"


# --- Probes -----------------------------------------------------------------------------------


def test_healthz_is_ok_without_any_service():
    # No database access allowed here: liveness must not depend on PostgreSQL.
    response = Client().get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_readyz_checks_database_broker_and_cache():
    assert celery_app.conf.broker_url.startswith("redis://")  # tests run with Redis as the broker
    response = Client().get("/readyz")
    assert response.status_code == 200, response.content
    assert response.json() == {
        "status": "ok",
        "checks": {"database": {"ok": True}, "broker": {"ok": True}, "cache": {"ok": True}},
    }


@pytest.fixture
def broker_url() -> Iterator[Callable[[str], None]]:
    """Points the Celery app at another broker for one test, and restores it afterwards."""
    original = celery_app.conf.broker_url

    def point_to(url: str) -> None:
        celery_app.conf.broker_url = url

    yield point_to
    celery_app.conf.broker_url = original


def timed_readyz() -> tuple[float, object]:
    started = time.monotonic()
    response = Client().get("/readyz")
    return time.monotonic() - started, response


@pytest.mark.django_db
def test_readyz_is_503_when_the_broker_is_unreachable(broker_url):
    broker_url(UNREACHABLE_BROKER)
    elapsed, response = timed_readyz()
    assert response.status_code == 503, response.content
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["broker"]["ok"] is False
    assert isinstance(body["checks"]["broker"]["error"], str)
    assert body["checks"]["broker"]["error"]
    # The other services are still reported, and healthy.
    assert body["checks"]["database"] == {"ok": True}
    assert body["checks"]["cache"] == {"ok": True}
    assert elapsed < 5, f"readyz took {elapsed:.1f}s"


@pytest.mark.django_db
def test_readyz_does_not_hang_on_a_broker_that_never_answers(broker_url):
    # Accepts TCP connections (the kernel completes the handshake) but never says a word.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        broker_url(f"redis://127.0.0.1:{silent.getsockname()[1]}/0")
        elapsed, response = timed_readyz()
    assert response.status_code == 503, response.content
    assert response.json()["checks"]["broker"]["ok"] is False
    assert elapsed < 10, f"readyz took {elapsed:.1f}s"


@pytest.mark.django_db
def test_readyz_recovers_when_the_broker_comes_back(broker_url):
    original = celery_app.conf.broker_url
    broker_url(UNREACHABLE_BROKER)
    assert Client().get("/readyz").status_code == 503
    broker_url(original)
    assert Client().get("/readyz").status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_probes_only_answer_get(path):
    client = Client()
    assert client.post(path).status_code == 405
    assert client.put(path).status_code == 405
    assert client.delete(path).status_code == 405


@pytest.mark.django_db
def test_post_readyz_is_405():
    response = Client().post("/readyz")
    assert response.status_code == 405
    assert response["Allow"] == "GET"


# --- OpenAPI schema ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def schema(tmp_path_factory) -> dict:
    """The production schema (scrm.urls, not the tests' urlconf), generated and validated."""
    path = tmp_path_factory.mktemp("schema") / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--urlconf", "scrm.urls", "--file", str(path))
    return yaml.safe_load(path.read_text())


def test_schema_generates_and_validates_without_warnings(schema):
    assert schema["openapi"].startswith("3.")
    assert schema["info"]["title"] == "Siyu SCRM API"


def test_schema_documents_both_authentication_schemes(schema):
    schemes = schema["components"]["securitySchemes"]
    assert schemes["apiKeyAuth"]["type"] == "http"
    assert schemes["apiKeyAuth"]["scheme"] == "bearer"
    session = [s for s in schemes.values() if s.get("type") == "apiKey" and s.get("in") == "cookie"]
    assert len(session) == 1
    assert session[0]["name"] == "sessionid"
    # Operations accept either.
    members = schema["paths"]["/api/v1/members/"]["get"]
    names = {name for requirement in members["security"] for name in requirement}
    assert "apiKeyAuth" in names
    assert any(schemes[name] is session[0] for name in names if name in schemes)


def test_schema_has_the_api_paths_and_no_test_routes(schema):
    paths = list(schema["paths"])
    assert "/api/v1/members/" in paths
    assert not [p for p in paths if p.startswith("/api/v1/test/")]
    # Probes and the schema's own routes are not API operations.
    assert not [p for p in paths if p in ("/healthz", "/readyz") or p.startswith("/api/schema")]


def test_schema_is_served(db):
    response = Client().get("/api/schema/")
    assert response.status_code == 200
    assert yaml.safe_load(response.content)["openapi"].startswith("3.")


# --- Documentation page -----------------------------------------------------------------------


def streamed(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def test_docs_page_uses_swagger_ui_served_locally(db):
    client = Client()
    response = client.get("/api/docs/")
    assert response.status_code == 200, response.content[:300]
    assert response["Content-Type"].startswith("text/html")
    html = response.content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    scripts = [url for url in assets if "swagger-ui-bundle" in url]
    assert len(scripts) == 1, assets
    # Every asset is ours, under /static/ (or the start-up script, served by the docs view itself so the
    # Content-Security-Policy needs no inline script): the page works with no CDN reachable.
    for url in assets:
        assert url.startswith(("/static/", "/api/docs/?script")), url
    assert "cdn" not in html.lower()
    asset = client.get(scripts[0])
    assert asset.status_code == 200
    assert "javascript" in asset["Content-Type"]
    assert b"SwaggerUIBundle" in streamed(asset)


def test_root_is_the_dashboard(db, settings, tmp_path):
    (tmp_path / "index.html").write_text('<div id="root"></div>')
    settings.FRONTEND_DIST = tmp_path
    response = Client().get("/")
    assert response.status_code == 200
    assert response.content == b'<div id="root"></div>'
