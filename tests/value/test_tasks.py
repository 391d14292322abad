"""The value tasks and beat: the minute tick hands each tenant with new events (older than the lag) an
incremental pass, the nightly pass recomputes every active tenant, expires points and drops idempotency
records past 24 hours, a recompute runs one tenant's full pass, and every beat entry names a registered
task with its schedule (03:40 China time for the night)."""

from __future__ import annotations

import threading

import pytest
import time_machine
from celery.schedules import crontab
from django.conf import settings

from contacts.models import ContactEvent, EventCursor, EventType
from scrm.celery import app
from scrm.tenancy.context import tenant_context
from tests.contacts.builders import Builder
from tests.value.test_scoring import DAY, NOW, SECOND, add_event
from value import tasks
from value.models import ContactValue, IngestBatch
from value.services import scoring

pytestmark = pytest.mark.django_db


def test_the_value_beat_entries_name_registered_tasks():
    entries = {name: e for name, e in settings.CELERY_BEAT_SCHEDULE.items() if name.startswith("value-")}
    assert {name: e["task"] for name, e in entries.items()} == {
        "value-tick": "value.tick",
        "value-nightly": "value.nightly",
    }
    assert all(e["task"] in app.tasks for e in entries.values())
    assert entries["value-tick"]["schedule"] == 60
    assert entries["value-nightly"]["schedule"] == crontab(hour=3, minute=40)
    assert settings.CELERY_TIMEZONE == "Asia/Shanghai"
    for name in ("value.tick", "value.nightly", "value.recompute", "value.incremental"):
        assert app.tasks[name].queue_name in ("default", "bulk")


def test_the_tick_queues_an_incremental_pass_per_tenant_with_events_past_the_lag(
    tenant_a, tenant_b, monkeypatch
):
    queued = []
    monkeypatch.setattr(tasks.incremental, "delay", lambda tenant_id: queued.append(tenant_id))
    a, b = Builder(tenant_a), Builder(tenant_b)
    mine = a.contact(staff=a.staff("bob"), added_at=NOW - 100 * DAY)
    theirs = b.contact(staff=b.staff("bob"), added_at=NOW - 100 * DAY)
    with time_machine.travel(NOW, tick=False):
        add_event(tenant_a, mine, EventType.MOMENT_LIKED, NOW)
        assert tasks.tick() == 0  # too young: in-flight transactions may still commit lower ids
    with time_machine.travel(NOW + 31 * SECOND, tick=False):
        add_event(tenant_b, theirs, EventType.NOTE, NOW)
        assert tasks.tick() == 1
    assert queued == [tenant_a.pk]
    tenant_a.is_active = False
    tenant_a.save(update_fields=["is_active"])
    with time_machine.travel(NOW + 62 * SECOND, tick=False):
        assert tasks.tick() == 1
    assert queued == [tenant_a.pk, tenant_b.pk]


def test_the_tick_reads_the_stream_from_where_it_last_looked(tenant_a, tenant_b, monkeypatch):
    queued = []
    monkeypatch.setattr(tasks.incremental, "delay", lambda tenant_id: queued.append(tenant_id))
    a, b = Builder(tenant_a), Builder(tenant_b)
    mine = a.contact(staff=a.staff("bob"), added_at=NOW - 100 * DAY)
    theirs = b.contact(staff=b.staff("bob"), added_at=NOW - 100 * DAY)
    with time_machine.travel(NOW - 60 * SECOND, tick=False):
        add_event(tenant_a, mine, EventType.MOMENT_LIKED, NOW)
    with time_machine.travel(NOW, tick=False):
        assert tasks.tick() == 1
        # Its pass did not run (the task is stubbed here): the next tick does not look again; the
        # tenant's next event or the nightly pass reads it.
        assert tasks.tick() == 0
    with time_machine.travel(NOW + 60 * SECOND, tick=False):
        add_event(tenant_b, theirs, EventType.NOTE, NOW)
    with time_machine.travel(NOW + 120 * SECOND, tick=False):
        assert tasks.tick() == 1
    assert queued == [tenant_a.pk, tenant_b.pk]


def test_a_pass_moves_the_cursor_past_other_tenants_events(tenant_a, tenant_b):
    a, b = Builder(tenant_a), Builder(tenant_b)
    theirs = b.contact(staff=b.staff("bob"), added_at=NOW - 100 * DAY)
    with time_machine.travel(NOW - 60 * SECOND, tick=False):
        add_event(tenant_b, theirs, EventType.NOTE, NOW)
    a.contact(staff=a.staff("bob"), added_at=NOW - 100 * DAY)
    with time_machine.travel(NOW, tick=False):
        position = scoring.value_recompute_full(tenant=tenant_a).position
    with tenant_context(tenant_b):
        newest = ContactEvent.objects.get().pk
    # Tenant A has no events, yet its next read starts after B's: an idle tenant's reads stay short.
    assert position == newest


