"""Points and levels (value.services.points): earning by the rules from the event stream (each action; a
purchase per yuan, floored; a refund taking back what its order earned, never below zero), idempotency
(earning twice is earning once; a grant's key replayed), concurrent redemptions on PostgreSQL, FIFO
spending and expiry, levels by lifetime points, the rules' and levels' validation, and the SQLite code
paths.

The clock is pinned (this module depends on it: the stream's 30-second lag and expiry dates).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.exceptions import ValidationError

from contacts.models import Contact, ContactEvent, EventCursor, EventType
from contacts.services.events import event_build, events_record
from scrm.api.errors import Conflict
from scrm.tenancy.actors import SYSTEM, Actor
from scrm.tenancy.context import tenant_context
from tests.campaigns.conftest import at
from tests.contacts.builders import Builder
from value.models import (
    Level,
    PointsAccount,
    PointsAction,
    PointsEntry,
    PointsReason,
    PointsRule,
    ValueSettings,
)
from value.services import points as services
from value.services.points import (
    CONSUMER,
    EARNED_MAX,
    LAG,
    level_create,
    level_delete,
    level_update,
    points_earn,
    points_expire,
    points_grant,
    points_grant_many,
    points_redeem,
    rule_create,
    rule_update,
)

NOW = at("2026-11-30 10:00")  # a Monday, China time
READ = LAG + dt.timedelta(seconds=1)  # how much later the stream's events are ripe


class Points:
    """A tenant's customers, events and rules, and the points pass run over them."""

    def __init__(self, tenant):
        self.tenant = tenant
        self.build = Builder(tenant)
        self.orders = 0

    def customer(self, **kwargs: Any) -> Contact:
        return self.build.contact(**kwargs)

    def event(self, contact: Contact, type_: str, *, occurred_at=None, **payload: Any) -> ContactEvent:
        with tenant_context(self.tenant):
            event = event_build(contact_id=contact.pk, type=type_, occurred_at=occurred_at, payload=payload)
            events_record([event])
            return ContactEvent.objects.filter(contact=contact).order_by("-pk").first()

    def purchase(self, contact: Contact, amount: str, **extra: Any) -> int:
        """A ``purchased`` event as ingestion writes it; the order's id."""
        self.orders += 1
        self.event(
            contact,
            EventType.PURCHASED,
            order_id=self.orders,
            source="shop",
            external_id=f"O-{self.orders}",
            amount=amount,
            currency="CNY",
            **extra,
        )
        return self.orders

    def refund(self, contact: Contact, order: int, amount: str, total: str) -> None:
        self.event(
            contact,
            EventType.REFUNDED,
            order_id=order,
            source="shop",
            external_id=f"O-{order}",
            amount=amount,
            refunded_total=total,
        )

    def rule(self, action: str, points: int, *, active: bool = True) -> PointsRule:
        with tenant_context(self.tenant):
            rule = PointsRule.objects.filter(action=action).first()
            if rule is None:
                return rule_create(action=action, points=points, is_active=active)
            return rule_update(rule=rule, data={"points": points, "is_active": active})

    def level(self, name: str, min_points: int) -> Level:
        with tenant_context(self.tenant):
            return level_create(data={"name": name, "min_points": min_points})

    def expire_after(self, days: int) -> None:
        with tenant_context(self.tenant):
            ValueSettings.objects.update_or_create(tenant=self.tenant, defaults={"points_expire_days": days})

    def earn(self, *, at_time: dt.datetime | None = None) -> int:
        return points_earn(tenant=self.tenant, now=at_time or timezone.now() + READ)

    def grant(self, contact: Contact, points: int, **kwargs: Any) -> PointsEntry:
        kwargs.setdefault("actor", SYSTEM)
        with tenant_context(self.tenant):
            return points_grant(contact=contact, points=points, **kwargs)

    def redeem(self, contact: Contact, points: int, **kwargs: Any) -> PointsEntry:
        kwargs.setdefault("actor", SYSTEM)
        with tenant_context(self.tenant):
            return points_redeem(contact=contact, points=points, **kwargs)

    def account(self, contact: Contact) -> tuple[int, int, str | None]:
        """(balance, earned_total, level name); (0, 0, None) with no account yet."""
        with tenant_context(self.tenant):
            account = PointsAccount.objects.filter(contact=contact).select_related("level").first()
        if account is None:
            return 0, 0, None
        return account.balance, account.earned_total, account.level.name if account.level else None

    def ledger(self, contact: Contact) -> list[tuple[str, int, int]]:
        """(reason, delta, balance_after), oldest first."""
        with tenant_context(self.tenant):
            return list(
                PointsEntry.objects.filter(contact=contact)
                .order_by("pk")
                .values_list("reason", "delta", "balance_after")
            )

    def remaining(self, contact: Contact) -> list[int]:
        """What is left of each credit, oldest first."""
        with tenant_context(self.tenant):
            return list(
                PointsEntry.objects.filter(contact=contact, delta__gt=0)
                .order_by("pk")
                .values_list("remaining", flat=True)
            )

    def check_books(self, contact: Contact) -> None:
        """The invariants: balance = Σ ledger = Σ credits' remaining ≥ 0; earned_total = Σ credits."""
        balance, earned, _ = self.account(contact)
        with tenant_context(self.tenant):
            entries = PointsEntry.objects.filter(contact=contact)
            assert balance == sum(entries.values_list("delta", flat=True))
            assert balance == sum(entries.values_list("remaining", flat=True))
            assert earned == sum(entries.filter(delta__gt=0).values_list("delta", flat=True))
        assert balance >= 0


