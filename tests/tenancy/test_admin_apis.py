"""The tenant admin API: /api/v1/members/, /api/v1/api-keys/, /api/v1/tenant/.

Admins only; everything scoped to the active tenant (charlie, admin of tenant B, gets 404 on A's
objects); secrets and key hashes never leave through the API. Error responses always have the shape
{type, title, status, detail, errors}.
"""

from __future__ import annotations

import base64

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from rest_framework.test import APIClient

from scrm.tenancy import services
from scrm.tenancy.actors import Actor
from scrm.tenancy.models import ApiKey, DataScope, Invitation, Membership, Role, Tenant
from tests.helpers import PASSWORD, assert_problem

User = get_user_model()

NEW_PASSWORD = "Fresh-Lantern-77"

MEMBERS_URL = "/api/v1/members/"
INVITATIONS_URL = "/api/v1/invitations/"  # how members are added: tests/tenancy/test_invitations.py
KEYS_URL = "/api/v1/api-keys/"
TENANT_URL = "/api/v1/tenant/"
ME_URL = "/api/v1/auth/me/"
LOGIN_URL = "/api/v1/auth/login/"
WIDGETS_URL = "/api/v1/test/widgets/"  # a plain tenant route any member may read (tests/urls.py)

# A valid EncodingAESKey: 43 characters of base64 for a 32-byte key.
AES_KEY = base64.b64encode(bytes(range(7, 39))).decode().rstrip("=")
assert len(AES_KEY) == 43


def assert_invalid(response, path: str) -> dict:
    """A 400 validation error naming the given field path."""
    body = assert_problem(response, 400, "validation_error")
    assert path in [error["path"] for error in body["errors"]], body
    return body


def results(response) -> list[dict]:
    assert response.status_code == 200, (response.status_code, response.content)
    return response.json()["results"]


def membership_of(user, tenant) -> Membership:
    return Membership.unscoped.get(user=user, tenant=tenant)


def add_member(tenant, username: str, role: str, **kwargs):
    user, _ = services.user_get_or_create(username=username, password=PASSWORD)
    services.membership_add(tenant=tenant, user=user, role=role, **kwargs)
    return user


