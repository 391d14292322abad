"""Assertions shared by the API tests."""

from __future__ import annotations

import json
import urllib.request

# The password every fixture user gets (tests/conftest.py).
PASSWORD = "Correct-Horse-42"


def assert_problem(response, status: int, type_: str) -> dict:
    """The response is an error of the given status and type, in the API's one error shape."""
    assert response.status_code == status, (response.status_code, response.content[:500])
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = json.loads(response.content)
    assert set(body) == {"type", "title", "status", "detail", "errors"}, body
    assert body["type"] == type_, body
    assert body["status"] == status
    assert isinstance(body["title"], str)
    assert body["title"]
    assert isinstance(body["detail"], str)
    assert body["detail"]
    assert isinstance(body["errors"], list)
    for error in body["errors"]:
        assert set(error) == {"path", "code", "message"}, error
    return body


def sandbox_control(sandbox, path: str, body: dict | None = None) -> dict:
    """Call the sandbox's control API (``/sandbox/<path>``): simulate customers, set faults, read records."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        f"{sandbox.base_url}/sandbox/{path}", data=data, method="POST" if data else "GET"
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def connect_tenant(tenant, sandbox) -> None:
    """Point a tenant at a served sandbox, as an admin would in the settings page."""
    tenant.corp_id, tenant.corp_secret = sandbox.corp_id, sandbox.secret
    tenant.callback_token, tenant.encoding_aes_key = sandbox.callback_token, sandbox.aes_key
    tenant.api_base = f"{sandbox.base_url}/cgi-bin/"
    tenant.save()
