"""Groups fixtures: the in-process sandbox, tenant A connected and synced, and a local group builder.

``sandbox`` / ``sandbox_factory`` come from the WeCom tests' conftest and ``connected`` (tenant A on
the default small sandbox) from the contacts tests'. ``synced`` is tenant A after a contacts sync and
then a groups sync of that sandbox. ``build_group(owner=, name=, members=[(userid, type), ...])``
makes a group with its members in the database only (no WeCom), for API tests:

    group = build_group(owner="bob", name="VIP群", members=[("bob", "staff"), ("wmCUST1", "customer")])
    old = build_group(tenant=tenant_b, members=[("wm1", "customer", {"left_at": yesterday})])

A member is ``(userid, type)`` or ``(userid, type, {field: value})`` with any GroupMember field
(``joined_at``, ``left_at``, ``state``, ``name``, ``group_nickname``, ``join_scene``...); type is
``"staff"``/``"customer"`` (or WeCom's 1/2). The owner is a ``Staff``, a userid (a Staff row is made
when there is none) or None.
"""

from __future__ import annotations

import datetime as dt
import itertools
import time
from collections.abc import Callable, Iterable
from typing import Any

import pytest
from django.utils import timezone

from contacts.models import Staff, SyncKind, SyncRun
from groups.models import Group, GroupMember, GroupStatus, MemberType
from scrm.tenancy.context import tenant_context
from tests.contacts.builders import run_sync
from tests.contacts.conftest import connected  # noqa: F401 -- fixture reused here
from tests.wecom.conftest import sandbox, sandbox_factory  # noqa: F401 -- fixtures reused here

_seq = itertools.count(1)
_TYPES = {
    1: MemberType.STAFF,
    2: MemberType.CUSTOMER,
    "staff": MemberType.STAFF,
    "customer": MemberType.CUSTOMER,
}


def run_groups_sync(tenant, *, api=None) -> SyncRun:
    """A full groups sync of ``tenant`` in the foreground (as the ``groups.sync_full`` task runs it)."""
    from contacts import sync as contacts_sync
    from groups.sync import groups_sync_execute

    with tenant_context(tenant):
        run = contacts_sync.sync_run_start(
            tenant=tenant, trigger="manual", enqueue=False, kind=SyncKind.GROUPS
        )
        claimed = contacts_sync.sync_run_claim(run.pk)
        assert claimed is not None, "a groups run of this tenant is already running"
        return groups_sync_execute(claimed, api=api)


def group_build(
    tenant,
    *,
    owner: Staff | str | None = None,
    name: str = "",
    members: Iterable[tuple] = (),
    chat_id: str | None = None,
    status: str = GroupStatus.NORMAL,
    **fields: Any,
) -> Group:
    """A group of ``tenant`` with these members (see the module's docstring); counts are derived."""
    with tenant_context(tenant):
        if isinstance(owner, str):
            owner = Staff.objects.filter(userid=owner).first() or Staff.objects.create(
                userid=owner, name=owner.title(), has_contact_permission=True
            )
        number = next(_seq)
        now = timezone.now()
        fields.setdefault("wecom_created_at", now - dt.timedelta(days=30))
        fields.setdefault("member_version", f"v{number:031d}")
        fields.setdefault("synced_at", now)
        group = Group.objects.create(
            chat_id=chat_id or f"wrtest{number:024d}",
            name=name or f"Group {number}",
            owner=owner,
            status=status,
            dismissed_at=now if status == GroupStatus.DISMISSED else None,
            **fields,
        )
        rows = []
        for member in members:
            userid, type_, extra = (*member, {})[:3]
            values = {
                "joined_at": now - dt.timedelta(days=7),
                "join_scene": 1,
                "name": userid,
                **extra,
            }
            rows.append(GroupMember(group=group, userid=userid, type=_TYPES[type_], **values))
        GroupMember.objects.bulk_create(rows)
        current = [row for row in rows if row.left_at is None]
        group.member_count = len(current)
        group.customer_count = sum(1 for row in current if row.type == MemberType.CUSTOMER)
        group.save(update_fields=["member_count", "customer_count"])
        return group


@pytest.fixture
def build_group(tenant_a) -> Callable[..., Group]:
    """``build_group(tenant=tenant_a, owner=, name=, members=[(userid, type)...], **Group fields)``."""

    def make(*, tenant=None, **kwargs: Any) -> Group:
        return group_build(tenant or tenant_a, **kwargs)

    return make


def sandbox_lag(server) -> float:
    """How far behind a change the sandbox's groupchat/get answers (WeCom settles details late)."""
    from scrm.wecom.sandbox.endpoint_helpers import setting
    from scrm.wecom.sandbox.endpoints_groups import SETTINGS

    return setting(server.state, SETTINGS, "get_lag_seconds")


@pytest.fixture
def wecom_settles(sandbox, time_machine) -> Callable[[], None]:  # noqa: F811 -- the imported fixture
    """``wecom_settles()``: move the clock (not sleep) past the sandbox's groupchat/get lag, so that
    the changes simulated so far show in WeCom's group details. The clock keeps ticking."""

    def settle() -> None:
        time_machine.move_to(time.time() + sandbox_lag(sandbox) + 1, tick=True)

    return settle


@pytest.fixture
def refreshes_run(time_machine) -> Callable[..., int]:
    """``refreshes_run(tenant)``: the groups' pending refreshes (``groups.refresh``) run as their tasks
    would, the clock moved to each one's due time (not slept), until none is left; returns the reads.

    Under eager Celery a refresh's own message runs at once, before it is due, and does nothing."""
    from groups.models import GroupRefresh
    from groups.services.refresh import REFRESH_DELAYS
    from groups.tasks.sync import refresh

    def run(tenant) -> int:
        reads = 0
        for _ in range(len(REFRESH_DELAYS) + 1):
            with tenant_context(tenant):
                due = dict(GroupRefresh.objects.values_list("chat_id", "due_at"))
            if not due:
                break
            time_machine.move_to(max([*due.values(), timezone.now()]), tick=True)
            for chat_id in due:
                refresh.run(tenant.pk, chat_id)
                reads += 1
        return reads

    return run


@pytest.fixture
def groups_sync() -> Callable[..., SyncRun]:
    """``groups_sync(tenant)``: a full groups sync in the foreground, returning its finished run."""
    return run_groups_sync


@pytest.fixture
def synced(connected, sandbox):  # noqa: F811 -- the imported fixtures
    """Tenant A after a contacts sync and then a groups sync of the default small sandbox."""
    contacts_run = run_sync(connected)
    assert contacts_run.status == "succeeded", contacts_run.errors
    groups_run = run_groups_sync(connected)
    assert groups_run.status == "succeeded", groups_run.errors
    return connected