def key_client(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


@pytest.fixture
def operator(tenant_a):
    return add_member(tenant_a, "olga", Role.OPERATOR)


@pytest.fixture
def a_key(tenant_a, alice):
    """An API key of tenant A (row, full key)."""
    return services.api_key_create(
        tenant=tenant_a, role=Role.OPERATOR, name="A's integration", actor=Actor(user=alice)
    )


# ==================================================================================================
# members
# ==================================================================================================


def test_admin_lists_the_members_of_her_tenant_only(alice_client, alice, bob, charlie, tenant_a):
    rows = results(alice_client.get(MEMBERS_URL))
    assert [(row["username"], row["role"]) for row in rows] == [("alice", "admin"), ("bob", "sales")]
    bob_row = rows[1]
    assert bob_row["id"] == membership_of(bob, tenant_a).id
    assert bob_row["data_scope"] == "self"
    assert bob_row["wecom_userid"] == "bob"
    assert "charlie" not in alice_client.get(MEMBERS_URL).content.decode()


def test_admin_reads_one_member(alice_client, bob, tenant_a):
    membership = membership_of(bob, tenant_a)
    response = alice_client.get(f"{MEMBERS_URL}{membership.id}/")
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == membership.id
    assert body["username"] == "bob"
    assert body["role"] == "sales"
    assert body["wecom_userid"] == "bob"


def test_unknown_member_id_is_404(alice_client, alice):
    assert_problem(alice_client.get(f"{MEMBERS_URL}999999/"), 404, "not_found")


def test_patch_role_and_data_scope(alice_client, bob, tenant_a):
    membership = membership_of(bob, tenant_a)
    url = f"{MEMBERS_URL}{membership.id}/"

    response = alice_client.patch(url, {"data_scope": "departments", "department_ids": [3, 5]}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["data_scope"] == "departments"
    assert response.json()["department_ids"] == [3, 5]
    membership.refresh_from_db()
    assert (membership.role, membership.data_scope, membership.department_ids) == (
        "sales",
        "departments",
        [3, 5],
    )

    response = alice_client.patch(url, {"role": "operator", "data_scope": "all"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["role"] == "operator"
    membership.refresh_from_db()
    assert (membership.role, membership.data_scope) == ("operator", "all")
    # bob now acts as an operator.
    assert (
        APIClient().post(LOGIN_URL, {"username": "bob", "password": PASSWORD}, format="json").json()["role"]
        == "operator"
    )


def test_patch_sales_to_data_scope_all_is_400(alice_client, bob, tenant_a):
    membership = membership_of(bob, tenant_a)
    assert_invalid(
        alice_client.patch(f"{MEMBERS_URL}{membership.id}/", {"data_scope": "all"}, format="json"),
        "data_scope",
    )
    membership.refresh_from_db()
    assert membership.data_scope == DataScope.SELF


def test_patch_clearing_a_scoped_members_wecom_userid_is_400(alice_client, bob, tenant_a):
    membership = membership_of(bob, tenant_a)
    response = alice_client.patch(f"{MEMBERS_URL}{membership.id}/", {"wecom_userid": ""}, format="json")
    assert_invalid(response, "wecom_userid")
    membership.refresh_from_db()
    assert membership.wecom_userid == "bob"


def test_patch_with_an_unknown_role_is_400(alice_client, bob, tenant_a):
    membership = membership_of(bob, tenant_a)
    assert_invalid(
        alice_client.patch(f"{MEMBERS_URL}{membership.id}/", {"role": "root"}, format="json"), "role"
    )


def test_cannot_demote_the_last_admin(alice_client, alice, bob, tenant_a):
    membership = membership_of(alice, tenant_a)
    response = alice_client.patch(f"{MEMBERS_URL}{membership.id}/", {"role": "operator"}, format="json")
    assert_invalid(response, "role")
    membership.refresh_from_db()
    assert membership.role == Role.ADMIN


def test_cannot_remove_the_last_admin(alice_client, alice, bob, tenant_a):
    membership = membership_of(alice, tenant_a)
    assert_invalid(alice_client.delete(f"{MEMBERS_URL}{membership.id}/"), "role")
    assert Membership.unscoped.filter(pk=membership.pk).exists()


def test_an_admin_in_another_tenant_does_not_count_as_a_second_admin(alice_client, alice, charlie, tenant_a):
    membership = membership_of(alice, tenant_a)
    assert_invalid(
        alice_client.patch(f"{MEMBERS_URL}{membership.id}/", {"role": "operator"}, format="json"), "role"
    )
    assert_invalid(alice_client.delete(f"{MEMBERS_URL}{membership.id}/"), "role")


def test_can_demote_an_admin_once_there_is_a_second(alice_client, alice, bob, tenant_a):
    bob_membership = membership_of(bob, tenant_a)
    promoted = alice_client.patch(f"{MEMBERS_URL}{bob_membership.id}/", {"role": "admin"}, format="json")
    assert promoted.status_code == 200, promoted.content

    alice_membership = membership_of(alice, tenant_a)
    response = alice_client.patch(f"{MEMBERS_URL}{alice_membership.id}/", {"role": "operator"}, format="json")
    assert response.status_code == 200, response.content
    alice_membership.refresh_from_db()
    assert alice_membership.role == Role.OPERATOR
    # She is no longer an admin: the admin routes close to her.
    assert_problem(alice_client.get(MEMBERS_URL), 403, "permission_denied")


def test_can_remove_an_admin_once_there_is_a_second(alice_client, alice, tenant_a):
    add_member(tenant_a, "adele", Role.ADMIN)
    membership = membership_of(alice, tenant_a)
    response = alice_client.delete(f"{MEMBERS_URL}{membership.id}/")
    assert response.status_code == 204
    assert not Membership.unscoped.filter(pk=membership.pk).exists()


def test_delete_removes_the_membership_but_keeps_the_user(alice_client, bob, tenant_a, client_for):
    membership = membership_of(bob, tenant_a)
    response = alice_client.delete(f"{MEMBERS_URL}{membership.id}/")
    assert response.status_code == 204
    assert not Membership.unscoped.filter(pk=membership.pk).exists()
    assert User.objects.filter(username="bob").exists()
    assert [row["username"] for row in results(alice_client.get(MEMBERS_URL))] == ["alice"]
    assert_problem(alice_client.get(f"{MEMBERS_URL}{membership.id}/"), 404, "not_found")
    # bob still logs in, but belongs to no tenant any more.
    me = client_for(bob).get(ME_URL).json()
    assert me["memberships"] == []
    assert me["active_tenant"] is None
    assert_problem(client_for(bob).get(WIDGETS_URL), 403, "permission_denied")


def test_filter_members_by_role(alice_client, alice, bob, operator):
    assert [row["username"] for row in results(alice_client.get(MEMBERS_URL, {"role": "sales"}))] == ["bob"]
    assert [row["username"] for row in results(alice_client.get(MEMBERS_URL, {"role": "operator"}))] == [
        "olga"
    ]
    assert [row["username"] for row in results(alice_client.get(MEMBERS_URL, {"role": "admin"}))] == ["alice"]
    assert_invalid(alice_client.get(MEMBERS_URL, {"role": "owner"}), "role")


def test_filter_members_by_username(alice_client, alice, bob, charlie):
    assert [row["username"] for row in results(alice_client.get(MEMBERS_URL, {"username": "BO"}))] == ["bob"]
    # charlie exists, but not in this tenant.
    assert results(alice_client.get(MEMBERS_URL, {"username": "charlie"})) == []


# ==================================================================================================
# API keys
# ==================================================================================================


def test_create_api_key_returns_the_full_key_once(alice, alice_client, tenant_a):
    response = alice_client.post(KEYS_URL, {"name": "CRM sync", "role": "admin"}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    key = body["key"]
    assert key.startswith(body["prefix"] + ".")
    assert len(key) > len(body["prefix"]) + 20
    assert body["name"] == "CRM sync"
    assert body["role"] == "admin"
    assert body["created_by"] == {"type": "member", "id": alice.pk, "name": "alice"}
    assert body["revoked"] is False
    assert body["last_used_at"] is None
    assert "hashed_key" not in body

    row = ApiKey.unscoped.get(pk=body["id"])
    assert row.tenant_id == tenant_a.id
    assert key not in row.hashed_key  # stored hashed, not in clear

    listed = alice_client.get(KEYS_URL)
    detail = alice_client.get(f"{KEYS_URL}{body['id']}/")
    assert detail.status_code == 200
    for later in (listed, detail):
        text = later.content.decode()
        assert key not in text
        assert key.split(".", 1)[1] not in text
        assert row.hashed_key not in text
    assert [set(item) & {"key", "hashed_key"} for item in results(listed)] == [set()]
    assert "key" not in detail.json()
    assert "hashed_key" not in detail.json()
    assert detail.json()["prefix"] == body["prefix"]


def test_created_key_authenticates_with_its_role(alice_client):
    admin_key = alice_client.post(KEYS_URL, {"name": "admin", "role": "admin"}, format="json").json()["key"]
    operator_key = alice_client.post(KEYS_URL, {"name": "ops", "role": "operator"}, format="json").json()[
        "key"
    ]

    as_admin = key_client(admin_key)
    tenant = as_admin.get(TENANT_URL)
    assert tenant.status_code == 200
    assert tenant.json()["slug"] == "tenant-a"
    assert {row["username"] for row in results(as_admin.get(MEMBERS_URL))} == {"alice"}

    as_operator = key_client(operator_key)
    assert as_operator.get(WIDGETS_URL).status_code == 200  # authenticated, in tenant A...
    assert_problem(as_operator.get(TENANT_URL), 403, "permission_denied")  # ...but not an admin
    assert_problem(as_operator.get(MEMBERS_URL), 403, "permission_denied")


def test_a_made_up_key_is_401(alice, a_key):
    row, _ = a_key
    assert_problem(key_client(f"{row.prefix}.{'x' * 40}").get(WIDGETS_URL), 401, "authentication_failed")
    assert_problem(key_client("nonsense").get(WIDGETS_URL), 401, "authentication_failed")


def test_create_api_key_validation(alice_client):
    assert_invalid(alice_client.post(KEYS_URL, {"role": "admin"}, format="json"), "name")
    assert_invalid(alice_client.post(KEYS_URL, {"name": "x", "role": "superuser"}, format="json"), "role")
    assert_invalid(alice_client.post(KEYS_URL, {"name": "x"}, format="json"), "role")
    assert not ApiKey.unscoped.exists()


def test_filter_api_keys_by_prefix(alice_client, tenant_a):
    first, _ = services.api_key_create(tenant=tenant_a, role=Role.ADMIN, name="first")
    second, _ = services.api_key_create(tenant=tenant_a, role=Role.ADMIN, name="second")
    assert {row["id"] for row in results(alice_client.get(KEYS_URL))} == {first.id, second.id}
    assert [row["id"] for row in results(alice_client.get(KEYS_URL, {"prefix": first.prefix}))] == [first.id]
    assert [row["id"] for row in results(alice_client.get(KEYS_URL, {"prefix": second.prefix}))] == [
        second.id
    ]
    assert results(alice_client.get(KEYS_URL, {"prefix": "zz-none"})) == []


def test_revoke_api_key(alice_client, a_key, tenant_a):
    row, key = a_key
    client = key_client(key)
    assert client.get(WIDGETS_URL).status_code == 200

    response = alice_client.post(f"{KEYS_URL}{row.id}/revoke/")
    assert response.status_code == 200, response.content
    assert response.json()["revoked"] is True
    assert response.json()["revoked_at"] is not None
    assert "key" not in response.json()
    row.refresh_from_db()
    assert row.revoked_at is not None

    for method, url in [
        ("get", WIDGETS_URL),
        ("get", MEMBERS_URL),
        ("get", KEYS_URL),
        ("get", TENANT_URL),
        ("post", KEYS_URL),
        ("get", ME_URL),
    ]:
        assert_problem(getattr(client, method)(url), 401, "authentication_failed")

    # The list shows it revoked, and filters on it.
    assert results(alice_client.get(KEYS_URL, {"revoked": "true"}))[0]["id"] == row.id
    assert results(alice_client.get(KEYS_URL, {"revoked": "false"})) == []


def test_revoking_twice_is_fine_and_keeps_the_first_revocation_time(alice_client, a_key):
    row, key = a_key
    first = alice_client.post(f"{KEYS_URL}{row.id}/revoke/")
    second = alice_client.post(f"{KEYS_URL}{row.id}/revoke/")
    assert first.status_code == second.status_code == 200
    assert second.json()["revoked"] is True
    assert second.json()["revoked_at"] == first.json()["revoked_at"]
    assert_problem(key_client(key).get(WIDGETS_URL), 401, "authentication_failed")


def test_revoking_an_unknown_key_is_404(alice_client):
    assert_problem(alice_client.post(f"{KEYS_URL}999999/revoke/"), 404, "not_found")


def test_last_used_at_is_set_after_use(alice_client, a_key):
    row, key = a_key
    assert alice_client.get(f"{KEYS_URL}{row.id}/").json()["last_used_at"] is None
    before = timezone.now()

    assert key_client(key).get(WIDGETS_URL).status_code == 200

    row.refresh_from_db()
    assert row.last_used_at is not None
    assert row.last_used_at >= before
    assert alice_client.get(f"{KEYS_URL}{row.id}/").json()["last_used_at"] is not None


def test_a_key_of_a_deactivated_tenant_is_401(a_key, tenant_a):
    _, key = a_key
    tenant_a.is_active = False
    tenant_a.save(update_fields=["is_active"])
    assert_problem(key_client(key).get(WIDGETS_URL), 401, "authentication_failed")


def test_api_key_created_by_a_key_records_that_key(tenant_a, key_client_for):
    response = key_client_for(tenant_a, Role.ADMIN).post(
        KEYS_URL, {"name": "by key", "role": "sales"}, format="json"
    )
    assert response.status_code == 201, response.content
    creator = ApiKey.unscoped.get(name="admin key")
    assert response.json()["created_by"] == {"type": "api_key", "id": creator.pk, "name": "admin key"}
    created = ApiKey.unscoped.get(pk=response.json()["id"])
    assert (created.created_by, created.created_by_api_key) == (None, creator)
    assert ApiKey.unscoped.get(pk=response.json()["id"]).tenant_id == tenant_a.id


# ==================================================================================================
# tenant settings
# ==================================================================================================


def test_tenant_settings_show_connection_but_never_secrets(alice_client, tenant_a):
    response = alice_client.get(TENANT_URL)
    assert response.status_code == 200
    body = response.json()
    assert body["slug"] == "tenant-a"
    assert body["name"] == "Tenant A"
    assert body["corp_id"] == "wwA"
    assert body["callback_url"].endswith("/wecom/callback/tenant-a/")
    assert body["corp_secret_set"] is True  # the fixture sets "secret-of-a"
    assert body["callback_token_set"] is False
    assert body["encoding_aes_key_set"] is False
    assert not {"corp_secret", "callback_token", "encoding_aes_key"} & set(body)
    assert "secret-of-a" not in response.content.decode()


def test_patch_secrets_stores_them(alice_client, tenant_a):
    response = alice_client.patch(
        TENANT_URL,
        {"corp_secret": "NewCorpSecret123", "callback_token": "Tok3nValue", "encoding_aes_key": AES_KEY},
        format="json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["corp_secret_set"] is body["callback_token_set"] is body["encoding_aes_key_set"] is True
    text = response.content.decode()
    assert "NewCorpSecret123" not in text
    assert "Tok3nValue" not in text
    assert AES_KEY not in text

    tenant = Tenant.objects.get(pk=tenant_a.pk)
    assert tenant.corp_secret == "NewCorpSecret123"
    assert tenant.callback_token == "Tok3nValue"
    assert tenant.encoding_aes_key == AES_KEY


def test_patch_with_an_empty_secret_keeps_the_old_one(alice_client, tenant_a):
    response = alice_client.patch(
        TENANT_URL, {"name": "Tenant A renamed", "corp_secret": "", "callback_token": ""}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["name"] == "Tenant A renamed"
    assert response.json()["corp_secret_set"] is True
    tenant = Tenant.objects.get(pk=tenant_a.pk)
    assert tenant.name == "Tenant A renamed"
    assert tenant.corp_secret == "secret-of-a"
    assert tenant.callback_token == ""


def test_patch_plain_settings(alice_client, tenant_a):
    response = alice_client.patch(
        TENANT_URL, {"corp_id": "wwNEW", "agent_id": "1000002", "slug": "hijacked", "id": 999}, format="json"
    )
    assert response.status_code == 200, response.content
    tenant = Tenant.objects.get(pk=tenant_a.pk)
    assert (tenant.corp_id, tenant.agent_id) == ("wwNEW", "1000002")
    # Read-only fields are not writable.
    assert tenant.slug == "tenant-a"
    assert response.json()["callback_url"].endswith("/wecom/callback/tenant-a/")


@pytest.mark.parametrize(
    "value",
    [
        AES_KEY[:-1],  # 42 characters
        AES_KEY + "A",  # 44 characters
        "!" * 43,  # not base64
        AES_KEY[:-2] + "-_",  # URL-safe alphabet is not WeCom's
    ],
    ids=["short", "long", "not-base64", "urlsafe"],
)
def test_patch_invalid_encoding_aes_key_is_400(alice_client, tenant_a, value):
    assert_invalid(
        alice_client.patch(TENANT_URL, {"encoding_aes_key": value}, format="json"), "encoding_aes_key"
    )
    assert Tenant.objects.get(pk=tenant_a.pk).encoding_aes_key == ""


@pytest.mark.parametrize("value", ["tok-en", "tok en", "token!", "令牌"])
def test_patch_non_alphanumeric_callback_token_is_400(alice_client, tenant_a, value):
    assert_invalid(alice_client.patch(TENANT_URL, {"callback_token": value}, format="json"), "callback_token")
    assert Tenant.objects.get(pk=tenant_a.pk).callback_token == ""


def test_a_rejected_patch_changes_nothing(alice_client, tenant_a):
    response = alice_client.patch(
        TENANT_URL,
        {"name": "Changed", "corp_secret": "Changed1", "callback_token": "bad token"},
        format="json",
    )
    assert_invalid(response, "callback_token")
    tenant = Tenant.objects.get(pk=tenant_a.pk)
    assert (tenant.name, tenant.corp_secret) == ("Tenant A", "secret-of-a")


# ==================================================================================================
# secrets never appear
# ==================================================================================================

SECRET_CORP = "CorpSecretZq7Xv9Lm2Pw4"
SECRET_TOKEN = "CallbackTokenRt5Yu8Io"
SECRET_AES = base64.b64encode(b"0123456789abcdefghijklmnopqrstuv").decode().rstrip("=")
assert len(SECRET_AES) == 43


def test_secrets_and_key_hashes_never_appear_in_responses(tenant_a, alice, bob, alice_client, client_for):
    services.tenant_settings_update(
        tenant=tenant_a,
        data={"corp_secret": SECRET_CORP, "callback_token": SECRET_TOKEN, "encoding_aes_key": SECRET_AES},
    )
    bodies: dict[str, str] = {}

    def record(label: str, response, status: int = 200) -> dict:
        assert response.status_code == status, (label, response.status_code, response.content)
        bodies[label] = response.content.decode()
        return response.json()

    created = record(
        "create key", alice_client.post(KEYS_URL, {"name": "K", "role": "admin"}, format="json"), 201
    )
    full_key = created["key"]
    admin_key_client = key_client(full_key)
    services.api_key_create(tenant=tenant_a, role=Role.SALES, name="other", actor=Actor(user=alice))

    record(
        "invite",
        alice_client.post(
            INVITATIONS_URL, {"username": "dave", "password": NEW_PASSWORD, "role": "operator"}, format="json"
        ),
        201,
    )
    record("invitations", alice_client.get(INVITATIONS_URL))
    record(
        "patch member",
        alice_client.patch(
            f"{MEMBERS_URL}{membership_of(bob, tenant_a).id}/", {"department_ids": [1]}, format="json"
        ),
    )
    record("patch tenant name", alice_client.patch(TENANT_URL, {"name": "Renamed"}, format="json"))
    record(
        "patch tenant secrets",
        alice_client.patch(
            TENANT_URL,
            {"corp_secret": SECRET_CORP, "callback_token": SECRET_TOKEN, "encoding_aes_key": SECRET_AES},
            format="json",
        ),
    )

    bob_id = membership_of(bob, tenant_a).id
    for who, client in [("session", alice_client), ("api key", admin_key_client)]:
        record(f"{who} members", client.get(MEMBERS_URL))
        record(f"{who} member", client.get(f"{MEMBERS_URL}{bob_id}/"))
        keys = record(f"{who} keys", client.get(KEYS_URL))
        assert len(keys["results"]) == 2
        for item in keys["results"]:
            record(f"{who} key {item['id']}", client.get(f"{KEYS_URL}{item['id']}/"))
        record(f"{who} tenant", client.get(TENANT_URL))
    record("me", alice_client.get(ME_URL))
    record("me (bob)", client_for(bob).get(ME_URL))
    other = ApiKey.unscoped.get(name="other")
    record("revoke", alice_client.post(f"{KEYS_URL}{other.id}/revoke/"))

    hashes = list(ApiKey.unscoped.values_list("hashed_key", flat=True))
    assert len(hashes) == 2
    forbidden = [SECRET_CORP, SECRET_TOKEN, SECRET_AES, *hashes, NEW_PASSWORD]
    for label, text in bodies.items():
        for secret in forbidden:
            assert secret not in text, f"{secret[:12]}... leaked in {label}"
        assert "hashed_key" not in text, label
        if label != "create key":
            assert full_key not in text, f"the full key leaked in {label}"
            assert full_key.split(".", 1)[1] not in text, f"the key's secret part leaked in {label}"
    # The settings still say the secrets are set.
    assert '"corp_secret_set":true' in bodies["session tenant"].replace(" ", "")


# ==================================================================================================
# roles
# ==================================================================================================

# (method, url template, body); {member} is bob's membership id, {key} an API key id of tenant A.
ADMIN_ROUTES = [
    ("get", MEMBERS_URL, None),
    ("post", INVITATIONS_URL, {"username": "mallory", "password": NEW_PASSWORD, "role": "admin"}),
    ("get", MEMBERS_URL + "{member}/", None),
    ("patch", MEMBERS_URL + "{member}/", {"role": "admin"}),
    ("delete", MEMBERS_URL + "{member}/", None),
    ("get", KEYS_URL, None),
    ("post", KEYS_URL, {"name": "mine", "role": "admin"}),
    ("get", KEYS_URL + "{key}/", None),
    ("post", KEYS_URL + "{key}/revoke/", None),
    ("get", TENANT_URL, None),
    ("patch", TENANT_URL, {"name": "Taken over", "corp_secret": "Stolen1"}),
]
ROUTE_IDS = [f"{method}-{url.replace('/api/v1/', '').strip('/')}" for method, url, _ in ADMIN_ROUTES]


@pytest.fixture
def callers(tenant_a, bob, operator, client_for, key_client_for):
    return {
        "sales": lambda: client_for(bob),
        "operator": lambda: client_for(operator),
        "operator-key": lambda: key_client_for(tenant_a, Role.OPERATOR),
        "sales-key": lambda: key_client_for(tenant_a, Role.SALES),
    }


@pytest.mark.parametrize("caller", ["sales", "operator", "operator-key", "sales-key"])
@pytest.mark.parametrize(("method", "url", "data"), ADMIN_ROUTES, ids=ROUTE_IDS)
def test_non_admins_are_forbidden_on_every_admin_route(
    callers, caller, method, url, data, tenant_a, bob, a_key
):
    client = callers[caller]()
    api_key, _ = a_key
    member = membership_of(bob, tenant_a)
    target = url.format(member=member.id, key=api_key.id)
    keys_before = ApiKey.unscoped.count()

    response = (
        getattr(client, method)(target, data, format="json") if data else getattr(client, method)(target)
    )
    assert_problem(response, 403, "permission_denied")

    # And nothing changed.
    member.refresh_from_db()
    assert member.role == Role.SALES
    api_key.refresh_from_db()
    assert api_key.revoked_at is None
    assert ApiKey.unscoped.count() == keys_before
    assert not User.objects.filter(username="mallory").exists()
    tenant = Tenant.objects.get(pk=tenant_a.pk)
    assert (tenant.name, tenant.corp_secret) == ("Tenant A", "secret-of-a")


@pytest.mark.parametrize(("method", "url", "data"), ADMIN_ROUTES, ids=ROUTE_IDS)
def test_an_admin_api_key_may_use_every_admin_route(
    key_client_for, method, url, data, tenant_a, alice, bob, a_key
):
    client = key_client_for(tenant_a, Role.ADMIN)
    api_key, _ = a_key
    target = url.format(member=membership_of(bob, tenant_a).id, key=api_key.id)
    response = (
        getattr(client, method)(target, data, format="json") if data else getattr(client, method)(target)
    )
    assert response.status_code in (200, 201, 204), response.content


# ==================================================================================================
# tenant isolation
# ==================================================================================================


@pytest.fixture(params=["charlie-session", "tenant-b-admin-key"])
def outsider(request, charlie, tenant_b, client_for, key_client_for):
    """An admin of tenant B: charlie's session, or an admin API key of B."""
    if request.param == "charlie-session":
        return client_for(charlie)
    return key_client_for(tenant_b, Role.ADMIN)


def test_outsider_gets_404_on_tenant_a_members(outsider, alice, bob, tenant_a):
    for user in (alice, bob):
        membership = membership_of(user, tenant_a)
        url = f"{MEMBERS_URL}{membership.id}/"
        assert_problem(outsider.get(url), 404, "not_found")
        assert_problem(
            outsider.patch(url, {"role": "sales", "wecom_userid": "x"}, format="json"), 404, "not_found"
        )
        assert_problem(outsider.delete(url), 404, "not_found")
        membership.refresh_from_db()  # still there, unchanged
        assert membership.role == (Role.ADMIN if user == alice else Role.SALES)


def test_outsider_gets_404_on_tenant_a_api_keys(outsider, a_key):
    row, key = a_key
    assert_problem(outsider.get(f"{KEYS_URL}{row.id}/"), 404, "not_found")
    assert_problem(outsider.post(f"{KEYS_URL}{row.id}/revoke/"), 404, "not_found")
    row.refresh_from_db()
    assert row.revoked_at is None
    assert key_client(key).get(WIDGETS_URL).status_code == 200


def test_outsider_lists_never_contain_tenant_a_rows(outsider, alice, bob, a_key, tenant_a):
    row, _ = a_key
    a_member_ids = set(Membership.unscoped.filter(tenant=tenant_a).values_list("id", flat=True))

    members = results(outsider.get(MEMBERS_URL))
    assert {m["username"] for m in members} == {"charlie"}
    assert not {m["id"] for m in members} & a_member_ids
    assert results(outsider.get(MEMBERS_URL, {"role": "sales"})) == []
    assert results(outsider.get(MEMBERS_URL, {"username": "alice"})) == []

    keys = results(outsider.get(KEYS_URL))
    assert row.id not in {k["id"] for k in keys}
    assert row.prefix not in outsider.get(KEYS_URL).content.decode()
    assert results(outsider.get(KEYS_URL, {"prefix": row.prefix})) == []

    tenant = outsider.get(TENANT_URL).json()
    assert tenant["slug"] == "tenant-b"
    assert tenant["corp_id"] == "wwB"


def test_outsider_inviting_and_adding_keys_lands_in_their_own_tenant(outsider, tenant_a, tenant_b, alice):
    response = outsider.post(INVITATIONS_URL, {"username": "alice", "role": "operator"}, format="json")
    assert response.status_code == 201, response.content
    # An invitation of tenant B, waiting for alice's answer: she is not a member of B without it.
    assert Invitation.unscoped.get(pk=response.json()["id"]).tenant_id == tenant_b.id
    assert not Membership.unscoped.filter(user=alice, tenant=tenant_b).exists()
    assert membership_of(alice, tenant_a).role == Role.ADMIN

    created = outsider.post(KEYS_URL, {"name": "b", "role": "admin"}, format="json")
    assert created.status_code == 201
    assert ApiKey.unscoped.get(pk=created.json()["id"]).tenant_id == tenant_b.id


def test_outsider_patching_tenant_changes_only_their_own(outsider, tenant_a, tenant_b):
    assert (
        outsider.patch(TENANT_URL, {"name": "B renamed", "corp_secret": "BNew1"}, format="json").status_code
        == 200
    )
    a = Tenant.objects.get(pk=tenant_a.pk)
    b = Tenant.objects.get(pk=tenant_b.pk)
    assert (a.name, a.corp_secret) == ("Tenant A", "secret-of-a")
    assert (b.name, b.corp_secret) == ("B renamed", "BNew1")


# --- the API base: only what the deployment allows (SSRF) -------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "http://169.254.169.254/latest/meta-data/",  # a cloud metadata service
        "http://10.0.0.5:6379/",  # something on the server's network
        "https://qyapi.weixin.qq.com.evil.example/cgi-bin/",
        "https://user:pw@qyapi.weixin.qq.com/cgi-bin/",
        "http://127.0.0.1:8001/cgi-bin/",  # the sandbox, in a deployment that does not enable it
    ],
)
def test_an_api_base_the_deployment_does_not_allow_is_400(alice_client, tenant_a, settings, value):
    settings.WECOM_SANDBOX_ALLOWED = False
    body = assert_invalid(alice_client.patch(TENANT_URL, {"api_base": value}, format="json"), "api_base")
    assert "169.254" not in body["detail"]
    assert Tenant.objects.get(pk=tenant_a.pk).api_base == ""


@pytest.mark.parametrize(
    "value", ["https://qyapi.weixin.qq.com/cgi-bin/", "https://QYAPI.weixin.qq.com/cgi-bin", ""]
)
def test_wecoms_own_api_base_is_accepted(alice_client, tenant_a, settings, value):
    settings.WECOM_SANDBOX_ALLOWED = False
    response = alice_client.patch(TENANT_URL, {"api_base": value}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["api_base"] == value


def test_the_deployment_can_allow_more_bases_and_the_sandbox(alice_client, tenant_a, settings):
    settings.WECOM_SANDBOX_ALLOWED = False
    settings.WECOM_ALLOWED_API_BASES = ["https://wecom-proxy.internal.example/cgi-bin/"]
    proxy = {"api_base": "https://wecom-proxy.internal.example/cgi-bin/"}
    assert alice_client.patch(TENANT_URL, proxy, format="json").status_code == 200
    sandbox = {"api_base": "http://127.0.0.1:8001/cgi-bin/"}
    assert_invalid(alice_client.patch(TENANT_URL, sandbox, format="json"), "api_base")
    settings.WECOM_SANDBOX_ALLOWED = True
    assert alice_client.patch(TENANT_URL, sandbox, format="json").status_code == 200