@pytest.fixture(autouse=True)
def _pinned(time_machine):
    time_machine.move_to(NOW, tick=False)


@pytest.fixture
def world(tenant_a) -> Points:
    return Points(tenant_a)


# -- earning by the rules ---------------------------------------------------------------------------


def test_each_action_earns_by_its_rule(world):
    for action, points in [
        (PointsAction.ADDED, 10),
        (PointsAction.GROUP_JOINED, 5),
        (PointsAction.MOMENT_COMMENTED, 3),
        (PointsAction.REFERRED, 50),
        (PointsAction.PURCHASE, 2),
    ]:
        world.rule(action, points)
    ann = world.customer()
    world.event(ann, EventType.ADDED)
    world.event(ann, EventType.GROUP_JOINED)
    world.event(ann, EventType.MOMENT_COMMENTED)
    world.event(ann, EventType.MOMENT_LIKED)  # no rule for likes
    world.event(ann, EventType.TAGGED)
    world.event(ann, EventType.CUSTOM, name="referred", source="app", external_id="R-1", properties={})
    world.event(ann, EventType.CUSTOM, name="viewed_product", source="app", external_id="V-1", properties={})
    world.purchase(ann, "199.99")  # 399.98 points, floored

    assert world.earn() == 5
    with tenant_context(world.tenant):
        earned = list(
            PointsEntry.objects.filter(contact=ann)
            .order_by("pk")
            .values_list("reason", "rule_action", "delta")
        )
        purchase = PointsEntry.objects.get(rule_action=PointsAction.PURCHASE)
    assert earned == [
        ("earned", "added", 10),
        ("earned", "group_joined", 5),
        ("earned", "moment_commented", 3),
        ("earned", "referred", 50),
        ("earned", "purchase", 399),
    ]
    assert purchase.note == "shop:O-1"
    assert purchase.idempotency_key == f"event:{purchase.event_id}"
    assert world.account(ann)[:2] == (467, 467)
    world.check_books(ann)


def test_an_inactive_or_missing_rule_earns_nothing_and_rules_are_not_retroactive(world):
    world.rule(PointsAction.ADDED, 10, active=False)
    ann = world.customer()
    world.event(ann, EventType.ADDED)
    world.event(ann, EventType.GROUP_JOINED)  # no rule at all
    assert world.earn() == 0
    world.rule(PointsAction.ADDED, 10)
    assert world.earn() == 0  # the add was read while the rule was off
    world.event(ann, EventType.ADDED)
    assert world.earn() == 1
    assert world.account(ann)[0] == 10


def test_events_younger_than_the_lag_wait_for_the_next_pass(world):
    world.rule(PointsAction.ADDED, 10)
    ann = world.customer()
    world.event(ann, EventType.ADDED)
    assert world.earn(at_time=NOW + dt.timedelta(seconds=29)) == 0
    assert world.earn(at_time=NOW + dt.timedelta(seconds=31)) == 1
    with tenant_context(world.tenant):
        assert EventCursor.objects.get(consumer=CONSUMER).position == ContactEvent.objects.latest("pk").pk


