"""Assertions shared by the API tests."""

from __future__ import annotations

import json

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
