"""The demo tenant's SOPs: a new-customer nurture and a group morning post, live, with customers inside.

``make run`` queues ``sop.demo_seed`` (``seed_demo``); it tries again until the first contacts sync has
brought the customers, then makes, once:

- **新客户 7 天培育** from its template, with a mass-message step added to the first day so that the
  sandbox's members (who confirm mass messages by themselves in ``make run``) move customers through
  it: a customer who scans a channel code in the sandbox is added, enters at the next tick, its member
  gets a task and a reminder, and the WeCom task's confirmation marks the task done. The demo
  salesperson's customers added in the last week are enrolled at once, so "today's SOP tasks" is not
  empty on the first visit.
- **社群每日早安** from its template: every morning, each group owner gets one mass-message task for
  their groups.

Both are published by nobody (the system), like the demo's other seeds.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.utils import timezone

from contacts.models import Follow, FollowStatus, SyncKind, SyncRun
from scrm.durable import RunStatus
from scrm.tenancy.actors import SYSTEM
from scrm.tenancy.context import tenant_context
from scrm.tenancy.models import Membership, Tenant

from ..models import Sop
from ..templates import template_get
from .sops import sop_create, sop_enrol, sop_publish

logger = logging.getLogger(__name__)

NURTURE = "new_customer_nurture"
MORNING = "group_daily_morning"
# The demo salesperson's customers added this recently enter the nurture when the demo is seeded.
RECENT = dt.timedelta(days=7)
ENROL_MAX = 30
WELCOME_TASK = {
    "id": "welcome-task",
    "type": "action",
    "action": "mass_task",
    "title": "当天：发送新人礼",
    "text": "欢迎加入！送你一份新人礼：首单立减 20 元，7 天内有效。",
    "attachments": [],
}


def _nurture_draft() -> dict:
    draft = template_get(NURTURE).draft()
    steps = draft["steps"]
    at = next(i for i, step in enumerate(steps) if step["id"] == "welcome") + 1
    draft["steps"] = [*steps[:at], WELCOME_TASK, *steps[at:]]
    return draft


def demo_sop_seed(*, tenant: Tenant) -> dict | None:
    """The demo's two live SOPs (made once: a tenant that has them keeps them) and the first
    enrolments; None while the first contacts sync has not succeeded (the caller tries again)."""
    with tenant_context(tenant):
        if not SyncRun.objects.filter(kind=SyncKind.CONTACTS, status=RunStatus.SUCCEEDED).exists():
            return None
        if Sop.objects.filter(template__in=(NURTURE, MORNING)).exists():
            return {"skipped": True}
        nurture = sop_create(
            tenant=tenant,
            actor=SYSTEM,
            name=template_get(NURTURE).name,
            description=template_get(NURTURE).description,
            template=NURTURE,
            draft=_nurture_draft(),
        )
        sop_publish(sop=nurture, actor=SYSTEM)
        morning = template_get(MORNING)
        group_sop = sop_create(
            tenant=tenant, actor=SYSTEM, name=morning.name, description=morning.description, template=MORNING
        )
        sop_publish(sop=group_sop, actor=SYSTEM)
        nurture.refresh_from_db()
        userids = Membership.objects.exclude(wecom_userid="").values_list("wecom_userid", flat=True)
        recent = list(
            Follow.objects.filter(
                status=FollowStatus.ACTIVE,
                staff__userid__in=list(userids),
                added_at__gte=timezone.now() - RECENT,
            )
            .order_by("-added_at")
            .values_list("contact_id", flat=True)[:ENROL_MAX]
        )
        enrolled = sop_enrol(sop=nurture, actor=SYSTEM, contact_ids=recent) if recent else {"enrolled": 0}
    logger.info("demo: SOPs %s and %s live; %s customers enrolled", nurture.pk, group_sop.pk, enrolled)
    return {"nurture": nurture.pk, "group": group_sop.pk, "enrolled": enrolled}