def test_nothing_is_read_past_an_event_still_too_young(world, time_machine):
    """Ids are the stream's order: an older event with a higher id waits behind a younger one."""
    world.rule(PointsAction.ADDED, 10)
    ann, bea = world.customer(), world.customer()
    time_machine.move_to(NOW + dt.timedelta(seconds=20), tick=False)
    world.event(ann, EventType.ADDED)  # created at +20s
    time_machine.move_to(NOW, tick=False)
    world.event(bea, EventType.ADDED)  # a later id, created at +0s (another process's clock)
    assert world.earn(at_time=NOW + dt.timedelta(seconds=40)) == 0
    assert world.earn(at_time=NOW + dt.timedelta(seconds=51)) == 2


def test_without_rules_the_pass_moves_past_ripe_events_without_reading_them(world, time_machine):
    ann = world.customer()
    world.event(ann, EventType.ADDED)
    world.event(ann, EventType.ADDED)
    with tenant_context(world.tenant):
        last_ripe = ContactEvent.objects.latest("pk").pk
    time_machine.move_to(NOW + dt.timedelta(seconds=20), tick=False)
    world.event(ann, EventType.ADDED)  # still young at the pass below
    assert world.earn(at_time=NOW + dt.timedelta(seconds=40)) == 0
    with tenant_context(world.tenant):
        assert EventCursor.objects.get(consumer=CONSUMER).position == last_ripe
    world.rule(PointsAction.ADDED, 10)
    assert world.earn(at_time=NOW + dt.timedelta(seconds=51)) == 1  # only the one read with the rule on
    assert world.account(ann)[0] == 10


def test_earning_twice_is_earning_once(world):
    world.rule(PointsAction.ADDED, 10)
    world.rule(PointsAction.PURCHASE, 1)
    ann = world.customer()
    world.event(ann, EventType.ADDED)
    world.purchase(ann, "100.00")
    assert world.earn() == 2
    assert world.earn() == 0
    # Even read again from the start (a cursor reset), every event earns once.
    with tenant_context(world.tenant):
        EventCursor.objects.filter(consumer=CONSUMER).update(position=0)
    assert world.earn() == 0
    assert world.ledger(ann) == [("earned", 10, 10), ("earned", 100, 110)]


def test_each_tenant_earns_from_its_own_events(world, tenant_b):
    other = Points(tenant_b)
    world.rule(PointsAction.ADDED, 10)
    other.rule(PointsAction.ADDED, 7)
    ann, zed = world.customer(), other.customer()
    world.event(ann, EventType.ADDED)
    other.event(zed, EventType.ADDED)
    assert world.earn() == 1
    assert world.account(ann)[0] == 10
    assert other.account(zed)[0] == 0
    assert other.earn() == 1
    assert other.account(zed)[0] == 7


def test_a_window_at_a_time_reads_everything(world, monkeypatch):
    monkeypatch.setattr(services, "WINDOW", 3)
    world.rule(PointsAction.ADDED, 1)
    customers = [world.customer() for _ in range(4)]
    for contact in customers:
        world.event(contact, EventType.ADDED)
        world.event(contact, EventType.TAGGED)
    assert world.earn() == 4
    assert [world.account(c)[0] for c in customers] == [1, 1, 1, 1]


def test_lifetime_points_stop_at_what_the_ledger_holds(world):
    world.rule(PointsAction.PURCHASE, 1_000_000)
    ann = world.customer()
    world.purchase(ann, "9999999999.99")
    world.purchase(ann, "5.00")
    assert world.earn() == 1  # the second has no room left
    assert world.account(ann)[:2] == (EARNED_MAX, EARNED_MAX)
    with pytest.raises(ValidationError) as refused:
        world.grant(ann, 1)
    assert refused.value.get_codes() == {"points": ["too_large"]}


# -- refunds --------------------------------------------------------------------------------------


