"""The value routes: a customer's value (figures, why, tier history, points), the tiers overview, the
breakdowns, the thresholds and "recompute now" — with their roles (everyone reads within its data scope,
admins change the thresholds, admins and operators recompute), tenant isolation (charlie gets 404 on A's
customers and an empty overview) and API keys as well as sessions.

The clock is pinned: days since, the week's moves and the cohorts' months depend on it.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from contacts.models import ContactWay, EventType
from scrm.tenancy.context import tenant_context
from scrm.tenancy.models import Role
from tests.contacts.builders import Builder
from tests.helpers import assert_problem
from tests.value.test_scoring import DAY, NOW, SH, add_event, add_order, set_thresholds
from value import tasks
from value.models import ContactValue, Level, PointsAccount, ValueSettings
from value.services.scoring import value_recompute_full

pytestmark = pytest.mark.django_db
TIERS = "/api/v1/value/tiers/"
BREAKDOWN = "/api/v1/value/breakdown/"
SETTINGS = "/api/v1/value/settings/"
RECOMPUTE = "/api/v1/value/recompute/"


def value_url(contact) -> str:
    return f"/api/v1/contacts/{contact.pk}/value/"


@pytest.fixture(autouse=True)
def _pinned(time_machine):
    time_machine.move_to(NOW, tick=False)


@pytest.fixture
def world(tenant_a, tenant_b, alice, bob, operator, charlie):
    """Tenant A: bob's customer (high value, via the spring channel), someone else's (silent), a new one
    of his in November's cohort; tenant B: one customer. Computed once at NOW."""
    a = Builder(tenant_a)
    bob_staff, other_staff = a.staff("bob", name="Bob"), a.staff("olive", name="Olive")
    with tenant_context(tenant_a):
        ContactWay.objects.create(name="Spring QR", state="spring")
    rich = a.contact("Rich", staff=bob_staff, state="spring", added_at=NOW - 60 * DAY)
    quiet = a.contact("Quiet", staff=other_staff, added_at=NOW - 60 * DAY)
    fresh = a.contact("Fresh", staff=bob_staff, added_at=NOW - 2 * DAY)
    add_event(tenant_a, rich, EventType.MOMENT_LIKED, NOW - 40 * DAY)
    add_event(tenant_a, rich, EventType.PURCHASED, NOW - 12 * DAY)
    for amount, days in (("1200.00", 30), ("1000.00", 20), ("1000.00", 12)):
        add_order(tenant_a, rich, amount, NOW - days * DAY)
    add_event(tenant_a, fresh, EventType.ADDED, NOW - 2 * DAY)
    add_order(tenant_a, fresh, "99.00", NOW - DAY)
    b = Builder(tenant_b)
    theirs = b.contact("Theirs", staff=b.staff("bob"), added_at=NOW - 60 * DAY)
    # Computed first at a time when the quiet one was active, then now (one move this week).
    add_event(tenant_a, quiet, EventType.NOTE, NOW - 32 * DAY)
    value_recompute_full(tenant=tenant_a, now=NOW - 4 * DAY)
    value_recompute_full(tenant=tenant_a, now=NOW)
    value_recompute_full(tenant=tenant_b, now=NOW)
    return type(
        "World", (), {"rich": rich, "quiet": quiet, "fresh": fresh, "theirs": theirs, "bob": bob_staff}
    )


# --- a customer's value -----------------------------------------------------------------------------


