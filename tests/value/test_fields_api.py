"""The profile fields API (/profile-fields/) and a customer's profile edit (PATCH /contacts/{id}/profile/):
roles, API keys, tenant isolation and the error shape."""

from __future__ import annotations

import json

import pytest
from django.urls import resolve

from contacts.models import ContactEvent, EventType
from scrm.tenancy.context import tenant_context
from scrm.tenancy.models import Role
from tests.contacts.builders import Builder
from tests.helpers import assert_problem
from value.models import ProfileField

FIELDS = "/api/v1/profile-fields/"
CONTACTS = "/api/v1/contacts/"


def profile_url(contact) -> str:
    return f"{CONTACTS}{contact.pk}/profile/"


def paths(body: dict) -> dict:
    return {e["path"]: e["code"] for e in body["errors"]}


@pytest.fixture
def world(tenant_a, alice, bob, operator):
    """Tenant A: two profile fields (one archived), bob's customer 王芳 and ann's customer 李雷."""
    with tenant_context(tenant_a):
        b = Builder(tenant_a)
        ann, bob_staff = b.staff("ann"), b.staff("bob")
        city = ProfileField.objects.create(key="city", label="城市", kind="text", order=1)
        skin = ProfileField.objects.create(key="skin", label="肤质", kind="choice", choices=["oily", "dry"])
        old = ProfileField.objects.create(key="old", label="旧", kind="text", archived=True)
        wang = b.contact("王芳", staff=bob_staff)
        li = b.contact("李雷", staff=ann)
    return {"tenant": tenant_a, "city": city, "skin": skin, "old": old, "wang": wang, "li": li}


# -- /profile-fields/ ---------------------------------------------------------------------------------


def test_everyone_lists_the_fields_in_use_in_their_order(world, alice_client, bob_client, operator_client):
    for client in (alice_client, bob_client, operator_client):
        response = client.get(FIELDS)
        assert response.status_code == 200, response.content
        assert [f["key"] for f in response.json()] == ["skin", "city"]
    skin = alice_client.get(FIELDS).json()[0]
    assert skin == {
        "id": world["skin"].pk,
        "key": "skin",
        "label": "肤质",
        "kind": "choice",
        "choices": ["oily", "dry"],
        "yearly": False,
        "order": 0,
        "archived": False,
        "created_at": skin["created_at"],
        "updated_at": skin["updated_at"],
    }
    with_archived = bob_client.get(FIELDS, {"include_archived": "true"}).json()
    assert [f["key"] for f in with_archived] == ["skin", "old", "city"]
    assert_problem(alice_client.get(FIELDS, {"include_archived": "yes please"}), 400, "validation_error")


def test_an_admin_makes_a_field(world, alice_client):
    body = {"key": "budget", "label": "预算", "kind": "number", "order": 3}
    response = alice_client.post(FIELDS, body, format="json")
    assert response.status_code == 201, response.content
    made = response.json()
    assert {k: made[k] for k in ("key", "label", "kind", "choices", "yearly", "order", "archived")} == {
        **body,
        "choices": [],
        "yearly": False,
        "archived": False,
    }
    with tenant_context(world["tenant"]):
        assert ProfileField.objects.get(pk=made["id"]).kind == "number"
    again = alice_client.post(FIELDS, {**body, "label": "Budget"}, format="json")
    assert_problem(again, 409, "key_taken")
    archived_key = alice_client.post(FIELDS, {**body, "key": "old"}, format="json")
    assert_problem(archived_key, 409, "key_taken")


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({"key": "Budget", "label": "x", "kind": "number"}, {"key": "invalid"}),
        ({"key": "budget", "label": "x", "kind": "money"}, {"kind": "invalid_choice"}),
        ({"key": "budget", "label": "x", "kind": "number", "choices": ["a"]}, {"choices": "wrong_kind"}),
        ({"key": "skin2", "label": "x", "kind": "choice"}, {"choices": "choices_required"}),
        ({"key": "b", "label": "x", "kind": "choice", "choices": ["a", "a"]}, {"choices": "duplicate"}),
        ({"key": "b", "label": "x", "kind": "text", "yearly": True}, {"yearly": "wrong_kind"}),
        ({"key": 5, "label": "x", "kind": "text"}, {"key": "invalid"}),
        ({"label": "x", "kind": "text"}, {"key": "required"}),
    ],
)
def test_bad_fields_are_400s_naming_what_is_wrong(world, alice_client, body, errors):
    body_ = assert_problem(alice_client.post(FIELDS, body, format="json"), 400, "validation_error")
    assert paths(body_) == errors


