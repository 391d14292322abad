"""Reads of the campaigns app, with the data scope applied once (DESIGN.md §3).

Admins and operators run campaigns and see all of them. A sales member sees the campaigns in which it
has a task (its WeCom userid sends some of it), and in them only its own tasks and recipients; a
sales API key belongs to no member and sees none.
"""

from __future__ import annotations

import datetime as dt

from django.db.models import Exists, OuterRef, Q, QuerySet

from scrm.tenancy.models import Role
from scrm.tenancy.principal import Principal

from .models import Campaign, CampaignRecipient, CampaignStatus, CampaignTask, DoNotDisturb, TaskStatus
from .services.results import task_reminders_left


def runs_campaigns(principal: Principal) -> bool:
    return principal.role in (Role.ADMIN, Role.OPERATOR)


def _own_tasks_q(principal: Principal, *, staff: str = "staff") -> Q:
    if runs_campaigns(principal):
        return Q()
    if not principal.wecom_userid:
        return Q(pk__in=[])
    return Q(**{f"{staff}__userid": principal.wecom_userid})


def campaigns_visible(principal: Principal) -> QuerySet[Campaign]:
    campaigns = Campaign.objects.all()
    if runs_campaigns(principal):
        return campaigns
    if not principal.wecom_userid:
        return campaigns.none()
    mine = CampaignTask.objects.filter(campaign=OuterRef("pk"), staff__userid=principal.wecom_userid)
    return campaigns.filter(Exists(mine))


def campaign_list(principal: Principal) -> QuerySet[Campaign]:
    """The campaigns ``principal`` may see, newest first, with what the list shows (one query a page)."""
    return (
        campaigns_visible(principal)
        .select_related("created_by", "created_by_api_key", "dispatch")
        .order_by("-id")
    )


def campaign_tasks(principal: Principal, campaign: Campaign) -> QuerySet[CampaignTask]:
    return (
        CampaignTask.objects.filter(_own_tasks_q(principal), campaign=campaign)
        .select_related("staff")
        .order_by("staff__name", "staff_id", "chunk")
    )


def campaign_recipients(
    principal: Principal, campaign: Campaign, *, statuses: list[str] = (), staff_ids: list[int] = ()
) -> QuerySet[CampaignRecipient]:
    recipients = CampaignRecipient.objects.filter(
        _own_tasks_q(principal, staff="task__staff"), campaign=campaign
    )
    if statuses:
        recipients = recipients.filter(status__in=statuses)
    if staff_ids:
        recipients = recipients.filter(task__staff_id__in=staff_ids)
    return recipients


def task_can_remind(task: CampaignTask, campaign: Campaign, *, now: dt.datetime | None = None) -> bool:
    """Whether a reminder would go out now: a created task its member has not sent, in a campaign still
    collecting results, with a reminder left of WeCom's 3 per 24 hours."""
    return (
        campaign.status == CampaignStatus.SENT
        and task.status == TaskStatus.CREATED
        and bool(task.msgid)
        and task.confirmed_at is None
        and task_reminders_left(task, now=now) > 0
    )


def dnd_list(*, search: str = "") -> QuerySet[DoNotDisturb]:
    entries = DoNotDisturb.objects.select_related("contact", "created_by", "created_by_api_key").order_by(
        "-id"
    )
    search = search.strip()
    if search:
        entries = entries.filter(
            Q(contact__name__icontains=search)
            | Q(contact__external_userid=search)
            | Q(reason__icontains=search)
        )
    return entries