def test_a_customers_value_with_why_history_and_points(alice_client, world, tenant_a):
    with tenant_context(tenant_a):
        silver = Level.objects.create(name="Silver", min_points=100, color="#c0c0c0")
        gold = Level.objects.create(name="Gold", min_points=1000)
        PointsAccount.objects.create(contact=world.rich, balance=120, earned_total=300, level=silver)
    response = alice_client.get(value_url(world.rich))
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["contact_id"] == world.rich.pk
    assert (body["ltv"], body["currency"], body["orders"], body["average_order_value"]) == (
        "3200.00",
        "CNY",
        3,
        "1066.67",
    )
    assert body["repurchased"] is True
    assert body["days_since_last_purchase"] == 12
    assert body["first_purchase_at"].startswith((NOW - 30 * DAY).strftime("%Y-%m-%dT%H:%M:%S"))
    assert body["tier"] == "high_value"
    # 12 days of 30 → 40 × 18/30 = 24; likes 2 + purchase 5 = 7 → 30 × 7/20 = 10.5 → 11; LTV ≥ 2000 → 30.
    assert body["score_parts"] == {"recency": 24, "frequency": 11, "value": 30}
    assert body["score"] == 65
    assert body["interactions_90d"] == 7
    assert body["last_interaction"]["type"] == "purchased"
    assert body["explanation"]["code"] == "high_value_ltv"
    assert body["explanation"]["text"].startswith("High value: LTV 3,200.00 CNY reaches 2,000.00")
    assert body["tier_history"] == []
    assert body["points"] == {
        "balance": 120,
        "earned_total": 300,
        "level": {"id": silver.pk, "name": "Silver", "color": "#c0c0c0"},
        "next_level": {"id": gold.pk, "name": "Gold", "min_points": 1000},
    }
    assert body["computed_at"].startswith(NOW.strftime("%Y-%m-%dT%H:%M:%S"))


def test_tier_history_newest_first(alice_client, world):
    body = alice_client.get(value_url(world.quiet)).json()
    assert body["tier"] == "silent"
    assert body["explanation"]["text"].startswith("Silent: no interaction for 32 days; last: a note")
    assert [(h["from"], h["to"]) for h in body["tier_history"]] == [("active", "silent")]
    assert body["tier_history"][0]["at"].startswith(NOW.strftime("%Y-%m-%dT%H:%M:%S"))
    assert body["tier_since"].startswith(NOW.strftime("%Y-%m-%dT%H:%M:%S"))


def test_a_customer_not_computed_yet(alice_client, world, tenant_a):
    late = Builder(tenant_a).contact("Late", staff=world.bob)
    body = alice_client.get(value_url(late)).json()
    assert (body["tier"], body["explanation"], body["computed_at"], body["ltv"], body["score"]) == (
        None,
        None,
        None,
        "0.00",
        0,
    )
    assert body["points"] == {"balance": 0, "earned_total": 0, "level": None, "next_level": None}
    assert body["last_interaction"] is None
    assert body["average_order_value"] is None


def test_sales_see_the_value_of_their_customers_only(bob_client, world):
    assert bob_client.get(value_url(world.rich)).status_code == 200
    assert_problem(bob_client.get(value_url(world.quiet)), 404, "not_found")


def test_another_tenant_gets_404(charlie_client, world):
    assert_problem(charlie_client.get(value_url(world.rich)), 404, "not_found")
    assert charlie_client.get(value_url(world.theirs)).status_code == 200


def test_only_digits_are_ids(alice_client, world):
    assert alice_client.get("/api/v1/contacts/１２/value/").status_code == 404
    assert alice_client.get("/api/v1/contacts/99999999999999999999/value/").status_code == 404


def test_api_keys_read_values(world, tenant_a, key_client_for):
    assert key_client_for(tenant_a, Role.OPERATOR).get(value_url(world.quiet)).status_code == 200
    # A sales key follows nobody: it sees no customer.
    assert key_client_for(tenant_a, Role.SALES).get(value_url(world.quiet)).status_code == 404


# --- tiers overview -----------------------------------------------------------------------------------


def test_the_tiers_overview(alice_client, world):
    body = alice_client.get(TIERS).json()
    assert body["total"] == 3
    assert [(t["tier"], t["count"]) for t in body["tiers"]] == [
        ("new", 1),
        ("active", 0),
        ("silent", 1),
        ("high_value", 1),
        ("lost", 0),
    ]
    assert [t["share"] for t in body["tiers"]] == [0.3333, 0.0, 0.3333, 0.3333, 0.0]
    assert body["moves"] == [{"from": "active", "to": "silent", "count": 1}]
    assert body["computed_at"] is not None
    assert body["average_score"] == pytest.approx(
        sum(ContactValue.unscoped.filter(tenant=world.rich.tenant).values_list("score", flat=True)) / 3,
        abs=0.05,
    )


