"""The demo tenant's SOPs: made once the first sync brought the customers, live, with the demo
salesperson's recent customers inside; made once."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from contacts.models import SyncKind, SyncRun
from scrm.durable import RunStatus
from scrm.tenancy.context import tenant_context
from scrm.tenancy.models import Membership
from sop.models import EnrolmentStatus, Sop, SopEnrolment, SopKind, SopStatus
from sop.services.demo import demo_sop_seed


def test_demo_sops_wait_for_the_first_sync_then_are_made_once(tenant_a, bob, build_a):
    seller, other = build_a.staff("seller"), build_a.staff("other")
    with tenant_context(tenant_a):
        Membership.objects.filter(user=bob).update(wecom_userid="seller")
    recent = [
        build_a.contact(f"new {i}", staff=seller, added_at=timezone.now() - dt.timedelta(days=1))
        for i in range(3)
    ]
    # Not enrolled: added too long ago, and another member's.
    build_a.contact("old", staff=seller, added_at=timezone.now() - dt.timedelta(days=30))
    build_a.contact("theirs", staff=other)

    assert demo_sop_seed(tenant=tenant_a) is None  # no sync yet: the caller tries again later
    with tenant_context(tenant_a):
        SyncRun.objects.create(kind=SyncKind.CONTACTS, status=RunStatus.SUCCEEDED, trigger="seed")
    summary = demo_sop_seed(tenant=tenant_a)
    assert summary["enrolled"]["enrolled"] == 3
    with tenant_context(tenant_a):
        sops = {sop.kind: sop for sop in Sop.objects.all()}
        assert {kind: sop.status for kind, sop in sops.items()} == {
            SopKind.CUSTOMER: SopStatus.LIVE,
            SopKind.GROUP: SopStatus.LIVE,
        }
        steps = [step["id"] for step in sops[SopKind.CUSTOMER].live_version.definition["steps"]]
        assert steps[:2] == ["welcome", "welcome-task"]  # the mass-message task the sandbox confirms
        enrolled = set(
            SopEnrolment.objects.filter(status=EnrolmentStatus.ACTIVE).values_list("contact_id", flat=True)
        )
    assert enrolled == {c.pk for c in recent}

    assert demo_sop_seed(tenant=tenant_a) == {"skipped": True}
    with tenant_context(tenant_a):
        assert Sop.objects.count() == 2
