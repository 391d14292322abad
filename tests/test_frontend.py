"""Django serves the dashboard: index.html for client routes, the API and probes untouched."""

from __future__ import annotations

import pytest

from tests.helpers import assert_problem

INDEX = b'<!doctype html><div id="root"></div><script type="module" src="/assets/index-abc.js"></script>'


@pytest.fixture
def built(settings, tmp_path):
    (tmp_path / "index.html").write_bytes(INDEX)
    settings.FRONTEND_DIST = tmp_path
    return tmp_path


@pytest.mark.parametrize("path", ["/", "/customers?tags_all=3,4&page=2", "/settings/api-keys", "/login"])
def test_client_routes_get_the_app(client, built, path):
    response = client.get(path)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/html; charset=utf-8"
    assert response.content == INDEX
    # A reload must pick up a new release's bundle names.
    assert response["Cache-Control"] == "no-cache"


@pytest.mark.parametrize(
    "path",
    ["/api/v1/no-such-thing/", "/api/nope", "/wecom/callback/", "/assets/index-old.js", "/favicon.ico"],
)
def test_api_paths_and_missing_files_keep_their_json_404(client, built, path):
    assert_problem(client.get(path), 404, "not_found")


def test_probes_are_not_the_app(client, built):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.content != INDEX


def test_the_app_is_read_only(client, built):
    assert client.post("/customers").status_code == 405


def test_not_built_says_how_to_build(client, settings, tmp_path):
    settings.FRONTEND_DIST = tmp_path / "missing"
    response = client.get("/customers")
    assert response.status_code == 503
    assert b"make run" in response.content


@pytest.mark.parametrize(
    ("language", "message"), [("en", "This field is required."), ("zh-CN", "该字段是必填项。")]
)
def test_api_messages_follow_the_dashboards_language(db, language, message):
    from rest_framework.test import APIClient

    response = APIClient().post("/api/v1/auth/login/", {}, format="json", HTTP_ACCEPT_LANGUAGE=language)
    body = assert_problem(response, 400, "validation_error")
    assert {e["message"] for e in body["errors"]} == {message}