def test_the_overview_of_a_sales_member_counts_its_customers(bob_client, world):
    body = bob_client.get(TIERS).json()
    assert body["total"] == 2
    assert {t["tier"]: t["count"] for t in body["tiers"]} == {
        "new": 1,
        "active": 0,
        "silent": 0,
        "high_value": 1,
        "lost": 0,
    }
    assert body["moves"] == []  # the quiet customer is not his


def test_moves_older_than_a_week_drop_out(alice_client, world, time_machine):
    time_machine.move_to(NOW + 8 * DAY, tick=False)
    assert alice_client.get(TIERS).json()["moves"] == []


def test_the_overview_is_per_tenant(charlie_client, key_client_for, tenant_a, world):
    body = charlie_client.get(TIERS).json()
    assert body["total"] == 1
    assert body["moves"] == []
    assert key_client_for(tenant_a, Role.ADMIN).get(TIERS).json()["total"] == 3


# --- breakdowns ---------------------------------------------------------------------------------------


def test_breakdown_by_channel(alice_client, world):
    body = alice_client.get(BREAKDOWN, {"by": "channel"}).json()
    assert body["by"] == "channel"
    rows = {row["key"]: row for row in body["rows"]}
    assert rows["spring"] == {
        "key": "spring",
        "label": "Spring QR",
        "customers": 1,
        "paying": 1,
        "orders": 3,
        "ltv": "3200.00",
        "average_ltv": "3200.00",
        "repurchase_rate": 1.0,
    }
    assert rows[""] == {
        "key": "",
        "label": "No channel",
        "customers": 2,
        "paying": 1,
        "orders": 1,
        "ltv": "99.00",
        "average_ltv": "99.00",
        "repurchase_rate": 0.0,
    }
    assert alice_client.get(BREAKDOWN).json()["by"] == "channel"  # the default


def test_breakdown_by_member_and_by_cohort(alice_client, world):
    by_staff = alice_client.get(BREAKDOWN, {"by": "staff"}).json()["rows"]
    assert [
        (r["key"], r["label"], r["customers"], r["paying"], r["ltv"], r["average_ltv"]) for r in by_staff
    ] == [
        ("bob", "Bob", 2, 2, "3299.00", "1649.50"),
        ("olive", "Olive", 1, 0, "0.00", "0.00"),
    ]
    assert by_staff[0]["repurchase_rate"] == 0.5
    cohorts = alice_client.get(BREAKDOWN, {"by": "cohort"}).json()["rows"]
    oct_ = (NOW - 60 * DAY).astimezone(SH).strftime("%Y-%m")
    dec = (NOW - 2 * DAY).astimezone(SH).strftime("%Y-%m")
    assert [(r["key"], r["label"], r["customers"], r["orders"]) for r in cohorts] == [
        (oct_, oct_, 2, 3),
        (dec, dec, 1, 1),
    ]


def test_breakdowns_keep_to_the_scope_and_the_tenant(bob_client, charlie_client, world):
    rows = bob_client.get(BREAKDOWN, {"by": "staff"}).json()["rows"]
    assert [r["key"] for r in rows] == ["bob"]
    assert sum(r["customers"] for r in charlie_client.get(BREAKDOWN, {"by": "channel"}).json()["rows"]) == 1


def test_breakdown_refuses_an_unknown_dimension(alice_client, world):
    body = assert_problem(alice_client.get(BREAKDOWN, {"by": "city"}), 400, "validation_error")
    assert body["errors"][0]["path"] == "by"


