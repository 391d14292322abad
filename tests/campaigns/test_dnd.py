"""The do-not-disturb list: added by customer ids (idempotently, with a reason and who added them),
listed with the customer's name, removed; for admins and operators of the tenant only."""

from __future__ import annotations

import pytest

from campaigns.models import DoNotDisturb
from campaigns.services.plan import plan_build
from scrm.tenancy.context import tenant_context
from scrm.tenancy.models import ApiKey, Role
from tests.helpers import assert_problem

pytestmark = pytest.mark.django_db
URL = "/api/v1/do-not-disturb/"


@pytest.fixture
def customers(build_a):
    staff = build_a.staff("anna")
    return [build_a.contact(name, staff=staff) for name in ("王芳", "李雷", "韩梅梅")]


def test_add_list_remove(operator_client, operator, tenant_a, customers):
    first, second, third = customers
    added = operator_client.post(URL, {"contacts": [first.pk, second.pk], "reason": "投诉"}, format="json")
    assert added.status_code == 201, added.content
    body = added.json()
    assert body["added"] == 2
    assert [(e["contact"]["name"], e["reason"]) for e in body["entries"]] == [
        ("王芳", "投诉"),
        ("李雷", "投诉"),
    ]
    assert body["entries"][0]["created_by"] == {"type": "member", "id": operator.pk, "name": "olga"}

    # Again, with a third: the two keep their entries (reason included), the third is added.
    again = operator_client.post(URL, {"contacts": [third.pk, first.pk], "reason": "VIP"}, format="json")
    assert (again.status_code, again.json()["added"]) == (201, 1)
    assert [(e["contact"]["name"], e["reason"]) for e in again.json()["entries"]] == [
        ("韩梅梅", "VIP"),
        ("王芳", "投诉"),
    ]
    unchanged = operator_client.post(URL, {"contacts": [first.pk]}, format="json")
    assert (unchanged.status_code, unchanged.json()["added"]) == (200, 0)

    listed = operator_client.get(URL).json()["results"]
    assert [e["contact"]["name"] for e in listed] == ["韩梅梅", "李雷", "王芳"]  # newest first
    assert [e["contact"]["name"] for e in operator_client.get(URL, {"search": "李"}).json()["results"]] == [
        "李雷"
    ]

    assert operator_client.delete(f"{URL}{listed[1]['id']}/").status_code == 204
    assert [e["contact"]["name"] for e in operator_client.get(URL).json()["results"]] == ["韩梅梅", "王芳"]


def test_planning_leaves_them_out(alice_client, tenant_a, customers):
    alice_client.post(URL, {"contacts": [customers[0].pk]}, format="json")
    with tenant_context(tenant_a):
        plan = plan_build(tenant=tenant_a, chat_type="single", audience={"filters": {}})
    assert plan.skipped["dnd"] == 1
    assert plan.will_receive == 2


def test_unknown_customers_are_named(alice_client, tenant_a, customers, build_b):
    foreign = build_b.contact("外人", staff=build_b.staff("x"))
    problem = assert_problem(
        alice_client.post(URL, {"contacts": [customers[0].pk, foreign.pk]}, format="json"),
        400,
        "validation_error",
    )
    assert [(e["path"], e["code"]) for e in problem["errors"]] == [("contacts.1", "does_not_exist")]
    with tenant_context(tenant_a):
        assert not DoNotDisturb.objects.exists()


def test_an_api_key_is_recorded(tenant_a, key_client_for, customers):
    client = key_client_for(tenant_a, Role.ADMIN)
    entry = client.post(URL, {"contacts": [customers[0].pk]}, format="json").json()["entries"][0]
    key = ApiKey.unscoped.get(tenant=tenant_a, name="admin key")
    assert entry["created_by"] == {"type": "api_key", "id": key.pk, "name": "admin key"}
    assert [e["id"] for e in client.get(URL).json()["results"]] == [entry["id"]]


def test_sales_members_are_refused_and_other_tenants_see_nothing(
    alice_client, bob_client, charlie_client, customers
):
    entry = alice_client.post(URL, {"contacts": [customers[0].pk]}, format="json").json()["entries"][0]
    assert_problem(bob_client.get(URL), 403, "permission_denied")
    assert_problem(
        bob_client.post(URL, {"contacts": [customers[1].pk]}, format="json"), 403, "permission_denied"
    )
    assert_problem(bob_client.delete(f"{URL}{entry['id']}/"), 403, "permission_denied")
    assert charlie_client.get(URL).json()["results"] == []
    assert_problem(charlie_client.delete(f"{URL}{entry['id']}/"), 404, "not_found")