def test_a_refund_takes_back_what_its_order_earned(world):
    world.rule(PointsAction.PURCHASE, 2)
    ann = world.customer()
    order = world.purchase(ann, "200.00")
    world.earn()
    world.refund(ann, order, "50.00", "50.00")
    world.earn()
    world.refund(ann, order, "150.00", "200.00")
    world.earn()
    assert world.ledger(ann) == [("earned", 400, 400), ("reversed", -100, 300), ("reversed", -300, 0)]
    with tenant_context(world.tenant):
        assert set(
            PointsEntry.objects.filter(reason=PointsReason.REVERSED).values_list("rule_action", "note")
        ) == {("purchase", "shop:O-1")}
    world.check_books(ann)


def test_refunds_in_parts_take_back_exactly_the_orders_points(world):
    world.rule(PointsAction.PURCHASE, 1)
    ann = world.customer()
    order = world.purchase(ann, "100.00")
    world.refund(ann, order, "50.50", "50.50")
    world.refund(ann, order, "49.50", "100.00")
    world.earn()  # a purchase and its refunds in one pass
    assert world.ledger(ann) == [("earned", 100, 100), ("reversed", -50, 50), ("reversed", -50, 0)]


def test_a_refund_never_takes_the_balance_below_zero(world):
    world.rule(PointsAction.PURCHASE, 1)
    ann = world.customer()
    order = world.purchase(ann, "100.00")
    world.earn()
    world.redeem(ann, 80)
    world.refund(ann, order, "100.00", "100.00")
    world.earn()
    assert world.ledger(ann) == [("earned", 100, 100), ("redeemed", -80, 20), ("reversed", -20, 0)]
    world.refund(ann, order, "0.01", "100.01")  # nothing left to take: no line
    world.earn()
    assert world.account(ann)[0] == 0
    assert len(world.ledger(ann)) == 3
    world.check_books(ann)


def test_a_refund_takes_back_at_the_orders_rate_not_todays(world):
    world.rule(PointsAction.PURCHASE, 1)
    ann, bea = world.customer(), world.customer()
    order = world.purchase(ann, "100.00")
    world.earn()
    world.rule(PointsAction.PURCHASE, 5)
    world.refund(ann, order, "100.00", "100.00")
    # Bea's order was paid before points existed: its refund takes nothing back.
    with tenant_context(world.tenant):
        PointsRule.objects.all().delete()
    early = world.purchase(bea, "300.00")
    world.earn()
    world.rule(PointsAction.PURCHASE, 1)
    world.grant(bea, 50)
    world.refund(bea, early, "300.00", "300.00")
    world.earn()
    assert world.ledger(ann) == [("earned", 100, 100), ("reversed", -100, 0)]
    assert world.ledger(bea) == [("granted", 50, 50)]


def test_an_order_pushed_already_refunded_earns_nothing_net(world):
    world.rule(PointsAction.PURCHASE, 3)
    ann = world.customer()
    order = world.purchase(ann, "33.33")
    world.refund(ann, order, "33.33", "33.33")
    assert world.earn() == 2
    assert world.ledger(ann) == [("earned", 99, 99), ("reversed", -99, 0)]
    world.check_books(ann)


# -- grants, redemptions, idempotency ---------------------------------------------------------------


def test_grant_and_redeem_keep_the_books(world, alice):
    ann = world.customer()
    actor = Actor(user=alice)
    granted = world.grant(ann, 100, note="  生日礼  ", actor=actor)
    assert (granted.delta, granted.balance_after, granted.reason, granted.note) == (
        100,
        100,
        "granted",
        "生日礼",
    )
    assert (granted.actor, granted.replayed, granted.remaining) == (alice, False, 100)
    redeemed = world.redeem(ann, 30, note="兑换", actor=actor)
    assert (redeemed.delta, redeemed.balance_after, redeemed.reason, redeemed.expires_at) == (
        -30,
        70,
        "redeemed",
        None,
    )
    assert world.account(ann) == (70, 100, None)
    assert world.remaining(ann) == [70]
    world.check_books(ann)


def test_redeeming_beyond_the_balance_is_refused_and_changes_nothing(world):
    ann = world.customer()
    with pytest.raises(Conflict) as refused:
        world.redeem(ann, 1)
    assert refused.value.get_codes() == "insufficient_points"
    world.grant(ann, 10)
    with pytest.raises(Conflict):
        world.redeem(ann, 11, idempotency_key="r-1")
    assert world.ledger(ann) == [("granted", 10, 10)]
    # The refused key was not used up: once the balance covers it, it goes through.
    world.grant(ann, 1)
    assert world.redeem(ann, 11, idempotency_key="r-1").balance_after == 0