def test_breakdown_arithmetic_on_hand_made_rows():
    from value.services.breakdown import breakdown_row

    row = breakdown_row(
        key="k", label="K", customers=7, paying=3, orders=5, ltv=Decimal("100.00"), repurchased=1
    )
    assert (row["average_ltv"], row["repurchase_rate"], row["ltv"]) == ("33.33", 0.3333, "100.00")
    row = breakdown_row(
        key="k", label="K", customers=2, paying=2, orders=3, ltv=Decimal("0.05"), repurchased=1
    )
    assert (row["average_ltv"], row["repurchase_rate"]) == ("0.03", 0.5)  # 0.025 → 0.03 (half up)
    empty = breakdown_row(key="", label="", customers=4, paying=0, orders=0, ltv=None, repurchased=0)
    assert (empty["ltv"], empty["average_ltv"], empty["repurchase_rate"]) == ("0.00", "0.00", 0.0)


# --- settings ---------------------------------------------------------------------------------------


def test_everyone_reads_the_settings(bob_client, tenant_a):
    assert bob_client.get(SETTINGS).json() | {"updated_at": None} == {
        "currency": "CNY",
        "new_days": 7,
        "silent_days": 30,
        "high_value_ltv": "2000.00",
        "points_expire_days": 365,
        "updated_at": None,
    }