def test_the_tick_runs_the_passes(tenant_a):
    a = Builder(tenant_a)
    customer = a.contact(staff=a.staff("bob"), added_at=NOW - 100 * DAY)
    with time_machine.travel(NOW, tick=False):
        add_event(tenant_a, customer, EventType.MOMENT_LIKED, NOW)
    with time_machine.travel(NOW + 60 * SECOND, tick=False):
        assert tasks.tick() == 1  # Celery is eager in tests: the pass ran
        assert tasks.tick() == 0
    with tenant_context(tenant_a):
        assert ContactValue.objects.get(contact=customer).tier == "active"


def test_the_night_recomputes_every_active_tenant_and_drops_old_batches(tenant_a, tenant_b, monkeypatch):
    queued = []
    monkeypatch.setattr(tasks.recompute, "delay", lambda *args, **kwargs: queued.append((args, kwargs)))
    with time_machine.travel(NOW - 25 * 3600 * SECOND, tick=False), tenant_context(tenant_a):
        IngestBatch.objects.create(idempotency_key="old", request_hash="x")
    with time_machine.travel(NOW - 23 * 3600 * SECOND, tick=False), tenant_context(tenant_b):
        IngestBatch.objects.create(idempotency_key="recent", request_hash="y")
    tenant_b.is_active = False
    tenant_b.save(update_fields=["is_active"])
    with time_machine.travel(NOW, tick=False):
        assert tasks.nightly() == 1
    assert queued == [((tenant_a.pk,), {"nightly": True})]
    assert list(IngestBatch.unscoped.values_list("idempotency_key", flat=True)) == ["recent"]


def test_the_nightly_recompute_also_expires_points(tenant_a, monkeypatch):
    expired, passes = [], []
    monkeypatch.setattr(tasks, "points_expire", lambda *, tenant, now: expired.append((tenant.pk, now)))
    monkeypatch.setattr(tasks, "value_recompute_full", lambda *, tenant: passes.append(tenant.pk))
    with time_machine.travel(NOW, tick=False):
        tasks.recompute.delay(tenant_a.pk, nightly=True)
        tasks.recompute.delay(tenant_a.pk)
    assert passes == [tenant_a.pk, tenant_a.pk]
    assert expired == [(tenant_a.pk, NOW)]


def test_a_recompute_runs_a_full_pass_for_one_tenant(tenant_a, tenant_b):
    a, b = Builder(tenant_a), Builder(tenant_b)
    mine = a.contact(staff=a.staff("bob"), added_at=NOW - 100 * DAY)
    theirs = b.contact(staff=b.staff("bob"), added_at=NOW - 100 * DAY)
    with time_machine.travel(NOW, tick=False):
        tasks.recompute.delay(tenant_a.pk)
    with tenant_context(tenant_a):
        assert ContactValue.objects.get(contact=mine).tier == "silent"
    with tenant_context(tenant_b):
        assert not ContactValue.objects.filter(contact=theirs).exists()


def test_a_recompute_for_a_tenant_gone_is_skipped(tenant_a, caplog):
    tenant_a.is_active = False
    tenant_a.save(update_fields=["is_active"])
    tasks.recompute.delay(tenant_a.pk)
    assert f"Skipping value.recompute: tenant {tenant_a.pk} is gone or inactive" in caplog.text


@pytest.mark.django_db(transaction=True)
def test_a_pass_waits_for_the_one_running(tenant_a):
    """Two passes of one tenant never interleave: the second waits on the cursor row's lock."""
    from django.db import connection, transaction

    with tenant_context(tenant_a):
        EventCursor.objects.create(consumer=scoring.CURSOR)
    holding, release, finished = threading.Event(), threading.Event(), []

    def hold():
        try:
            with tenant_context(tenant_a), transaction.atomic():
                scoring._cursor_locked(scoring.CURSOR)
                holding.set()
                release.wait(10)
        finally:
            connection.close()

    def run():
        try:
            scoring.value_recompute_incremental(tenant=tenant_a)
            finished.append(True)
        finally:
            connection.close()

    holder, runner = threading.Thread(target=hold), threading.Thread(target=run)
    holder.start()
    assert holding.wait(10)
    runner.start()
    runner.join(1.0)
    try:
        assert finished == []  # blocked behind the first
    finally:
        release.set()
        holder.join(10)
        runner.join(10)
    assert finished == [True]