def test_a_repeated_key_answers_the_first_entry(world, alice, operator):
    ann, bea = world.customer(), world.customer()
    first = world.grant(ann, 100, idempotency_key="g-1", actor=Actor(user=alice))
    again = world.grant(ann, 100, idempotency_key="g-1", note="another note", actor=Actor(user=alice))
    assert (again.pk, again.replayed) == (first.pk, True)
    assert world.account(ann)[0] == 100
    # Another caller's key is another request.
    other = world.grant(ann, 100, idempotency_key="g-1", actor=Actor(user=operator))
    assert (other.pk != first.pk, other.replayed) == (True, False)
    assert world.account(ann)[0] == 200
    # The same key for another request is refused.
    for customer, points, change in [
        (bea, 100, world.grant),
        (ann, 5, world.grant),
        (ann, 100, world.redeem),
    ]:
        with pytest.raises(Conflict) as reused:
            change(customer, points, idempotency_key="g-1", actor=Actor(user=alice))
        assert reused.value.get_codes() == "idempotency_key_reused"
    assert world.account(ann)[0] == 200
    assert world.account(bea)[0] == 0


def test_granting_many_at_once_keeps_the_books_and_each_key_once(world, alice):
    world.level("银卡", 150)
    ann, bea = world.customer(), world.customer()
    world.grant(ann, 100)
    actor = Actor(user=alice)
    with tenant_context(world.tenant):
        grants = [(ann.pk, "run-1"), (bea.pk, "run-2"), (ann.pk, "run-3")]
        assert points_grant_many(grants=grants, points=50, note="SOP", actor=actor) == 3
        # Done again (a pass redone after a crash), and with a new key among the old: only the new one.
        assert points_grant_many(grants=[*grants, (bea.pk, "run-4")], points=50, note="SOP", actor=actor) == 1
        entries = PointsEntry.objects.filter(note="SOP")
        assert {e.actor_id for e in entries} == {alice.pk}
    assert world.account(ann) == (200, 200, "银卡")
    assert world.account(bea) == (100, 100, None)
    world.check_books(ann)
    world.check_books(bea)


@pytest.mark.parametrize("points", [0, -5, 1_000_001, True, "10"])
def test_points_out_of_range_are_refused(world, points):
    ann = world.customer()
    with pytest.raises(ValidationError) as refused:
        world.grant(ann, points)
    assert refused.value.get_codes() == {"points": ["out_of_range"]}


# -- FIFO and expiry -----------------------------------------------------------------------------------


def test_redemptions_spend_the_oldest_credits_and_expiry_takes_the_rest(world, time_machine):
    world.expire_after(30)
    world.rule(PointsAction.ADDED, 100)
    ann = world.customer()
    world.event(ann, EventType.ADDED)  # 100 points on day 0, expiring on day 30
    world.earn()
    time_machine.move_to(NOW + dt.timedelta(days=10), tick=False)
    world.grant(ann, 50)  # expiring on day 40
    time_machine.move_to(NOW + dt.timedelta(days=15), tick=False)
    world.redeem(ann, 60)
    assert world.remaining(ann) == [40, 50]

    time_machine.move_to(NOW + dt.timedelta(days=30) - dt.timedelta(seconds=1), tick=False)
    assert points_expire(tenant=world.tenant, now=timezone.now()) == 0
    time_machine.move_to(NOW + dt.timedelta(days=30), tick=False)
    assert points_expire(tenant=world.tenant, now=timezone.now()) == 1
    assert points_expire(tenant=world.tenant, now=timezone.now()) == 0  # once
    assert world.remaining(ann) == [0, 50]
    assert world.ledger(ann)[-1] == ("expired", -40, 50)
    with tenant_context(world.tenant):
        first = PointsEntry.objects.filter(contact=ann).order_by("pk").first()
        assert PointsEntry.objects.get(reason=PointsReason.EXPIRED).idempotency_key == f"expire:{first.pk}"

    time_machine.move_to(NOW + dt.timedelta(days=45), tick=False)
    assert points_expire(tenant=world.tenant, now=timezone.now()) == 1
    assert world.account(ann)[:2] == (0, 150)  # expiry does not touch lifetime points
    world.check_books(ann)