def test_only_admins_and_admin_keys_write_fields(
    world, bob_client, operator_client, key_client_for, tenant_a
):
    body = {"key": "budget", "label": "预算", "kind": "number"}
    field = world["city"]
    for client in (bob_client, operator_client, key_client_for(tenant_a, Role.OPERATOR)):
        assert_problem(client.post(FIELDS, body, format="json"), 403, "permission_denied")
        assert_problem(
            client.patch(f"{FIELDS}{field.pk}/", {"label": "x"}, format="json"), 403, "permission_denied"
        )
        assert_problem(client.delete(f"{FIELDS}{field.pk}/"), 403, "permission_denied")
        assert client.get(f"{FIELDS}{field.pk}/").status_code == 200
    key = key_client_for(tenant_a, Role.ADMIN)
    assert key.post(FIELDS, body, format="json").status_code == 201
    assert (
        key.patch(f"{FIELDS}{field.pk}/", {"label": "所在城市"}, format="json").json()["label"] == "所在城市"
    )


def test_key_and_kind_stay_what_they_were(world, alice_client):
    url = f"{FIELDS}{world['city'].pk}/"
    body = assert_problem(
        alice_client.patch(url, {"key": "town", "kind": "number"}, format="json"), 400, "validation_error"
    )
    assert paths(body) == {"key": "immutable", "kind": "immutable"}
    same = alice_client.patch(
        url, {"key": "city", "kind": "text", "label": "所在城市", "order": 9}, format="json"
    )
    assert same.status_code == 200, same.content
    assert {k: same.json()[k] for k in ("key", "kind", "label", "order")} == {
        "key": "city",
        "kind": "text",
        "label": "所在城市",
        "order": 9,
    }
    choices = alice_client.patch(f"{FIELDS}{world['skin'].pk}/", {"choices": ["dry", "mixed"]}, format="json")
    assert choices.json()["choices"] == ["dry", "mixed"]


def test_delete_archives_and_patch_restores(world, alice_client):
    url = f"{FIELDS}{world['city'].pk}/"
    response = alice_client.delete(url)
    assert response.status_code == 204
    assert alice_client.delete(url).status_code == 204  # already archived: still gone from the forms
    assert [f["key"] for f in alice_client.get(FIELDS).json()] == ["skin"]
    assert alice_client.get(url).json()["archived"] is True
    with tenant_context(world["tenant"]):
        assert ProfileField.objects.filter(pk=world["city"].pk).exists()
    restored = alice_client.patch(url, {"archived": False}, format="json")
    assert restored.status_code == 200
    assert restored.json()["archived"] is False
    assert [f["key"] for f in alice_client.get(FIELDS).json()] == ["skin", "city"]


def test_another_tenant_never_sees_or_touches_the_fields(world, charlie_client, key_client_for, tenant_b):
    url = f"{FIELDS}{world['city'].pk}/"
    for client in (charlie_client, key_client_for(tenant_b)):
        assert client.get(FIELDS).json() == []
        assert_problem(client.get(url), 404, "not_found")
        assert_problem(client.patch(url, {"label": "x"}, format="json"), 404, "not_found")
        assert_problem(client.delete(url), 404, "not_found")
    # Tenant B may use the same key: keys are per tenant.
    made = charlie_client.post(FIELDS, {"key": "city", "label": "City", "kind": "number"}, format="json")
    assert made.status_code == 201, made.content
    with tenant_context(world["tenant"]):
        world["city"].refresh_from_db()
        assert (world["city"].kind, world["city"].label) == ("text", "城市")


def test_ids_that_are_not_ids_are_404s(world, alice_client):
    assert_problem(alice_client.get(f"{FIELDS}abc/"), 404, "not_found")
    assert_problem(alice_client.get(f"{FIELDS}99999999999999999999/"), 404, "not_found")


# -- PATCH /contacts/{id}/profile/ --------------------------------------------------------------------


def test_the_profile_route_sits_beside_the_contacts_routes():
    assert resolve("/api/v1/contacts/5/profile/").func.view_class.__name__ == "ContactProfileView"
    assert resolve("/api/v1/contacts/5/").func.cls.__name__ == "ContactViewSet"
    assert resolve("/api/v1/contacts/5/timeline/").func.cls.__name__ == "ContactViewSet"


