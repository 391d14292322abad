"""Churn (流失) alerts: a customer deleted a staff member.

The follow is closed and the LOST event written by the handler; this module tells people. In-app
notifications go to the tenant's admins and to the members who lead one of the staff member's
departments (their managers), written in the handler's transaction. The optional WeCom app message
to the staff member is sent after commit by a task, so a slow or failing WeCom never holds the event.
"""

from __future__ import annotations

from django.db.models import Q

from scrm.tenancy.models import Membership, Role

from ..models import Follow, Notification, Staff
from .settings import contact_settings_get

CHURN = "churn"


def churn_recipient_ids(*, staff: Staff) -> list[int]:
    """User ids of the tenant's admins and of the members leading one of the staff member's departments."""
    departments = set(staff.department_ids or ())
    # Leaders are few (a handful per department), so filtering them in Python keeps one code path
    # for PostgreSQL and SQLite, which has no JSON containment lookup.
    managers = [
        leader.userid
        for leader in Staff.objects.exclude(leader_department_ids=[])
        .exclude(pk=staff.pk)
        .only("userid", "leader_department_ids")
        if departments & set(leader.leader_department_ids)
    ]
    members = Membership.objects.filter(Q(role=Role.ADMIN) | Q(wecom_userid__in=managers))
    return sorted(set(members.values_list("user_id", flat=True)))


def churn_notify(*, follow: Follow) -> int:
    """Notify about a lost follow; returns how many in-app notifications were written."""
    contact, staff = follow.contact, follow.staff
    days = (follow.ended_at - follow.added_at).days if follow.ended_at and follow.added_at else None
    data = {
        "follow_id": follow.pk,
        "staff_userid": staff.userid,
        "staff_name": staff.name,
        "contact_name": contact.name,
        "channel": follow.state,
        "days_followed": days,
    }
    title = f"{contact.name or contact.external_userid} deleted {staff.name or staff.userid}"
    body = f"Customer of {staff.name or staff.userid} for {days} days." if days is not None else ""
    notifications = [
        Notification(recipient_id=user_id, kind=CHURN, title=title, body=body, contact=contact, data=data)
        for user_id in churn_recipient_ids(staff=staff)
    ]
    Notification.objects.bulk_create(notifications)
    if contact_settings_get(tenant=follow.tenant).churn_app_message and follow.tenant.agent_id:
        from ..tasks.churn import send_churn_app_message

        send_churn_app_message.delay_on_commit(follow.tenant_id, follow.pk)
    return len(notifications)


def churn_app_message_text(*, follow: Follow) -> str:
    contact = follow.contact
    name = follow.remark or contact.name or contact.external_userid
    return f"客户「{name}」已将你删除（流失）。可在思域的流失客户列表查看详情。"


def notifications_mark_read(*, user, ids: list[int] | None = None) -> int:
    """Mark the user's notifications read (these ids, or all); returns how many changed."""
    from django.utils import timezone

    unread = Notification.objects.filter(recipient=user, read_at__isnull=True)
    if ids is not None:
        unread = unread.filter(id__in=ids)
    return unread.update(read_at=timezone.now())