def test_credits_expire_from_when_the_event_happened_and_zero_days_is_never(world, time_machine):
    world.expire_after(7)
    world.rule(PointsAction.ADDED, 10)
    ann, bea = world.customer(), world.customer()
    world.event(ann, EventType.ADDED, occurred_at=NOW - dt.timedelta(days=3))
    world.earn()
    with tenant_context(world.tenant):
        assert PointsEntry.objects.get(contact=ann).expires_at == NOW + dt.timedelta(days=4)
    world.expire_after(0)
    world.event(bea, EventType.ADDED)
    world.earn()
    time_machine.move_to(NOW + dt.timedelta(days=3650), tick=False)
    assert points_expire(tenant=world.tenant, now=timezone.now()) == 1
    assert (world.account(ann)[0], world.account(bea)[0]) == (0, 10)


def test_expiry_works_through_many_customers_a_batch_at_a_time(world, monkeypatch, time_machine):
    monkeypatch.setattr(services, "EXPIRE_BATCH", 2)
    world.expire_after(1)
    customers = [world.customer() for _ in range(5)]
    for contact in customers:
        world.grant(contact, 10)
        world.grant(contact, 5)
    time_machine.move_to(NOW + dt.timedelta(days=2), tick=False)
    assert points_expire(tenant=world.tenant, now=timezone.now()) == 10
    assert [world.account(c)[0] for c in customers] == [0] * 5


# -- levels ---------------------------------------------------------------------------------------------


def test_levels_go_by_lifetime_points_and_spending_does_not_demote(world):
    world.level("Silver", 100)
    world.level("Gold", 300)
    ann = world.customer()
    world.grant(ann, 99)
    assert world.account(ann)[2] is None
    world.grant(ann, 1)
    assert world.account(ann)[2] == "Silver"
    world.redeem(ann, 100)
    assert world.account(ann) == (0, 100, "Silver")
    world.rule(PointsAction.ADDED, 250)
    world.event(ann, EventType.ADDED)
    world.earn()
    assert world.account(ann) == (250, 350, "Gold")


def test_level_changes_move_every_account_they_concern(world):
    ann, bea, cat = world.customer(), world.customer(), world.customer()
    for contact, points in [(ann, 50), (bea, 150), (cat, 500)]:
        world.grant(contact, points)
    silver = world.level("Silver", 100)
    gold = world.level("Gold", 400)
    levels = lambda: [world.account(c)[2] for c in (ann, bea, cat)]  # noqa: E731
    assert levels() == [None, "Silver", "Gold"]
    with tenant_context(world.tenant):
        level_update(level=silver, data={"min_points": 10})
        assert levels() == ["Silver", "Silver", "Gold"]
        level_update(level=gold, data={"name": "Platinum"})
        assert levels() == ["Silver", "Silver", "Platinum"]
        level_delete(level=gold)
        assert levels() == ["Silver", "Silver", "Silver"]
        level_delete(level=silver)
        assert levels() == [None, None, None]


@pytest.mark.parametrize(
    ("data", "field", "code"),
    [
        ({"name": "Silver", "min_points": 5}, "name", "unique"),
        ({"name": "Gold", "min_points": 100}, "min_points", "unique"),
        ({"name": " ", "min_points": 5}, "name", "required"),
        ({"name": "x" * 33, "min_points": 5}, "name", "max_length"),
        ({"name": "Gold", "min_points": -1}, "min_points", "out_of_range"),
        ({"name": "Gold", "min_points": 5, "color": "red; x"}, "color", "invalid"),
    ],
)
def test_levels_are_validated(world, data, field, code):
    world.level("Silver", 100)
    with tenant_context(world.tenant), pytest.raises(ValidationError) as refused:
        level_create(data=data)
    assert refused.value.get_codes() == {field: [code]}


def test_rules_are_one_per_action_and_keep_their_action(world):
    rule = world.rule(PointsAction.ADDED, 10)
    with tenant_context(world.tenant):
        with pytest.raises(ValidationError) as twice:
            rule_create(action=PointsAction.ADDED, points=5)
        assert twice.value.get_codes() == {"action": ["unique"]}
        with pytest.raises(ValidationError) as moved:
            rule_update(rule=rule, data={"action": PointsAction.PURCHASE})
        assert moved.value.get_codes() == {"action": ["immutable"]}
        with pytest.raises(ValidationError) as zero:
            rule_update(rule=rule, data={"points": 0})
        assert zero.value.get_codes() == {"points": ["out_of_range"]}


