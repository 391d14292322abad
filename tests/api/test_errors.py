"""One error shape for every API error (DESIGN.md §8), and authentication and write throttling.

Every error a client can provoke answers ``{type, title, status, detail, errors}`` with the right
status, never a 500 and never Django's HTML page.
"""

from __future__ import annotations

import json

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from scrm.api.errors import exception_handler
from scrm.api.throttling import WriteRateThrottle
from scrm.tenancy import services
from scrm.tenancy.context import tenant_context
from scrm.tenancy.models import Role
from scrm.wecom.errors import WeComError, WeComRateLimitedError
from tests.helpers import PASSWORD, assert_problem
from tests.tenantapp.models import Widget

WIDGETS = "/api/v1/test/widgets/"

pytestmark = pytest.mark.django_db


def widget_count(tenant) -> int:
    with tenant_context(tenant):
        return Widget.objects.count()


# --- Routing, methods, parsing ---------------------------------------------------------------


def test_unknown_api_route_is_a_404_in_the_error_shape(alice_client):
    body = assert_problem(alice_client.get("/api/v1/no-such-thing/"), 404, "not_found")
    assert body["errors"] == []
    assert "/api/v1/no-such-thing/" in body["detail"]


def test_unknown_route_is_a_404_in_the_error_shape_even_when_anonymous(client, db):
    assert_problem(client.get("/api/v2/widgets/"), 404, "not_found")


def test_unknown_object_is_a_404_in_the_error_shape(alice_client):
    assert_problem(alice_client.get(f"{WIDGETS}999999/"), 404, "not_found")


def test_put_on_a_list_route_is_405(alice_client):
    response = alice_client.put(WIDGETS, {"name": "x"}, format="json")
    body = assert_problem(response, 405, "method_not_allowed")
    assert "PUT" in body["detail"]
    assert "GET" in response["Allow"]
    assert "POST" in response["Allow"]


def test_form_encoded_post_is_415(alice_client, tenant_a):
    response = alice_client.post(WIDGETS, data="name=x", content_type="application/x-www-form-urlencoded")
    body = assert_problem(response, 415, "unsupported_media_type")
    assert "application/x-www-form-urlencoded" in body["detail"]
    assert widget_count(tenant_a) == 0


def test_multipart_post_is_415(alice_client, tenant_a):
    response = alice_client.post(WIDGETS, {"name": "x"}, format="multipart")
    assert_problem(response, 415, "unsupported_media_type")
    assert widget_count(tenant_a) == 0


def test_malformed_json_is_400_parse_error(alice_client, tenant_a):
    response = alice_client.post(WIDGETS, data='{"name": "x",', content_type="application/json")
    assert_problem(response, 400, "parse_error")
    assert widget_count(tenant_a) == 0


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=100)
def test_body_over_the_limit_is_413(alice_client, tenant_a):
    payload = json.dumps({"name": "x" * 40, "tags": [{"name": "y"}] * 20})
    assert len(payload) > 100
    response = alice_client.post(WIDGETS, data=payload, content_type="application/json")
    body = assert_problem(response, 413, "payload_too_large")
    assert "100" in body["detail"]
    assert widget_count(tenant_a) == 0


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=100)
def test_body_under_the_limit_is_accepted(alice_client, tenant_a):
    payload = json.dumps({"name": "small"})
    assert len(payload) < 100
    response = alice_client.post(WIDGETS, data=payload, content_type="application/json")
    assert response.status_code == 201, response.content
    assert widget_count(tenant_a) == 1


def test_body_over_the_limit_is_413_even_when_anonymous(client, db):
    with override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=10):
        response = client.post(WIDGETS, data=json.dumps({"name": "x" * 20}), content_type="application/json")
    assert_problem(response, 413, "payload_too_large")


# --- Validation errors -----------------------------------------------------------------------


