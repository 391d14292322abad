"""The points routes: a customer's ledger, grants and redemptions (with Idempotency-Key), the points rules
and the membership levels — with their roles (everyone reads; sales only its own customers' ledgers;
admins and operators grant and redeem; admins change rules and levels), API keys as well as sessions,
and tenant isolation (charlie gets 404 on every object of tenant A).

The clock is pinned (this module depends on it: credits' expiry dates).
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import resolve

from scrm.tenancy.context import tenant_context
from scrm.tenancy.models import ApiKey, Role
from tests.helpers import assert_problem
from tests.value.test_points import NOW, Points
from value.models import Level, PointsAccount, PointsEntry, PointsRule, ValueSettings

pytestmark = pytest.mark.django_db
GRANT = "/api/v1/points/grant/"
REDEEM = "/api/v1/points/redeem/"
RULES = "/api/v1/points/rules/"
LEVELS = "/api/v1/levels/"


def ledger_url(contact) -> str:
    return f"/api/v1/contacts/{contact.pk}/points/"


@pytest.fixture(autouse=True)
def _pinned(time_machine):
    time_machine.move_to(NOW, tick=False)


@pytest.fixture
def world(tenant_a) -> Points:
    world = Points(tenant_a)
    world.bob = world.build.staff("bob")
    world.zoe = world.build.staff("zoe")
    world.bobs = world.customer(name="Bob's", staff=world.bob)
    world.zoes = world.customer(name="Zoe's", staff=world.zoe)
    return world


# -- the ledger ---------------------------------------------------------------------------------------


def test_the_ledger_lists_the_lines_latest_first_with_who_did_them(alice_client, alice, world):
    with tenant_context(world.tenant):
        ValueSettings.objects.create(points_expire_days=10)
    assert (
        alice_client.post(GRANT, {"contact": world.bobs.pk, "points": 100}, format="json").status_code == 201
    )
    world.redeem(world.bobs, 30, note="兑换")
    response = alice_client.get(ledger_url(world.bobs))
    assert response.status_code == 200, response.content
    rows = response.json()["results"]
    assert [(r["reason"], r["delta"], r["balance_after"], r["note"]) for r in rows] == [
        ("redeemed", -30, 70, "兑换"),
        ("granted", 100, 100, ""),
    ]
    assert rows[0]["actor"] is None  # the system
    assert rows[1]["actor"] == {"type": "member", "id": alice.pk, "name": "alice"}
    assert rows[1]["expires_at"] == "2026-12-10T10:00:00+08:00"
    assert rows[0]["expires_at"] is None
    assert set(rows[0]) == {
        "id",
        "delta",
        "balance_after",
        "reason",
        "rule_action",
        "note",
        "created_at",
        "expires_at",
        "actor",
    }


def test_the_ledger_costs_the_same_whatever_its_length(alice_client, operator, world, key_client_for):
    world.grant(world.bobs, 1)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert alice_client.get(ledger_url(world.bobs)).status_code == 200
        return len(captured)

    few = queries()
    operator_client = key_client_for(world.tenant, Role.OPERATOR)
    for _ in range(5):
        operator_client.post(GRANT, {"contact": world.bobs.pk, "points": 1}, format="json")
        world.redeem(world.bobs, 1)
    assert queries() == few


def test_sales_reads_the_ledgers_of_its_own_customers_only(bob_client, world):
    world.grant(world.bobs, 5)
    world.grant(world.zoes, 5)
    assert bob_client.get(ledger_url(world.bobs)).json()["results"][0]["delta"] == 5
    assert_problem(bob_client.get(ledger_url(world.zoes)), 404, "not_found")


def test_another_tenant_gets_404_on_the_ledger(charlie_client, world):
    world.grant(world.bobs, 5)
    assert_problem(charlie_client.get(ledger_url(world.bobs)), 404, "not_found")
    assert_problem(charlie_client.get("/api/v1/contacts/999999999/points/"), 404, "not_found")


def test_an_api_key_pages_the_ledger_by_cursor(tenant_a, key_client_for, world):
    for _ in range(3):
        world.grant(world.bobs, 1)
    client = key_client_for(tenant_a, Role.OPERATOR)
    first = client.get(ledger_url(world.bobs), {"page_size": 2}).json()
    assert [r["balance_after"] for r in first["results"]] == [3, 2]
    rest = client.get(first["next"]).json()
    assert [r["balance_after"] for r in rest["results"]] == [1]
    # A sales key belongs to no member: it follows no customer, so it sees no ledger.
    assert_problem(key_client_for(tenant_a, Role.SALES).get(ledger_url(world.bobs)), 404, "not_found")


def test_the_ledger_route_does_not_shadow_the_contact_routes(world):
    assert resolve(ledger_url(world.bobs)).url_name == "contact-points"
    assert resolve(f"/api/v1/contacts/{world.bobs.pk}/").url_name == "contact-detail"
    assert resolve(f"/api/v1/contacts/{world.bobs.pk}/timeline/").url_name == "contact-timeline"


# -- grants and redemptions ---------------------------------------------------------------------------


def test_admins_and_operators_grant_and_redeem(alice_client, operator_client, world):
    world.level("Silver", 100)
    granted = alice_client.post(
        GRANT, {"contact": world.bobs.pk, "points": 120, "note": "补偿"}, format="json"
    )
    assert granted.status_code == 201, granted.content
    body = granted.json()
    level = body.pop("level")
    assert (body["balance"], body["entry"]["delta"], body["entry"]["reason"], body["entry"]["note"]) == (
        120,
        120,
        "granted",
        "补偿",
    )
    assert (level["name"], level["min_points"]) == ("Silver", 100)
    redeemed = operator_client.post(REDEEM, {"contact": world.bobs.pk, "points": 100}, format="json")
    assert redeemed.status_code == 201, redeemed.content
    assert (redeemed.json()["balance"], redeemed.json()["entry"]["delta"]) == (20, -100)
    assert redeemed.json()["level"]["name"] == "Silver"  # spending does not demote


def test_sales_may_not_grant_or_redeem(bob_client, world, tenant_a, key_client_for):
    world.grant(world.bobs, 10)
    sales_key = key_client_for(tenant_a, Role.SALES)
    for client in (bob_client, sales_key):
        for url in (GRANT, REDEEM):
            assert_problem(
                client.post(url, {"contact": world.bobs.pk, "points": 1}, format="json"),
                403,
                "permission_denied",
            )
    assert world.account(world.bobs)[0] == 10


@pytest.mark.parametrize("role", [Role.ADMIN, Role.OPERATOR])
def test_an_api_key_grants_and_redeems_as_itself(tenant_a, key_client_for, world, role):
    client = key_client_for(tenant_a, role)
    key = ApiKey.unscoped.get(tenant=tenant_a, name=f"{role} key")
    granted = client.post(GRANT, {"contact": world.zoes.pk, "points": 50}, format="json")
    assert granted.status_code == 201, granted.content
    assert granted.json()["entry"]["actor"] == {"type": "api_key", "id": key.pk, "name": f"{role} key"}
    assert client.post(REDEEM, {"contact": world.zoes.pk, "points": 50}, format="json").status_code == 201
    with tenant_context(tenant_a):
        assert set(PointsEntry.objects.values_list("actor_api_key", flat=True)) == {key.pk}


def test_redeeming_beyond_the_balance_is_a_409(alice_client, world):
    world.grant(world.bobs, 10)
    problem = assert_problem(
        alice_client.post(REDEEM, {"contact": world.bobs.pk, "points": 11}, format="json"),
        409,
        "insufficient_points",
    )
    assert "10" in problem["detail"]
    assert world.account(world.bobs)[0] == 10


def test_a_repeated_idempotency_key_answers_the_first_entry(alice_client, operator_client, world):
    body = {"contact": world.bobs.pk, "points": 40}
    headers = {"HTTP_IDEMPOTENCY_KEY": "grant-7"}
    first = alice_client.post(GRANT, body, format="json", **headers)
    again = alice_client.post(GRANT, body, format="json", **headers)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again["Idempotent-Replay"] == "true"
    assert again.json()["entry"] == first.json()["entry"]
    assert again.json()["balance"] == 40
    # Another caller's key is its own.
    assert operator_client.post(GRANT, body, format="json", **headers).status_code == 201
    # The key for another request (here a redemption) is refused.
    assert_problem(alice_client.post(REDEEM, body, format="json", **headers), 409, "idempotency_key_reused")
    assert world.account(world.bobs)[0] == 80


@pytest.mark.parametrize(
    ("body", "path", "code"),
    [
        ({"points": 1}, "contact", "required"),
        ({"contact": 999999999, "points": 1}, "contact", "does_not_exist"),
        ({"contact": 10**30, "points": 1}, "contact", "does_not_exist"),
        ({"contact": "BOBS-AS-TEXT", "points": 1}, "contact", "incorrect_type"),
        ({"contact": "BOBS", "points": 0}, "points", "min_value"),
        ({"contact": "BOBS", "points": 1_000_001}, "points", "max_value"),
        ({"contact": "BOBS", "points": "5"}, "points", "invalid"),
        ({"contact": "BOBS", "points": 1, "note": "x" * 201}, "note", "max_length"),
    ],
)
def test_grants_are_validated_with_their_field(alice_client, world, body, path, code):
    ids = {"BOBS": world.bobs.pk, "BOBS-AS-TEXT": str(world.bobs.pk)}
    body = {key: ids.get(value, value) if key == "contact" else value for key, value in body.items()}
    problem = assert_problem(alice_client.post(GRANT, body, format="json"), 400, "validation_error")
    assert [(e["path"], e["code"]) for e in problem["errors"]] == [(path, code)]


def test_another_tenants_customer_is_unknown(charlie_client, world):
    problem = assert_problem(
        charlie_client.post(GRANT, {"contact": world.bobs.pk, "points": 1}, format="json"),
        400,
        "validation_error",
    )
    assert [(e["path"], e["code"]) for e in problem["errors"]] == [("contact", "does_not_exist")]
    assert world.account(world.bobs)[0] == 0


# -- rules ----------------------------------------------------------------------------------------------


def test_admins_manage_the_rules_and_everyone_reads_them(alice_client, bob_client, operator_client, world):
    created = alice_client.post(RULES, {"action": "purchase", "points": 2}, format="json")
    assert created.status_code == 201, created.content
    rule = created.json()
    assert {k: rule[k] for k in ("action", "points", "is_active")} == {
        "action": "purchase",
        "points": 2,
        "is_active": True,
    }
    one = f"{RULES}{rule['id']}/"
    problem = assert_problem(
        alice_client.post(RULES, {"action": "purchase", "points": 5}, format="json"), 400, "validation_error"
    )
    assert [(e["path"], e["code"]) for e in problem["errors"]] == [("action", "unique")]
    assert [r["action"] for r in bob_client.get(RULES).json()] == ["purchase"]
    assert bob_client.get(one).json()["points"] == 2
    for client in (bob_client, operator_client):
        assert_problem(
            client.post(RULES, {"action": "added", "points": 1}, format="json"), 403, "permission_denied"
        )
        assert_problem(client.patch(one, {"points": 9}, format="json"), 403, "permission_denied")
        assert_problem(client.delete(one), 403, "permission_denied")
    changed = alice_client.patch(one, {"points": 3, "is_active": False}, format="json")
    assert (changed.status_code, changed.json()["points"], changed.json()["is_active"]) == (200, 3, False)
    problem = assert_problem(
        alice_client.patch(one, {"action": "added"}, format="json"), 400, "validation_error"
    )
    assert [(e["path"], e["code"]) for e in problem["errors"]] == [("action", "immutable")]
    assert alice_client.delete(one).status_code == 204
    assert alice_client.get(RULES).json() == []


@pytest.mark.parametrize(
    ("body", "path", "code"),
    [
        ({"action": "liked", "points": 1}, "action", "invalid_choice"),
        ({"action": "added", "points": 0}, "points", "min_value"),
        ({"action": "added"}, "points", "required"),
        ({"action": "added", "points": 1, "is_active": "yes"}, "is_active", "invalid"),
    ],
)
def test_rules_are_validated_with_their_field(alice_client, world, body, path, code):
    problem = assert_problem(alice_client.post(RULES, body, format="json"), 400, "validation_error")
    assert [(e["path"], e["code"]) for e in problem["errors"]] == [(path, code)]


def test_an_admin_key_manages_rules_and_levels(tenant_a, key_client_for, world):
    client = key_client_for(tenant_a, Role.ADMIN)
    assert client.post(RULES, {"action": "added", "points": 10}, format="json").status_code == 201
    assert client.post(LEVELS, {"name": "银卡", "min_points": 100}, format="json").status_code == 201
    operator_key = key_client_for(tenant_a, Role.OPERATOR)
    assert_problem(
        operator_key.post(LEVELS, {"name": "金卡", "min_points": 500}, format="json"),
        403,
        "permission_denied",
    )
    assert [level["name"] for level in operator_key.get(LEVELS).json()] == ["银卡"]


def test_another_tenant_sees_none_of_the_rules_and_levels(alice_client, charlie_client, world):
    rule = alice_client.post(RULES, {"action": "added", "points": 10}, format="json").json()
    level = alice_client.post(LEVELS, {"name": "Silver", "min_points": 100}, format="json").json()
    assert charlie_client.get(RULES).json() == []
    assert charlie_client.get(LEVELS).json() == []
    for url in (f"{RULES}{rule['id']}/", f"{LEVELS}{level['id']}/"):
        assert_problem(charlie_client.get(url), 404, "not_found")
        assert_problem(charlie_client.patch(url, {"name": "X", "points": 1}, format="json"), 404, "not_found")
        assert_problem(charlie_client.delete(url), 404, "not_found")
    # Charlie's own rule of the same action is another tenant's: no clash.
    assert charlie_client.post(RULES, {"action": "added", "points": 1}, format="json").status_code == 201
    with tenant_context(world.tenant):
        assert PointsRule.objects.get().points == 10


# -- levels ---------------------------------------------------------------------------------------------


def test_admins_manage_levels_and_customers_move_at_once(alice_client, bob_client, operator_client, world):
    world.grant(world.bobs, 150)
    world.grant(world.zoes, 600)
    silver = alice_client.post(
        LEVELS, {"name": "Silver", "min_points": 100, "color": "#c0c0c0"}, format="json"
    )
    assert silver.status_code == 201, silver.content
    assert silver.json() == {
        "id": silver.json()["id"],
        "name": "Silver",
        "min_points": 100,
        "color": "#c0c0c0",
        "customers": 2,
    }
    gold = alice_client.post(
        LEVELS, {"name": "Gold", "min_points": 500, "color": "gold"}, format="json"
    ).json()
    listed = bob_client.get(LEVELS).json()
    assert [(lv["name"], lv["customers"]) for lv in listed] == [("Silver", 1), ("Gold", 1)]
    problem = assert_problem(
        alice_client.post(LEVELS, {"name": "Gold", "min_points": 50}, format="json"), 400, "validation_error"
    )
    assert [(e["path"], e["code"]) for e in problem["errors"]] == [("name", "unique")]
    one = f"{LEVELS}{gold['id']}/"
    for client in (bob_client, operator_client):
        assert_problem(client.patch(one, {"min_points": 1}, format="json"), 403, "permission_denied")
        assert_problem(client.delete(one), 403, "permission_denied")
    moved = alice_client.patch(one, {"min_points": 120}, format="json")
    assert (moved.status_code, moved.json()["customers"]) == (200, 2)
    assert world.account(world.bobs)[2] == "Gold"
    assert alice_client.delete(one).status_code == 204
    assert (world.account(world.bobs)[2], world.account(world.zoes)[2]) == ("Silver", "Silver")
    with tenant_context(world.tenant):
        assert Level.objects.count() == 1
        assert PointsAccount.objects.filter(level__isnull=True).count() == 0


def test_the_grant_answer_carries_the_level_reached(alice_client, world):
    world.level("Silver", 10)
    body = alice_client.post(GRANT, {"contact": world.zoes.pk, "points": 9}, format="json").json()
    assert body["level"] is None
    body = alice_client.post(GRANT, {"contact": world.zoes.pk, "points": 1}, format="json").json()
    assert body["level"]["name"] == "Silver"
