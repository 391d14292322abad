"""The dashboard's session API under /api/v1/auth/: CSRF, login (and its throttle), me, switch-tenant,
logout. Error responses always have the shape {type, title, status, detail, errors}."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from scrm.tenancy import services
from scrm.tenancy.models import Role
from tests.helpers import PASSWORD, assert_problem

User = get_user_model()


CSRF_URL = "/api/v1/auth/csrf/"
LOGIN_URL = "/api/v1/auth/login/"
LOGOUT_URL = "/api/v1/auth/logout/"
ME_URL = "/api/v1/auth/me/"
SWITCH_URL = "/api/v1/auth/switch-tenant/"
TENANT_URL = "/api/v1/tenant/"
MEMBERS_URL = "/api/v1/members/"


def login(client: APIClient, username: str, password: str = PASSWORD, **extra):
    return client.post(LOGIN_URL, {"username": username, "password": password}, format="json", **extra)


# --- CSRF -----------------------------------------------------------------------------------------


def test_csrf_returns_a_token_and_sets_the_cookie(db):
    client = APIClient(enforce_csrf_checks=True)
    response = client.get(CSRF_URL)
    assert response.status_code == 200
    assert response.json()["csrf_token"]
    assert client.cookies[settings.CSRF_COOKIE_NAME].value


def test_login_without_csrf_header_is_rejected(alice):
    client = APIClient(enforce_csrf_checks=True)
    client.get(CSRF_URL)  # the cookie alone is not enough
    response = login(client, "alice")
    body = assert_problem(response, 403, "permission_denied")
    assert "CSRF" in body["detail"]
    # Not logged in.
    assert client.get(ME_URL).status_code == 401


def test_login_with_csrf_header_is_accepted(alice):
    client = APIClient(enforce_csrf_checks=True)
    token = client.get(CSRF_URL).json()["csrf_token"]
    response = login(client, "alice", HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 200, response.content
    assert response.json()["username"] == "alice"
    # The session works, and me/ hands out a CSRF token for the next writes.
    me = client.get(ME_URL)
    assert me.status_code == 200
    assert me.json()["csrf_token"]


def test_login_with_a_wrong_csrf_token_is_rejected(alice):
    client = APIClient(enforce_csrf_checks=True)
    client.get(CSRF_URL)
    response = login(client, "alice", HTTP_X_CSRFTOKEN="x" * 32)
    assert_problem(response, 403, "permission_denied")


# --- login ----------------------------------------------------------------------------------------


def test_login_success_returns_me_and_starts_a_session(alice, bob, tenant_a):
    client = APIClient()
    response = login(client, "alice")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["username"] == "alice"
    assert body["id"] == alice.pk
    assert body["active_tenant"]["slug"] == "tenant-a"
    assert body["role"] == Role.ADMIN
    assert [(m["tenant"]["slug"], m["role"]) for m in body["memberships"]] == [("tenant-a", "admin")]
    assert "password" not in response.content.decode()

    me = client.get(ME_URL)
    assert me.status_code == 200
    assert me.json()["username"] == "alice"
    assert me.json()["active_tenant"]["slug"] == "tenant-a"
    # The session reaches tenant routes too.
    assert client.get(TENANT_URL).json()["slug"] == "tenant-a"


def test_login_as_sales_reports_the_sales_role(bob):
    body = login(APIClient(), "bob").json()
    assert body["role"] == Role.SALES
    assert body["memberships"][0]["wecom_userid"] == "bob"
    assert body["memberships"][0]["data_scope"] == "self"


def test_login_with_wrong_password_is_401(alice):
    client = APIClient()
    response = login(client, "alice", "not-the-password")
    assert_problem(response, 401, "authentication_failed")
    assert client.get(ME_URL).status_code == 401


def test_login_with_unknown_user_is_401_with_the_same_message(alice):
    wrong_password = assert_problem(
        login(APIClient(), "alice", "not-the-password"), 401, "authentication_failed"
    )
    unknown_user = assert_problem(login(APIClient(), "nobody-here", PASSWORD), 401, "authentication_failed")
    # No user enumeration: both failures read the same.
    assert unknown_user == wrong_password


def test_login_of_a_deactivated_user_is_401(alice):
    alice.is_active = False
    alice.save(update_fields=["is_active"])
    assert_problem(login(APIClient(), "alice"), 401, "authentication_failed")


def test_login_with_missing_fields_is_400_with_paths(db):
    body = assert_problem(APIClient().post(LOGIN_URL, {}, format="json"), 400, "validation_error")
    assert {error["path"] for error in body["errors"]} == {"username", "password"}


# --- login throttling -----------------------------------------------------------------------------


def _fail(client: APIClient, username: str, times: int) -> None:
    for _ in range(times):
        assert_problem(login(client, username, "not-the-password"), 401, "authentication_failed")


def test_login_is_throttled_after_max_failures_even_with_the_right_password(alice):
    client = APIClient()
    _fail(client, "alice", settings.LOGIN_MAX_FAILURES)
    response = login(client, "alice")  # the right password, too late
    assert_problem(response, 429, "throttled")
    assert int(response["Retry-After"]) > 0
    assert client.get(ME_URL).status_code == 401  # no session was started
    # Still throttled on the next try.
    assert_problem(login(client, "alice"), 429, "throttled")


def test_login_throttle_is_per_username(alice, bob):
    _fail(APIClient(), "alice", settings.LOGIN_MAX_FAILURES)
    assert_problem(login(APIClient(), "alice"), 429, "throttled")
    # Another username from the same address is not blocked yet.
    response = login(APIClient(), "bob")
    assert response.status_code == 200, response.content
    assert response.json()["username"] == "bob"


def test_login_throttle_counts_usernames_case_insensitively(alice):
    _fail(APIClient(), "alice", settings.LOGIN_MAX_FAILURES - 1)
    _fail(APIClient(), "ALICE", 1)
    assert_problem(login(APIClient(), "alice"), 429, "throttled")


def test_successful_login_resets_the_failure_count(alice):
    client = APIClient()
    _fail(client, "alice", settings.LOGIN_MAX_FAILURES - 1)
    assert login(client, "alice").status_code == 200
    # The counter started over: another LOGIN_MAX_FAILURES - 1 failures still leave a try.
    client = APIClient()
    _fail(client, "alice", settings.LOGIN_MAX_FAILURES - 1)
    response = login(client, "alice")
    assert response.status_code == 200, response.content


def test_without_a_success_failures_accumulate_to_the_limit(alice):
    # The counterpart of the reset test: the same failures with no success in between do block.
    client = APIClient()
    _fail(client, "alice", settings.LOGIN_MAX_FAILURES - 1)
    _fail(client, "alice", 1)
    assert_problem(login(client, "alice"), 429, "throttled")


def _spoofed_failures(times: int, *, xff) -> list[int]:
    return [
        login(APIClient(), "alice", "not-the-password", HTTP_X_FORWARDED_FOR=xff(i)).status_code
        for i in range(times)
    ]


def test_a_forged_x_forwarded_for_does_not_escape_the_login_throttle(alice):
    """With no proxy configured (the default), X-Forwarded-For is whatever the client wrote."""
    statuses = _spoofed_failures(60, xff=lambda i: f"203.0.113.{i}")
    assert statuses.count(401) == settings.LOGIN_MAX_FAILURES
    assert set(statuses[settings.LOGIN_MAX_FAILURES :]) == {429}


def test_behind_a_configured_proxy_the_address_it_saw_is_the_one_counted(alice, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    # The proxy appends the address it saw; whatever the client put before it does not count.
    statuses = _spoofed_failures(60, xff=lambda i: f"203.0.113.{i}, 198.51.100.7")
    assert statuses.count(401) == settings.LOGIN_MAX_FAILURES
    # Another client behind the same proxy is another address, not throttled by the first one.
    response = login(APIClient(), "alice", HTTP_X_FORWARDED_FOR="198.51.100.8")
    assert response.status_code == 200, response.content


# --- me -------------------------------------------------------------------------------------------


def test_me_unauthenticated_is_401_with_a_challenge(db):
    response = APIClient().get(ME_URL)
    assert_problem(response, 401, "not_authenticated")
    assert response.has_header("WWW-Authenticate")
    assert response["WWW-Authenticate"]


def test_me_with_an_api_key_is_403(tenant_a, key_client_for):
    client = key_client_for(tenant_a, Role.ADMIN)
    assert_problem(client.get(ME_URL), 403, "permission_denied")
    assert_problem(client.post(SWITCH_URL, {"tenant": "tenant-a"}, format="json"), 403, "permission_denied")
    assert_problem(client.post(LOGOUT_URL), 403, "permission_denied")


# --- several tenants ------------------------------------------------------------------------------


@pytest.fixture
def alice_in_b(alice, tenant_b, charlie):
    services.membership_add(tenant=tenant_b, user=alice, role=Role.OPERATOR)
    return alice


def test_me_lists_every_membership(alice_in_b, alice_client):
    body = alice_client.get(ME_URL).json()
    assert [(m["tenant"]["slug"], m["role"]) for m in body["memberships"]] == [
        ("tenant-a", "admin"),
        ("tenant-b", "operator"),
    ]
    # The first membership is active until she switches.
    assert body["active_tenant"]["slug"] == "tenant-a"
    assert body["role"] == "admin"


def test_switch_tenant_changes_the_active_tenant_and_role(alice_in_b, alice_client):
    response = alice_client.post(SWITCH_URL, {"tenant": "tenant-b"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["active_tenant"]["slug"] == "tenant-b"
    assert response.json()["role"] == "operator"

    me = alice_client.get(ME_URL).json()
    assert me["active_tenant"]["slug"] == "tenant-b"
    assert me["role"] == "operator"
    # Tenant routes follow: as an operator in B she may not read B's settings...
    assert_problem(alice_client.get(TENANT_URL), 403, "permission_denied")

    # ...and switching back restores her admin role in A.
    back = alice_client.post(SWITCH_URL, {"tenant": "tenant-a"}, format="json")
    assert back.status_code == 200, back.content
    tenant = alice_client.get(TENANT_URL)
    assert tenant.status_code == 200
    assert tenant.json()["slug"] == "tenant-a"


def test_switch_tenant_shows_the_other_tenant_on_tenant_routes(alice, tenant_b, charlie, alice_client):
    services.membership_add(tenant=tenant_b, user=alice, role=Role.ADMIN)
    assert alice_client.post(SWITCH_URL, {"tenant": "tenant-b"}, format="json").status_code == 200
    tenant = alice_client.get(TENANT_URL)
    assert tenant.status_code == 200
    assert tenant.json()["slug"] == "tenant-b"
    assert tenant.json()["corp_id"] == "wwB"
    usernames = {m["username"] for m in alice_client.get(MEMBERS_URL).json()["results"]}
    assert usernames == {"alice", "charlie"}


def test_switch_to_a_tenant_she_is_not_member_of_is_400(alice, tenant_b, alice_client):
    response = alice_client.post(SWITCH_URL, {"tenant": "tenant-b"}, format="json")
    body = assert_problem(response, 400, "validation_error")
    assert body["errors"][0]["path"] == "tenant"
    # Nothing changed.
    assert alice_client.get(ME_URL).json()["active_tenant"]["slug"] == "tenant-a"
    assert alice_client.get(TENANT_URL).json()["slug"] == "tenant-a"


def test_switch_to_an_unknown_tenant_is_400(alice_client):
    body = assert_problem(
        alice_client.post(SWITCH_URL, {"tenant": "no-such-tenant"}, format="json"), 400, "validation_error"
    )
    assert body["errors"][0]["path"] == "tenant"


def test_switch_without_a_tenant_is_400(alice_client):
    body = assert_problem(alice_client.post(SWITCH_URL, {}, format="json"), 400, "validation_error")
    assert body["errors"][0]["path"] == "tenant"


def test_switch_tenant_unauthenticated_is_401(tenant_a):
    response = APIClient().post(SWITCH_URL, {"tenant": "tenant-a"}, format="json")
    assert_problem(response, 401, "not_authenticated")


def test_deactivated_tenant_is_not_listed_and_cannot_be_switched_to(alice_in_b, alice_client, tenant_b):
    tenant_b.is_active = False
    tenant_b.save(update_fields=["is_active"])

    body = alice_client.get(ME_URL).json()
    assert [m["tenant"]["slug"] for m in body["memberships"]] == ["tenant-a"]

    response = alice_client.post(SWITCH_URL, {"tenant": "tenant-b"}, format="json")
    assert assert_problem(response, 400, "validation_error")["errors"][0]["path"] == "tenant"
    assert alice_client.get(TENANT_URL).json()["slug"] == "tenant-a"


def test_deactivating_the_active_tenant_falls_back_to_an_active_one(alice_in_b, alice_client, tenant_b):
    assert alice_client.post(SWITCH_URL, {"tenant": "tenant-b"}, format="json").status_code == 200
    tenant_b.is_active = False
    tenant_b.save(update_fields=["is_active"])

    me = alice_client.get(ME_URL).json()
    assert me["active_tenant"]["slug"] == "tenant-a"
    assert me["role"] == "admin"
    assert alice_client.get(TENANT_URL).json()["slug"] == "tenant-a"


# --- logout ---------------------------------------------------------------------------------------


def test_logout_ends_the_session(alice):
    client = APIClient()
    assert login(client, "alice").status_code == 200
    assert client.get(ME_URL).status_code == 200

    response = client.post(LOGOUT_URL)
    assert response.status_code == 204
    assert_problem(client.get(ME_URL), 401, "not_authenticated")
    assert_problem(client.get(MEMBERS_URL), 401, "not_authenticated")


def test_logout_unauthenticated_is_401(db):
    assert_problem(APIClient().post(LOGOUT_URL), 401, "not_authenticated")


# --- a user with no membership --------------------------------------------------------------------


def test_user_without_membership_has_me_but_no_tenant_routes(db, client_for, tenant_a, alice):
    loner, _ = services.user_get_or_create(username="loner", password=PASSWORD)
    client = client_for(loner)

    me = client.get(ME_URL)
    assert me.status_code == 200
    body = me.json()
    assert body["username"] == "loner"
    assert body["memberships"] == []
    assert body["active_tenant"] is None
    assert body["role"] is None

    assert_problem(client.get(MEMBERS_URL), 403, "permission_denied")
    assert_problem(client.get(TENANT_URL), 403, "permission_denied")
    # And it cannot switch its way in.
    response = client.post(SWITCH_URL, {"tenant": "tenant-a"}, format="json")
    assert assert_problem(response, 400, "validation_error")["errors"][0]["path"] == "tenant"


def test_user_without_membership_can_log_in(db, tenant_a):
    services.user_get_or_create(username="loner", password=PASSWORD)
    response = login(APIClient(), "loner")
    assert response.status_code == 200
    assert response.json()["active_tenant"] is None
    assert response.json()["memberships"] == []


def test_me_reads_the_memberships_once(alice_client, tenant_b, alice, django_assert_num_queries):
    from scrm.tenancy import services

    services.membership_add(tenant=tenant_b, user=alice, role="operator")
    # The session, the user, and the memberships (with tenants): the switcher's list is the same
    # query the principal was resolved from.
    with django_assert_num_queries(3):
        body = alice_client.get(ME_URL).json()
    assert [m["tenant"]["slug"] for m in body["memberships"]] == ["tenant-a", "tenant-b"]
