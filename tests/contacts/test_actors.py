"""Who did it: a member or an API key, recorded as itself and shown as itself (scrm.tenancy.actors).

tests/api/test_write_operations.py checks what every create records, for a member and for a key;
here, what follows from a key being an author: it edits its own notes (and only its own), its changes
read as its own in a customer's timeline, and code that hands a key's ``request.user`` to a service
fails loudly instead of recording nobody.
"""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from scrm.tenancy import services
from scrm.tenancy.actors import Actor
from scrm.tenancy.authentication import ApiKeyUser
from scrm.tenancy.models import Role
from tests.helpers import assert_problem

CONTACTS = "/api/v1/contacts/"
NOTES = "/api/v1/notes/"


@pytest.fixture
def customer(build_a):
    return build_a.contact("王芳", staff=build_a.staff("ann"))


def _key(tenant, name: str, role: str = Role.OPERATOR):
    api_key, key = services.api_key_create(tenant=tenant, role=role, name=name)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return api_key, client


def test_a_key_edits_the_notes_it_wrote_and_no_other_keys(tenant_a, customer):
    crm, crm_client = _key(tenant_a, "CRM")
    _, erp_client = _key(tenant_a, "ERP")
    written = crm_client.post(f"{CONTACTS}{customer.pk}/notes/", {"content": "电话回访"}, format="json")
    assert written.status_code == 201, written.content
    note = written.json()
    assert note["author"] == {"type": "api_key", "id": crm.pk, "name": "CRM"}

    edited = crm_client.patch(f"{NOTES}{note['id']}/", {"content": "已到店"}, format="json")
    assert edited.status_code == 200, edited.content
    assert edited.json()["content"] == "已到店"
    assert_problem(
        erp_client.patch(f"{NOTES}{note['id']}/", {"content": "改写"}, format="json"),
        403,
        "permission_denied",
    )
    assert_problem(erp_client.delete(f"{NOTES}{note['id']}/"), 403, "permission_denied")
    assert crm_client.delete(f"{NOTES}{note['id']}/").status_code == 204


def test_a_members_note_is_not_a_keys_to_edit(tenant_a, bob, bob_client, build_a):
    # bob (sales) follows this customer, so he may write on it; an operator key is not bob.
    mine = build_a.contact("李雷", staff=build_a.staff("bob"))
    note = bob_client.post(f"{CONTACTS}{mine.pk}/notes/", {"content": "初次拜访"}, format="json").json()
    assert note["author"] == {"type": "member", "id": bob.pk, "name": "bob"}
    _, key_client = _key(tenant_a, "CRM")
    assert_problem(
        key_client.patch(f"{NOTES}{note['id']}/", {"content": "改写"}, format="json"),
        403,
        "permission_denied",
    )


def test_the_timeline_names_the_key_that_moved_the_customer(tenant_a, alice_client, customer, build_a):
    stage = build_a.stage("成交")
    crm, crm_client = _key(tenant_a, "CRM")
    moved = crm_client.post(f"{CONTACTS}{customer.pk}/stage/", {"stage": stage.pk}, format="json")
    assert moved.status_code == 200, moved.content

    (event,) = alice_client.get(f"{CONTACTS}{customer.pk}/timeline/").json()["results"]
    assert event["type"] == "stage_changed"
    assert event["actor"] == {"type": "api_key", "id": crm.pk, "name": "CRM"}


def test_a_keys_request_user_is_refused_as_an_actor(tenant_a):
    api_key, _ = services.api_key_create(tenant=tenant_a, role=Role.ADMIN, name="CRM")
    # What the old code recorded as nobody (or crashed on): request.user of a key's request.
    with pytest.raises(TypeError):
        Actor(user=ApiKeyUser(api_key))