def test_missing_required_field_is_a_validation_error_with_its_path(alice_client, tenant_a):
    response = alice_client.post(WIDGETS, {"owner_userid": "bob"}, format="json")
    body = assert_problem(response, 400, "validation_error")
    assert [(e["path"], e["code"]) for e in body["errors"]] == [("name", "required")]
    assert body["errors"][0]["message"]  # human text, translated (LANGUAGE_CODE is zh-hans)
    assert widget_count(tenant_a) == 0


def test_nested_validation_error_has_a_dotted_path(alice_client, tenant_a):
    response = alice_client.post(
        WIDGETS,
        {"name": "ok", "tags": [{"name": "short"}, {"name": "far-too-long-a-tag"}]},
        format="json",
    )
    body = assert_problem(response, 400, "validation_error")
    assert len(body["errors"]) == 1
    error = body["errors"][0]
    assert error["path"] == "tags.1.name"
    assert error["code"] == "max_length"
    assert "10" in error["message"]
    assert widget_count(tenant_a) == 0


def test_several_errors_are_all_reported_with_their_paths(alice_client):
    response = alice_client.post(
        WIDGETS,
        {"name": "", "department_id": "seven", "tags": [{"name": "x" * 11}, {}, {"name": "fine"}]},
        format="json",
    )
    body = assert_problem(response, 400, "validation_error")
    by_path = {error["path"]: error["code"] for error in body["errors"]}
    assert by_path == {
        "name": "blank",
        "department_id": "invalid",
        "tags.0.name": "max_length",
        "tags.1.name": "required",
    }


def test_nested_item_that_is_not_an_object_has_the_item_path(alice_client):
    response = alice_client.post(WIDGETS, {"name": "ok", "tags": ["loose"]}, format="json")
    body = assert_problem(response, 400, "validation_error")
    assert [error["path"] for error in body["errors"]] == ["tags.0"]
    assert body["errors"][0]["code"] == "invalid"


def test_non_field_error_has_a_null_path(alice_client, tenant_a):
    # A JSON array where an object is expected: the error is about the whole body, not a field.
    response = alice_client.post(WIDGETS, [{"name": "x"}], format="json")
    body = assert_problem(response, 400, "validation_error")
    assert len(body["errors"]) == 1
    assert body["errors"][0]["path"] is None
    assert body["errors"][0]["code"] == "invalid"
    assert widget_count(tenant_a) == 0


def test_validation_error_on_update_keeps_the_row_unchanged(alice_client, tenant_a):
    created = alice_client.post(WIDGETS, {"name": "before"}, format="json")
    assert created.status_code == 201
    url = f"{WIDGETS}{created.json()['id']}/"
    body = assert_problem(alice_client.patch(url, {"name": "n" * 51}, format="json"), 400, "validation_error")
    assert body["errors"][0]["path"] == "name"
    assert body["errors"][0]["code"] == "max_length"
    assert alice_client.get(url).json()["name"] == "before"


# --- Authentication --------------------------------------------------------------------------