def test_admins_change_the_settings_and_a_threshold_recomputes(
    alice_client, tenant_a, world, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_client.patch(SETTINGS, {"high_value_ltv": "5000", "silent_days": 40}, format="json")
    assert response.status_code == 200, response.content
    assert (response.json()["high_value_ltv"], response.json()["silent_days"]) == ("5000.00", 40)
    # Celery is eager in tests: the recompute ran on commit; the rich customer is no longer high value.
    with tenant_context(tenant_a):
        assert ContactValue.objects.get(contact=world.rich).tier == "active"
    with django_capture_on_commit_callbacks() as callbacks:
        alice_client.patch(SETTINGS, {"points_expire_days": 0}, format="json")
        alice_client.patch(SETTINGS, {"silent_days": 40}, format="json")  # unchanged
    assert callbacks == []  # neither queues a recompute


def test_a_threshold_change_queues_one_recompute(
    alice_client, tenant_a, monkeypatch, django_capture_on_commit_callbacks
):
    queued = []
    monkeypatch.setattr(tasks.recompute, "delay", lambda *args, **kwargs: queued.append(args))
    with django_capture_on_commit_callbacks(execute=True):
        alice_client.patch(SETTINGS, {"new_days": 3}, format="json")
    assert queued == [(tenant_a.pk,)]


@pytest.mark.parametrize(
    ("body", "path", "code"),
    [
        ({"new_days": 0}, "new_days", "min_value"),
        ({"new_days": 366}, "new_days", "max_value"),
        ({"silent_days": "30"}, "silent_days", "invalid"),
        ({"silent_days": True}, "silent_days", "invalid"),
        ({"high_value_ltv": "0"}, "high_value_ltv", "min_value"),
        ({"high_value_ltv": "-5"}, "high_value_ltv", "min_value"),
        ({"high_value_ltv": "1.234"}, "high_value_ltv", "max_decimal_places"),
        ({"high_value_ltv": "abc"}, "high_value_ltv", "invalid"),
        ({"currency": "cny"}, "currency", "invalid"),
        ({"points_expire_days": 3651}, "points_expire_days", "max_value"),
        ({"points_expire_days": -1}, "points_expire_days", "min_value"),
    ],
)
def test_settings_validation(alice_client, tenant_a, body, path, code):
    problem = assert_problem(alice_client.patch(SETTINGS, body, format="json"), 400, "validation_error")
    assert [(e["path"], e["code"]) for e in problem["errors"]] == [(path, code)]


def test_silent_days_need_not_exceed_new_days(alice_client, tenant_a):
    response = alice_client.patch(SETTINGS, {"new_days": 60, "silent_days": 5}, format="json")
    assert response.status_code == 200, response.content


def test_the_service_refuses_what_the_serializer_would(tenant_a):
    from rest_framework.exceptions import ValidationError

    from value.services.settings import value_settings_update

    with tenant_context(tenant_a), pytest.raises(ValidationError) as raised:
        value_settings_update(
            tenant=tenant_a, data={"new_days": 0, "high_value_ltv": "0.001", "color": "red"}
        )
    assert set(raised.value.detail) == {"new_days", "high_value_ltv", "color"}


@pytest.mark.parametrize(("fixture", "allowed"), [("bob", False), ("operator", False), ("alice", True)])
def test_only_admins_change_the_settings(request, client_for, tenant_a, fixture, allowed):
    response = client_for(request.getfixturevalue(fixture)).patch(SETTINGS, {"new_days": 3}, format="json")
    if allowed:
        assert response.status_code == 200
    else:
        assert_problem(response, 403, "permission_denied")


def test_settings_are_per_tenant_and_keys_follow_their_role(
    charlie_client, key_client_for, tenant_a, tenant_b
):
    assert charlie_client.patch(SETTINGS, {"new_days": 9}, format="json").status_code == 200
    with tenant_context(tenant_a):
        assert not ValueSettings.objects.filter(new_days=9).exists()
    assert (
        key_client_for(tenant_a, Role.ADMIN).patch(SETTINGS, {"new_days": 4}, format="json").status_code
        == 200
    )
    assert_problem(
        key_client_for(tenant_a, Role.OPERATOR).patch(SETTINGS, {"new_days": 5}, format="json"),
        403,
        "permission_denied",
    )
    assert key_client_for(tenant_a, Role.SALES).get(SETTINGS).json()["new_days"] == 4


# --- recompute now ------------------------------------------------------------------------------------


def test_admins_and_operators_recompute_now(
    client_for, alice, operator, bob, tenant_a, django_capture_on_commit_callbacks
):
    customer = Builder(tenant_a).contact(
        "Someone", staff=Builder(tenant_a).staff("bob"), added_at=NOW - 50 * DAY
    )
    for user in (alice, operator):
        with django_capture_on_commit_callbacks(execute=True):
            response = client_for(user).post(RECOMPUTE)
        assert response.status_code == 202, response.content
        assert response.json() == {"queued": True}
    with tenant_context(tenant_a):
        assert ContactValue.objects.get(contact=customer).tier == "silent"
    assert_problem(client_for(bob).post(RECOMPUTE), 403, "permission_denied")


def test_recompute_with_keys_and_per_tenant(
    key_client_for, charlie_client, tenant_a, tenant_b, monkeypatch, django_capture_on_commit_callbacks
):
    queued = []
    monkeypatch.setattr(tasks.recompute, "delay", lambda *args, **kwargs: queued.append(args))
    with django_capture_on_commit_callbacks(execute=True):
        assert key_client_for(tenant_a, Role.OPERATOR).post(RECOMPUTE).status_code == 202
        assert charlie_client.post(RECOMPUTE).status_code == 202
    assert queued == [(tenant_a.pk,), (tenant_b.pk,)]
    assert_problem(key_client_for(tenant_a, Role.SALES).post(RECOMPUTE), 403, "permission_denied")


def test_anonymous_callers_are_refused(client, world):
    for url in (TIERS, BREAKDOWN, SETTINGS, value_url(world.rich)):
        assert client.get(url).status_code in (401, 403)
    assert client.post(RECOMPUTE).status_code in (401, 403)


def test_the_high_value_threshold_moves_tiers_both_ways(tenant_a, world, alice_client):
    later = NOW + dt.timedelta(minutes=1)
    for threshold, tier in (("5000", "active"), ("100", "high_value")):
        set_thresholds(tenant_a, high_value_ltv=Decimal(threshold))
        value_recompute_full(tenant=tenant_a, now=later)
        with tenant_context(tenant_a):
            assert ContactValue.objects.get(contact=world.rich).tier == tier
            assert ContactValue.objects.get(contact=world.fresh).tier == "new"  # new comes first
    history = alice_client.get(value_url(world.rich)).json()["tier_history"]
    assert [(h["from"], h["to"]) for h in history] == [("active", "high_value"), ("high_value", "active")]
