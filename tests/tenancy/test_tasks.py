"""@tenant_task: the tenant in context inside a worker, and nothing left behind after."""

import pytest

from scrm.tenancy.context import get_current_tenant, tenant_context
from scrm.tenancy.tasks import clear_expired_sessions, tenant_task
from tests.tenantapp.models import Widget


@tenant_task(name="tests.count_widgets", queue="bulk", time_limit=30)
def count_widgets(tenant, prefix):
    assert get_current_tenant() == tenant
    return Widget.objects.filter(name__startswith=prefix).count()


@tenant_task(name="tests.explode", queue="default", time_limit=30)
def explode(tenant):
    raise RuntimeError("boom")


def test_task_runs_scoped_to_its_tenant(tenant_a, tenant_b):
    with tenant_context(tenant_a):
        Widget.objects.create(name="x1")
        Widget.objects.create(name="x2")
    with tenant_context(tenant_b):
        Widget.objects.create(name="x3")
    assert count_widgets.delay(tenant_a.id, "x").get() == 2
    assert count_widgets.delay(tenant_b.id, "x").get() == 1
    assert get_current_tenant() is None


def test_task_conventions_are_applied():
    assert count_widgets.name == "tests.count_widgets"
    assert count_widgets.queue_name == "bulk"
    assert (
        count_widgets.app.amqp.router.route({}, count_widgets.name, task_type=count_widgets)["queue"].name
        == "bulk"
    )
    assert count_widgets.time_limit == 30
    assert count_widgets.soft_time_limit == 20
    assert count_widgets.acks_late is False


def test_context_is_reset_when_a_task_fails(tenant_a):
    with pytest.raises(RuntimeError, match="boom"):
        explode.delay(tenant_a.id).get()
    assert get_current_tenant() is None


def test_task_for_an_inactive_or_deleted_tenant_is_skipped(tenant_a):
    tenant_a.is_active = False
    tenant_a.save()
    assert count_widgets.delay(tenant_a.id, "x").get() is None
    assert count_widgets.delay(999_999, "x").get() is None


def test_unknown_queue_is_refused():
    with pytest.raises(ValueError, match="Unknown queue"):
        tenant_task(name="tests.bad", queue="fast", time_limit=5)


def test_clear_expired_sessions_removes_only_expired(alice, client_for, db):
    from datetime import timedelta

    from django.contrib.sessions.models import Session
    from django.utils import timezone

    client_for(alice)  # a live session
    Session.objects.create(session_key="old", session_data="", expire_date=timezone.now() - timedelta(days=1))
    assert clear_expired_sessions.delay().get() == 1
    assert Session.objects.count() == 1
