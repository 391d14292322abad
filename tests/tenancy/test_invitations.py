"""Joining a tenant takes the account owner's consent: /api/v1/invitations/ and /api/v1/auth/invitations/.

A tenant admin invites a username; the account's owner accepts or declines when signed in. Inviting
tells the admin nothing about other tenants' users: not whether the username exists, not its email,
and a password sent along never touches an existing account.
"""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from scrm.tenancy import services
from scrm.tenancy.models import Invitation, InvitationStatus, Membership, Role
from tests.helpers import PASSWORD, assert_problem

User = get_user_model()

INVITATIONS_URL = "/api/v1/invitations/"
MINE_URL = "/api/v1/auth/invitations/"
MEMBERS_URL = "/api/v1/members/"
LOGIN_URL = "/api/v1/auth/login/"
ME_URL = "/api/v1/auth/me/"
NEW_PASSWORD = "Fresh-Lantern-77"


def invite(client: APIClient, username: str, role: str = "operator", **body):
    return client.post(INVITATIONS_URL, {"username": username, "role": role, **body}, format="json")


def can_log_in(username: str, password: str) -> bool:
    response = APIClient().post(LOGIN_URL, {"username": username, "password": password}, format="json")
    return response.status_code == 200


def is_member(user, tenant) -> bool:
    return Membership.unscoped.filter(user=user, tenant=tenant).exists()


def assert_invalid(response, path: str) -> dict:
    body = assert_problem(response, 400, "validation_error")
    assert path in [error["path"] for error in body["errors"]], body
    return body


# --- the review's finding: no member without consent, nothing about other tenants' users ---------


def test_members_can_no_longer_be_added_directly(alice_client, charlie, tenant_a):
    response = alice_client.post(MEMBERS_URL, {"username": "charlie", "role": "operator"}, format="json")
    assert response.status_code == 405
    assert not is_member(charlie, tenant_a)


def test_inviting_another_tenants_user_adds_nobody_and_changes_nothing(alice_client, charlie, tenant_a):
    charlie.email = "charlie@tenant-b.example"
    charlie.save()
    response = invite(alice_client, "charlie", password=NEW_PASSWORD, email="mine@example.com")
    assert response.status_code == 201, response.content
    assert response.json()["status"] == "pending"
    assert "tenant-b.example" not in response.content.decode()
    assert not is_member(charlie, tenant_a)
    # The password and email sent along never reach an existing account.
    assert can_log_in("charlie", PASSWORD)
    assert not can_log_in("charlie", NEW_PASSWORD)
    charlie.refresh_from_db()
    assert charlie.email == "charlie@tenant-b.example"
    listed = alice_client.get(INVITATIONS_URL).content.decode()
    assert "tenant-b" not in listed


def _shape(response) -> tuple:
    body = response.json()
    varying = {"id", "username", "created_at"}
    return response.status_code, {k: v for k, v in body.items() if k not in varying}


@pytest.mark.parametrize("password", [None, NEW_PASSWORD])
def test_the_answer_is_the_same_whether_or_not_the_username_exists(alice_client, charlie, password):
    extra = {"password": password} if password else {}
    existing = invite(alice_client, "charlie", **extra)
    unknown = invite(alice_client, "nobody-yet", **extra)
    assert _shape(existing) == _shape(unknown)
    assert existing.status_code == 201


@pytest.mark.parametrize("weak", ["12345678901", "password", "Ab1!"], ids=["numeric", "common", "short"])
def test_a_weak_password_is_refused_whether_or_not_the_username_exists(alice_client, charlie, weak):
    existing = invite(alice_client, "charlie", password=weak)
    unknown = invite(alice_client, "nobody-yet", password=weak)
    assert_invalid(existing, "password")
    assert existing.json() == unknown.json()
    assert not Invitation.unscoped.exists()
    assert not User.objects.filter(username="nobody-yet").exists()


# --- the invited user's side ---------------------------------------------------------------------


def test_the_invited_user_accepts_and_becomes_a_member(alice_client, charlie, tenant_a, client_for):
    invitation = invite(alice_client, "charlie", role="operator").json()
    charlie_client = client_for(charlie)
    [mine] = charlie_client.get(MINE_URL).json()
    assert mine["id"] == invitation["id"]
    assert mine["tenant"] == {"id": tenant_a.id, "slug": "tenant-a", "name": "Tenant A"}
    assert (mine["role"], mine["status"]) == ("operator", "pending")

    response = charlie_client.post(f"{MINE_URL}{invitation['id']}/accept/")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "accepted"
    membership = Membership.unscoped.get(user=charlie, tenant=tenant_a)
    assert (membership.role, membership.data_scope) == (Role.OPERATOR, "all")
    slugs = {m["tenant"]["slug"] for m in charlie_client.get(ME_URL).json()["memberships"]}
    assert slugs == {"tenant-a", "tenant-b"}
    assert charlie_client.get(MINE_URL).json() == []
    # The admin sees the answer, and the new member in the list.
    [row] = alice_client.get(INVITATIONS_URL).json()["results"]
    assert row["status"] == "accepted"
    assert row["responded_at"]
    assert "charlie" in {m["username"] for m in alice_client.get(MEMBERS_URL).json()["results"]}


