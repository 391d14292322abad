"""Member-made mass messages read back from the sandbox into the frequency-cap ledger."""

from __future__ import annotations

import pytest

from campaigns import tasks as campaign_tasks
from campaigns.models import ChatType, MemberMessage, Touch, TouchKind
from campaigns.services.caps import caps_counts
from campaigns.services.readback import member_messages_read
from scrm.tenancy import services as tenancy_services
from scrm.tenancy.context import tenant_context
from tests.campaigns.sandboxed import (
    campaign_make,
    confirm,
    connected,  # noqa: F401 -- fixture
    dispatch,
    sandbox,  # noqa: F401 -- fixture
    sandbox_factory,  # noqa: F401 -- fixture
    synced,  # noqa: F401 -- fixture
    tasks_of,
)
from tests.helpers import sandbox_control

pytestmark = pytest.mark.django_db


def _member_with_customers(sandbox) -> str:  # noqa: F811 -- the fixture's value
    with sandbox.state.lock:
        counts = {}
        for contact in sandbox.state.contacts.values():
            for userid in contact.follows:
                counts[userid] = counts.get(userid, 0) + 1
    return max(counts, key=counts.get)


def _read(tenant):
    with tenant_context(tenant):
        return member_messages_read(tenant=tenant)


def _touches(tenant, **filters) -> list[Touch]:
    with tenant_context(tenant):
        return list(Touch.objects.filter(**filters))


def test_member_made_messages_become_touches_once(synced, sandbox):  # noqa: F811
    userid = _member_with_customers(sandbox)
    made = sandbox_control(sandbox, "simulate/member-mass-msg", {"userid": userid, "text": "周末特惠"})

    summary = _read(synced)

    assert summary.messages == 1
    with tenant_context(synced):
        (message,) = MemberMessage.objects.all()
    assert (message.msgid, message.creator, message.chat_type) == (made["msgid"], userid, ChatType.SINGLE)
    assert message.results_complete
    touches = _touches(synced, kind=TouchKind.MEMBER_MASS_MESSAGE)
    assert len(touches) == made["sent"] > 0
    assert {t.source for t in touches} == {made["msgid"]}

    # The caps count them like our own sends.
    with tenant_context(synced):
        counts = caps_counts(tenant=synced, targets=[touches[0].target])
    assert counts[touches[0].target].receive == 1

    # Read again: nothing new, and the complete message is not read again.
    again = _read(synced)
    assert (again.messages, again.touches) == (0, 0)
    assert again.api_calls == 2  # the list, for customers and for groups
    assert len(_touches(synced)) == len(touches)


def test_group_messages_and_our_own_campaigns(synced, sandbox, django_capture_on_commit_callbacks):  # noqa: F811
    with sandbox.state.lock:
        owner = next(g.owner for g in sandbox.state.groups.values() if not g.dismissed)
    made = sandbox_control(
        sandbox, "simulate/member-mass-msg", {"userid": owner, "chat_type": "group", "text": "群公告"}
    )
    # A campaign of ours, sent: WeCom lists it as corp-made, not as a member's.
    campaign = dispatch(campaign_make(synced), django_capture_on_commit_callbacks)
    confirm(sandbox, tasks_of(campaign)[0])

    _read(synced)

    with tenant_context(synced):
        assert list(MemberMessage.objects.values_list("msgid", "chat_type")) == [
            (made["msgid"], ChatType.GROUP)
        ]
    touches = _touches(synced, kind=TouchKind.MEMBER_MASS_MESSAGE)
    assert len(touches) == made["sent"] > 0
    with sandbox.state.lock:
        assert {t.target for t in touches} <= set(sandbox.state.groups)


def test_the_hourly_tick_skips_tenants_without_wecom(synced, tenant_b, monkeypatch):  # noqa: F811
    unconnected = tenancy_services.tenant_create(slug="tenant-c", name="Tenant C")
    queued = []
    monkeypatch.setattr(campaign_tasks.readback_tenant, "delay", queued.append)
    campaign_tasks.readback_all.run()
    assert synced.pk in queued
    assert unconnected.pk not in queued