def test_anonymous_request_is_401_with_a_bearer_challenge(db):
    response = APIClient().get(WIDGETS)
    assert_problem(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_anonymous_write_is_401_not_403(db):
    response = APIClient().post(WIDGETS, {"name": "x"}, format="json")
    assert_problem(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "header",
    [
        "Bearer not-a-key",
        "Bearer abcdefgh.0123456789012345678901234567890123456789",
        "Bearer two parts",
        "Bearer",
    ],
)
def test_garbage_bearer_key_is_401_authentication_failed(db, tenant_a, header):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    response = client.get(WIDGETS)
    assert_problem(response, 401, "authentication_failed")
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_right_prefix_with_a_wrong_secret_is_401(db, tenant_a):
    _, key = services.api_key_create(tenant=tenant_a, role=Role.ADMIN, name="integration")
    prefix = key.partition(".")[0]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    assert client.get(WIDGETS).status_code == 200
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {prefix}.{'x' * 40}")
    assert_problem(client.get(WIDGETS), 401, "authentication_failed")


def test_user_without_membership_is_403(db, client_for, django_user_model):
    loner = django_user_model.objects.create_user(username="loner", password=PASSWORD)
    assert_problem(client_for(loner).get(WIDGETS), 403, "permission_denied")


# --- Write throttling ------------------------------------------------------------------------


@pytest.fixture
def write_rate_3_per_minute(monkeypatch):
    # DRF reads the rate from the class attribute THROTTLE_RATES when a throttle is instantiated.
    monkeypatch.setattr(WriteRateThrottle, "THROTTLE_RATES", {"write": "3/min"})


def post_widget(client, name: str):
    return client.post(WIDGETS, {"name": name}, format="json")


def test_fourth_write_in_a_minute_is_429_with_retry_after(write_rate_3_per_minute, alice_client, tenant_a):
    for n in range(3):
        assert post_widget(alice_client, f"w{n}").status_code == 201
    response = post_widget(alice_client, "w3")
    assert_problem(response, 429, "throttled")
    retry_after = int(response["Retry-After"])
    assert 0 < retry_after <= 60
    assert widget_count(tenant_a) == 3


def test_every_unsafe_method_counts_as_a_write(write_rate_3_per_minute, alice_client):
    created = post_widget(alice_client, "w")
    assert created.status_code == 201
    url = f"{WIDGETS}{created.json()['id']}/"
    assert alice_client.patch(url, {"name": "w2"}, format="json").status_code == 200
    assert alice_client.put(url, {"name": "w3"}, format="json").status_code == 200
    assert_problem(alice_client.delete(url), 429, "throttled")
    assert alice_client.get(url).status_code == 200


def test_reads_are_not_throttled(write_rate_3_per_minute, alice_client):
    for n in range(3):
        assert post_widget(alice_client, f"w{n}").status_code == 201
    assert_problem(post_widget(alice_client, "w3"), 429, "throttled")
    for _ in range(10):
        response = alice_client.get(WIDGETS)
        assert response.status_code == 200
        assert len(response.json()["results"]) == 3


def test_throttling_one_user_does_not_affect_another(
    write_rate_3_per_minute, alice_client, bob_client, charlie_client
):
    for n in range(3):
        assert post_widget(alice_client, f"w{n}").status_code == 201
    assert_problem(post_widget(alice_client, "w3"), 429, "throttled")
    # Another user of the same tenant, and a user of another tenant, still write.
    assert post_widget(bob_client, "bob's").status_code == 201
    assert post_widget(charlie_client, "charlie's").status_code == 201


def test_api_keys_are_throttled_per_key(write_rate_3_per_minute, tenant_a, key_client_for, alice_client):
    first = key_client_for(tenant_a, Role.ADMIN)
    second = key_client_for(tenant_a, Role.ADMIN)
    for n in range(3):
        assert post_widget(first, f"w{n}").status_code == 201
    assert_problem(post_widget(first, "w3"), 429, "throttled")
    assert post_widget(second, "other key").status_code == 201
    assert post_widget(alice_client, "session").status_code == 201


@pytest.mark.parametrize(
    ("error", "status", "header"),
    [
        (WeComError("externalcontact/add_corp_tag", 40071, "tag name exists"), 400, None),
        (WeComError("externalcontact/mark_tag", 48002, "api forbidden"), 502, None),
        (WeComError("externalcontact/mark_tag", None, "timed out"), 502, None),
        (WeComRateLimitedError("externalcontact/mark_tag", 45009, "freq", retry_after=12.4), 429, "12"),
    ],
)
def test_wecom_refusals_keep_their_code_and_hint(error, status, header):
    response = exception_handler(error, {})
    assert response.status_code == status
    assert response.data["type"] == "wecom_error"
    assert response.data["status"] == status
    [item] = response.data["errors"]
    assert item["code"] == f"wecom_{error.errcode}"
    assert item["message"] == (error.hint or error.errmsg)
    assert error.api in response.data["detail"]
    assert response.headers.get("Retry-After") == header
