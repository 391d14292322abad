"""Local contacts data for tests that do not need WeCom: staff, tags, contacts with follows.

Rows are made through the models and then ``contacts_refresh`` derives facets/status, exactly as
sync and the services do, so filters see what they would see in production.
"""

from __future__ import annotations

import datetime as dt
import itertools

from django.utils import timezone

from contacts import sync
from contacts.facets import contacts_refresh
from contacts.models import Contact, Department, Follow, FollowStatus, Staff, Stage, SyncRun, Tag, TagGroup
from scrm.tenancy.context import tenant_context

_seq = itertools.count(1)


class Builder:
    def __init__(self, tenant):
        self.tenant = tenant

    def department(self, wecom_id: int, name: str = "", parent: int = 1) -> Department:
        with tenant_context(self.tenant):
            return Department.objects.create(
                wecom_id=wecom_id, name=name or f"D{wecom_id}", parent_wecom_id=parent
            )

    def staff(self, userid: str, name: str = "", departments=(1,), **kwargs) -> Staff:
        with tenant_context(self.tenant):
            return Staff.objects.create(
                userid=userid,
                name=name or userid.title(),
                department_ids=list(departments),
                has_contact_permission=True,
                **kwargs,
            )

    def tag_group(self, name: str = "", **kwargs) -> TagGroup:
        with tenant_context(self.tenant):
            return TagGroup.objects.create(
                wecom_id=f"etg{next(_seq)}", name=name or f"Group {next(_seq)}", **kwargs
            )

    def tag(self, name: str, group: TagGroup | None = None, **kwargs) -> Tag:
        group = group or self.tag_group()
        with tenant_context(self.tenant):
            return Tag.objects.create(group=group, wecom_id=f"et{next(_seq)}", name=name, **kwargs)

    def stage(self, name: str, order: int = 0) -> Stage:
        with tenant_context(self.tenant):
            return Stage.objects.create(name=name, order=order)

    def contact(
        self,
        name: str = "",
        *,
        staff: Staff | list[Staff] | None = None,
        tags: list[Tag] = (),
        state: str = "",
        add_way: int = 1,
        remark: str = "",
        mobiles: list[str] = (),
        added_at: dt.datetime | None = None,
        follow_status: str = FollowStatus.ACTIVE,
        **kwargs,
    ) -> Contact:
        """A customer followed by ``staff`` (one or several), with these corp tags on each follow."""
        members = staff if isinstance(staff, list) else [staff] if staff else []
        added_at = added_at or timezone.now() - dt.timedelta(days=3)
        with tenant_context(self.tenant):
            contact = Contact.objects.create(
                external_userid=kwargs.pop("external_userid", f"wm{next(_seq):030d}"),
                name=name or f"Customer {next(_seq)}",
                **kwargs,
            )
            for member in members:
                Follow.objects.create(
                    contact=contact,
                    staff=member,
                    tag_ids=sorted(t.wecom_id for t in tags),
                    state=state,
                    add_way=add_way,
                    remark=remark,
                    remark_mobiles=list(mobiles),
                    added_at=added_at,
                    status=follow_status,
                    ended_at=None if follow_status == FollowStatus.ACTIVE else timezone.now(),
                )
            contacts_refresh([contact.pk])
            contact.refresh_from_db()
            return contact


def run_sync(tenant) -> SyncRun:
    """A full sync of ``tenant`` in the foreground, as ``sync_tenant`` runs it."""
    with tenant_context(tenant):
        run = sync.sync_run_start(tenant=tenant, trigger="manual", enqueue=False)
        return sync.sync_run_execute(sync.sync_run_claim(run.pk))