def test_the_invited_user_declines(alice_client, charlie, tenant_a, client_for):
    invitation = invite(alice_client, "charlie").json()
    charlie_client = client_for(charlie)
    response = charlie_client.post(f"{MINE_URL}{invitation['id']}/decline/")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "declined"
    assert not is_member(charlie, tenant_a)
    assert_problem(charlie_client.post(f"{MINE_URL}{invitation['id']}/accept/"), 404, "not_found")
    assert not is_member(charlie, tenant_a)
    # Declined is an answer: the admin may invite again.
    assert invite(alice_client, "charlie").status_code == 201


def test_a_new_colleague_signs_in_with_the_password_and_accepts(alice_client, tenant_a):
    response = invite(alice_client, "dave", role="sales", wecom_userid="dave", email="dave@example.com",
                      password=NEW_PASSWORD)  # fmt: skip
    assert response.status_code == 201, response.content
    assert NEW_PASSWORD not in response.content.decode()
    dave = User.objects.get(username="dave")
    assert dave.email == "dave@example.com"
    assert not is_member(dave, tenant_a)  # not until dave says so

    client = APIClient()
    login = client.post(LOGIN_URL, {"username": "dave", "password": NEW_PASSWORD}, format="json")
    assert login.status_code == 200, login.content
    assert login.json()["active_tenant"] is None
    [mine] = client.get(MINE_URL).json()
    assert client.post(f"{MINE_URL}{mine['id']}/accept/").status_code == 200
    me = client.get(ME_URL).json()
    assert (me["active_tenant"]["slug"], me["role"]) == ("tenant-a", "sales")
    membership = Membership.unscoped.get(user=dave, tenant=tenant_a)
    assert (membership.data_scope, membership.wecom_userid) == ("self", "dave")


def test_nobody_else_can_see_or_answer_an_invitation(alice, alice_client, bob, charlie, client_for, tenant_a):
    invitation = invite(alice_client, "charlie").json()
    for user in (bob, alice):  # a member of the tenant, and the admin who sent it
        client = client_for(user)
        assert client.get(MINE_URL).json() == []
        assert_problem(client.post(f"{MINE_URL}{invitation['id']}/accept/"), 404, "not_found")
        assert_problem(client.post(f"{MINE_URL}{invitation['id']}/decline/"), 404, "not_found")
    assert not is_member(charlie, tenant_a)
    assert Invitation.unscoped.get(pk=invitation["id"]).status == InvitationStatus.PENDING


def test_the_invited_users_routes_are_for_sessions_only(alice_client, charlie, tenant_b, key_client_for):
    invitation = invite(alice_client, "charlie").json()
    client = key_client_for(tenant_b, Role.ADMIN)
    assert_problem(client.get(MINE_URL), 403, "permission_denied")
    assert_problem(client.post(f"{MINE_URL}{invitation['id']}/accept/"), 403, "permission_denied")
    assert_problem(APIClient().get(MINE_URL), 401, "not_authenticated")


def test_a_revoked_invitation_can_no_longer_be_accepted(alice_client, charlie, tenant_a, client_for):
    invitation = invite(alice_client, "charlie").json()
    response = alice_client.post(f"{INVITATIONS_URL}{invitation['id']}/revoke/")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "revoked"
    charlie_client = client_for(charlie)
    assert charlie_client.get(MINE_URL).json() == []
    assert_problem(charlie_client.post(f"{MINE_URL}{invitation['id']}/accept/"), 404, "not_found")
    assert not is_member(charlie, tenant_a)
    assert_invalid(alice_client.post(f"{INVITATIONS_URL}{invitation['id']}/revoke/"), "status")


def test_an_invitation_of_an_inactive_tenant_is_not_shown(alice_client, charlie, tenant_a, client_for):
    invite(alice_client, "charlie")
    tenant_a.is_active = False
    tenant_a.save()
    assert client_for(charlie).get(MINE_URL).json() == []


def test_accepting_rechecks_the_wecom_userid(alice_client, charlie, bob, tenant_a, client_for):
    invitation = invite(alice_client, "charlie", role="sales", wecom_userid="zhang").json()
    membership = Membership.unscoped.get(user=bob, tenant=tenant_a)
    services.membership_update(membership=membership, data={"wecom_userid": "zhang"})
    response = client_for(charlie).post(f"{MINE_URL}{invitation['id']}/accept/")
    assert_invalid(response, "wecom_userid")
    assert not is_member(charlie, tenant_a)
    assert Invitation.unscoped.get(pk=invitation["id"]).status == InvitationStatus.PENDING


# --- validation --------------------------------------------------------------------------------