# -- the SQLite code paths ------------------------------------------------------------------------------


def test_the_portable_writes_keep_the_same_books(world, monkeypatch, time_machine):
    """``make run`` uses SQLite: the writes PostgreSQL does with UPDATE … FROM unnest() go through the
    ORM there. Forced here, over the same story as above."""
    monkeypatch.setattr(services, "_vendor_postgresql", lambda: False)
    world.expire_after(30)
    world.level("Silver", 100)
    world.rule(PointsAction.PURCHASE, 1)
    ann = world.customer()
    order = world.purchase(ann, "150.00")
    world.earn()
    world.redeem(ann, 20)
    world.refund(ann, order, "100.00", "100.00")
    world.earn()
    assert world.ledger(ann) == [("earned", 150, 150), ("redeemed", -20, 130), ("reversed", -100, 30)]
    assert world.remaining(ann) == [30]
    assert world.account(ann) == (30, 150, "Silver")
    time_machine.move_to(NOW + dt.timedelta(days=31), tick=False)
    assert points_expire(tenant=world.tenant, now=timezone.now()) == 1
    assert world.account(ann) == (0, 150, "Silver")
    world.check_books(ann)


# -- concurrency (PostgreSQL, real transactions) --------------------------------------------------------


def _race(tenant, work, n: int) -> tuple[list, list]:
    """Run ``work(i)`` in ``n`` threads at once, each in its own connection; (results, errors)."""
    barrier = threading.Barrier(n, timeout=5)
    real = services._account_locked
    results, errors = [], []

    def lined_up(contact_id):
        # Every thread reaches the lock before any takes it.
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait()
        return real(contact_id)

    def run(i):
        try:
            with tenant_context(tenant):
                results.append(work(i))
        except Exception as exc:  # asserted by the caller
            errors.append(exc)
        finally:
            connection.close()

    services._account_locked = lined_up
    try:
        threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
    finally:
        services._account_locked = real
    return results, errors


def test_two_redemptions_racing_for_one_balance_one_wins(transactional_db, tenant_a):
    world = Points(tenant_a)
    ann = world.customer()
    world.grant(ann, 100)
    results, errors = _race(tenant_a, lambda i: points_redeem(contact=ann, points=80, actor=SYSTEM), 2)
    assert len(results) == 1
    assert [e.get_codes() for e in errors] == ["insufficient_points"]
    assert world.account(ann)[0] == 20
    world.check_books(ann)


def test_many_redemptions_racing_never_take_the_balance_below_zero(transactional_db, tenant_a):
    world = Points(tenant_a)
    ann = world.customer()
    world.grant(ann, 100)
    results, errors = _race(tenant_a, lambda i: points_redeem(contact=ann, points=30, actor=SYSTEM), 6)
    assert (len(results), len(errors)) == (3, 3)
    assert {e.get_codes() for e in errors} == {"insufficient_points"}
    assert world.account(ann)[0] == 10
    world.check_books(ann)


def test_the_same_key_racing_changes_once(transactional_db, tenant_a):
    world = Points(tenant_a)
    ann = world.customer()
    results, errors = _race(
        tenant_a, lambda i: points_grant(contact=ann, points=10, actor=SYSTEM, idempotency_key="k"), 3
    )
    assert errors == []
    assert len({entry.pk for entry in results}) == 1
    assert sorted(entry.replayed for entry in results) == [False, True, True]
    assert world.account(ann)[0] == 10


def test_a_first_change_of_a_customer_racing_makes_one_account(transactional_db, tenant_a):
    world = Points(tenant_a)
    ann = world.customer()
    _, errors = _race(tenant_a, lambda i: points_grant(contact=ann, points=10, actor=SYSTEM), 2)
    assert errors == []
    with tenant_context(tenant_a):
        assert PointsAccount.objects.filter(contact=ann).count() == 1
    assert world.account(ann)[0] == 20
    world.check_books(ann)