def test_an_admin_edits_a_customers_profile(world, alice_client, alice):
    wang = world["wang"]
    response = alice_client.patch(
        profile_url(wang), {"profile": {"city": "上海", "skin": "oily"}}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json() == {"profile": {"city": "上海", "skin": "oily"}}
    response = alice_client.patch(profile_url(wang), {"profile": {"city": None}}, format="json")
    assert response.json() == {"profile": {"skin": "oily"}}
    detail = alice_client.get(f"{CONTACTS}{wang.pk}/").json()
    assert detail["profile"] == {"skin": "oily"}
    assert [e["type"] for e in detail["timeline"]][:2] == ["profile_changed", "profile_changed"]
    assert detail["timeline"][0]["payload"] == {"changed": {"city": ["上海", None]}}
    assert detail["timeline"][0]["actor"]["name"] == "alice"


def test_the_detail_of_a_customer_without_values_has_an_empty_profile(world, alice_client):
    assert alice_client.get(f"{CONTACTS}{world['li'].pk}/").json()["profile"] == {}


def test_an_empty_patch_changes_nothing_and_answers_the_profile(world, alice_client):
    alice_client.patch(profile_url(world["wang"]), {"profile": {"city": "上海"}}, format="json")
    for body in ({}, {"profile": {}}):
        response = alice_client.patch(profile_url(world["wang"]), body, format="json")
        assert response.status_code == 200, response.content
        assert response.json() == {"profile": {"city": "上海"}}
    with tenant_context(world["tenant"]):
        assert ContactEvent.objects.filter(type=EventType.PROFILE_CHANGED).count() == 1


def test_bad_values_are_400s_at_profile_key(world, alice_client):
    url = profile_url(world["wang"])
    body = assert_problem(
        alice_client.patch(
            url, {"profile": {"city": 5, "skin": "greasy", "colour": "red", "old": "x"}}, format="json"
        ),
        400,
        "validation_error",
    )
    assert paths(body) == {
        "profile.city": "wrong_kind",
        "profile.skin": "wrong_kind",
        "profile.colour": "does_not_exist",
        "profile.old": "archived",
    }
    # What the database could not store is refused before it is tried (NUL, lone surrogates).
    body = assert_problem(
        alice_client.patch(
            url,
            json.dumps({"profile": {"ci\x00ty": "x", "city": "a\ud800"}}),  # escaped, as JSON may
            content_type="application/json",
        ),
        400,
        "validation_error",
    )
    assert paths(body) == {"profile.ci\x00ty": "does_not_exist", "profile.city": "wrong_kind"}
    for junk in ({"profile": ["city"]}, {"profile": "city=上海"}, {"profile": None}):
        assert_problem(alice_client.patch(url, junk, format="json"), 400, "validation_error")
    with tenant_context(world["tenant"]):
        world["wang"].refresh_from_db()
        assert world["wang"].profile == {}
        assert not ContactEvent.objects.filter(type=EventType.PROFILE_CHANGED).exists()


def test_sales_edit_their_own_customers_only(world, bob_client, bob):
    ok = bob_client.patch(profile_url(world["wang"]), {"profile": {"city": "杭州"}}, format="json")
    assert ok.status_code == 200, ok.content
    assert_problem(
        bob_client.patch(profile_url(world["li"]), {"profile": {"city": "杭州"}}, format="json"),
        404,
        "not_found",
    )
    with tenant_context(world["tenant"]):
        event = ContactEvent.objects.get(type=EventType.PROFILE_CHANGED)
        assert (event.contact_id, event.actor) == (world["wang"].pk, bob)
        world["li"].refresh_from_db()
        assert world["li"].profile == {}


def test_operators_and_api_keys_edit_profiles(world, operator_client, key_client_for, tenant_a):
    assert (
        operator_client.patch(
            profile_url(world["li"]), {"profile": {"city": "广州"}}, format="json"
        ).status_code
        == 200
    )
    key = key_client_for(tenant_a, Role.OPERATOR)
    response = key.patch(profile_url(world["li"]), {"profile": {"skin": "dry"}}, format="json")
    assert response.json() == {"profile": {"city": "广州", "skin": "dry"}}
    with tenant_context(world["tenant"]):
        last = ContactEvent.objects.filter(type=EventType.PROFILE_CHANGED).latest("id")
        assert last.actor is None
        assert last.actor_api_key is not None
    # A sales key follows nobody: every customer is unknown to it.
    sales_key = key_client_for(tenant_a, Role.SALES)
    assert_problem(
        sales_key.patch(profile_url(world["li"]), {"profile": {}}, format="json"), 404, "not_found"
    )


def test_another_tenant_gets_404_and_changes_nothing(world, charlie_client, key_client_for, tenant_b):
    for client in (charlie_client, key_client_for(tenant_b)):
        assert_problem(
            client.patch(profile_url(world["wang"]), {"profile": {"city": "x"}}, format="json"),
            404,
            "not_found",
        )
    with tenant_context(world["tenant"]):
        world["wang"].refresh_from_db()
        assert world["wang"].profile == {}


def test_only_patch_is_a_profile_method(world, alice_client):
    assert_problem(alice_client.get(profile_url(world["wang"])), 405, "method_not_allowed")
    assert_problem(
        alice_client.post(profile_url(world["wang"]), {}, format="json"), 405, "method_not_allowed"
    )