def test_inviting_a_member_or_someone_already_invited_is_400(alice_client, bob):
    assert_invalid(invite(alice_client, "bob", role="sales", wecom_userid="bob2"), "username")
    assert invite(alice_client, "erin").status_code == 201
    assert_invalid(invite(alice_client, "erin"), "username")


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"role": "sales"}, "wecom_userid"),
        ({"role": "sales", "data_scope": "all", "wecom_userid": "x"}, "data_scope"),
        ({"role": "sales", "wecom_userid": "bob"}, "wecom_userid"),  # bob's already
        ({"role": "owner"}, "role"),
        ({"role": "operator", "username": "not a username!"}, "username"),
    ],
    ids=["sales-without-userid", "sales-seeing-all", "userid-taken", "unknown-role", "bad-username"],
)
def test_an_invalid_invitation_is_400_and_leaves_nothing_behind(alice_client, bob, body, path):
    payload = {"username": "dave", "password": NEW_PASSWORD, **body}
    assert_invalid(alice_client.post(INVITATIONS_URL, payload, format="json"), path)
    assert not Invitation.unscoped.exists()
    assert not User.objects.filter(username=payload["username"]).exists()


def test_a_tenant_in_the_body_is_ignored(alice_client, tenant_a, tenant_b):
    response = invite(alice_client, "dave", tenant=tenant_b.id)
    assert response.status_code == 201
    assert Invitation.unscoped.get(pk=response.json()["id"]).tenant_id == tenant_a.id


def test_the_admin_lists_pending_invitations_and_who_sent_them(alice_client, tenant_a, key_client_for):
    invite(alice_client, "dave")
    invite(key_client_for(tenant_a, Role.ADMIN), "erin")
    invitation = invite(alice_client, "fred").json()
    alice_client.post(f"{INVITATIONS_URL}{invitation['id']}/revoke/")
    rows = alice_client.get(INVITATIONS_URL, {"status": "pending"}).json()["results"]
    assert [(r["username"], r["created_by"]["type"]) for r in rows] == [
        ("erin", "api_key"),
        ("dave", "member"),
    ]
    assert rows[1]["created_by"]["name"] == "alice"


# --- roles, API keys, tenant isolation --------------------------------------------------------


@pytest.fixture
def pending(alice_client, charlie) -> dict:
    return invite(alice_client, "charlie").json()


ADMIN_ROUTES = [
    ("get", INVITATIONS_URL),
    ("post", INVITATIONS_URL),
    ("get", INVITATIONS_URL + "{id}/"),
    ("post", INVITATIONS_URL + "{id}/revoke/"),
]


@pytest.mark.parametrize("caller", ["sales", "operator", "operator-key", "sales-key"])
@pytest.mark.parametrize(("method", "url"), ADMIN_ROUTES)
def test_only_admins_manage_invitations(
    pending, caller, method, url, tenant_a, bob, operator, client_for, key_client_for
):
    client = {
        "sales": lambda: client_for(bob),
        "operator": lambda: client_for(operator),
        "operator-key": lambda: key_client_for(tenant_a, Role.OPERATOR),
        "sales-key": lambda: key_client_for(tenant_a, Role.SALES),
    }[caller]()
    target = url.format(id=pending["id"])
    body = (
        {"username": "mallory", "role": "admin", "password": NEW_PASSWORD} if url == INVITATIONS_URL else None
    )
    response = getattr(client, method)(target, body, format="json")
    assert_problem(response, 403, "permission_denied")
    assert list(Invitation.unscoped.values_list("username", "status")) == [("charlie", "pending")]
    assert not User.objects.filter(username="mallory").exists()


@pytest.mark.parametrize(("method", "url"), ADMIN_ROUTES)
def test_an_admin_api_key_manages_invitations(pending, method, url, tenant_a, key_client_for):
    client = key_client_for(tenant_a, Role.ADMIN)
    body = {"username": "mallory", "role": "operator"} if url == INVITATIONS_URL else None
    response = getattr(client, method)(url.format(id=pending["id"]), body, format="json")
    assert response.status_code in (200, 201), response.content


@pytest.fixture(params=["charlie-session", "tenant-b-admin-key"])
def outsider(request, charlie, tenant_b, client_for, key_client_for):
    if request.param == "charlie-session":
        return client_for(charlie)
    return key_client_for(tenant_b, Role.ADMIN)


def test_another_tenants_admin_gets_404_on_our_invitations(alice_client, outsider):
    invitation = invite(alice_client, "dave").json()
    assert_problem(outsider.get(f"{INVITATIONS_URL}{invitation['id']}/"), 404, "not_found")
    assert_problem(outsider.post(f"{INVITATIONS_URL}{invitation['id']}/revoke/"), 404, "not_found")
    assert outsider.get(INVITATIONS_URL).json()["results"] == []
    assert Invitation.unscoped.get(pk=invitation["id"]).status == InvitationStatus.PENDING
