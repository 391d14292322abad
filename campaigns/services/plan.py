"""Planning a campaign: who receives it from which member, who does not and why, and the WeCom tasks.

One function answers both the preview and the dispatch (``plan_build``), so what the preview says is
what is sent: ``campaign_plan_write`` writes exactly the plan it builds.

Rules (docs/campaigns.md):

- **One sender per customer.** Among the members with an active follow of the customer who can send
  (an active member with the customer-contact permission), the one who added the customer first, or
  last (the tenant's ``sender_rule``), by ``Follow.added_at`` (then the follow's id); never two. A group
  is sent by its owner.
- **Left out, and counted**, in this order (a recipient has one reason): on the do-not-disturb list;
  no member who can send; at WeCom's receive limit in the period of the send time; at the tenant's
  marketing cap (``caps``). Lost customers and dismissed groups are not part of the audience at all
  (counted apart, as ``lost`` / ``dismissed``).
- **Tasks** of at most 10,000 customers or 2,000 groups per member: a member with more gets several
  (chunks 0, 1, ...), recipients in id order.

Set-based: the audience, the chosen senders (a window function over the follows), the
do-not-disturb entries and the cap counts are a handful of queries whatever the audience's size; rows
are written with COPY on PostgreSQL (bulk inserts elsewhere).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from django.db import connection, transaction
from django.db.models import F, Window
from django.db.models.functions import RowNumber
from django.utils import timezone

from contacts.models import Contact, ContactStatus, Follow, FollowStatus, Staff
from groups.models import GroupStatus
from scrm.tenancy.context import require_current_tenant

from ..models import (
    Campaign,
    CampaignRecipient,
    CampaignTask,
    ChatType,
    DoNotDisturb,
    RecipientStatus,
    SenderRule,
)
from . import caps
from .audience import audience_contacts, audience_groups
from .settings import campaign_settings_get

# add_msg_template takes at most 10,000 external_userid, or 2,000 chat_id (wecom-api.md §7).
SINGLE_CHUNK_SIZE = 10_000
GROUP_CHUNK_SIZE = 2_000
SAMPLE_PER_REASON = 10
INSERT_BATCH = 5_000

DND = "dnd"
NO_SENDER = "no_sender"
# Why a recipient is left out, in the order the reasons are applied, and the status it is written with.
SKIP_STATUSES = {
    DND: RecipientStatus.SKIPPED_DND.value,
    NO_SENDER: RecipientStatus.SKIPPED_NO_SENDER.value,
    caps.RECEIVE_LIMIT: RecipientStatus.SKIPPED_LIMIT.value,
    caps.MARKETING_CAP: RecipientStatus.SKIPPED_CAP.value,
}
# Plain strings: a plan of 100,000 recipients reads them 100,000 times.
PLANNED = RecipientStatus.PLANNED.value


class PlannedRecipient(NamedTuple):
    target: str  # external_userid or chat_id
    contact_id: int | None
    group_id: int | None
    staff_id: int | None  # the sender; None when skipped
    chunk: int | None
    reason: str | None  # None: planned; else a key of SKIP_STATUSES
    status: str  # the row's RecipientStatus


class PlannedTask(NamedTuple):
    staff_id: int
    chunk: int
    recipients: int


@dataclass
class Plan:
    chat_type: str
    rules: caps.CapRules
    sender_rule: str
    audience: dict[str, Any]
    recipients: list[PlannedRecipient]  # the whole audience, planned or skipped, in id order
    tasks: list[PlannedTask]
    staff: dict[int, dict[str, Any]]  # the senders: id → {id, userid, name}
    lost: int = 0  # single: matching customers no member follows any more
    dismissed: int = 0  # group: matching groups that were dismissed
    at_risk: int = 0
    sample_names: dict[int, str] = field(default_factory=dict)  # contact or group id → name

    @property
    def at(self) -> dt.datetime:
        return self.rules.at

    @property
    def audience_total(self) -> int:
        return len(self.recipients)

    @property
    def will_receive(self) -> int:
        return sum(task.recipients for task in self.tasks)

    @property
    def skipped(self) -> dict[str, int]:
        counts = dict.fromkeys(SKIP_STATUSES, 0)
        for recipient in self.recipients:
            if recipient.reason is not None:
                counts[recipient.reason] += 1
        return counts

    def per_member(self) -> list[dict[str, Any]]:
        shares: dict[int, dict[str, int]] = defaultdict(lambda: {"recipients": 0, "tasks": 0})
        for task in self.tasks:
            shares[task.staff_id]["recipients"] += task.recipients
            shares[task.staff_id]["tasks"] += 1
        rows = [{"staff": self.staff[staff_id], **share} for staff_id, share in shares.items()]
        return sorted(rows, key=lambda row: (-row["recipients"], row["staff"]["id"]))

    def skipped_sample(self) -> list[dict[str, Any]]:
        """A few of the skipped recipients per reason, for the preview's table."""
        taken: dict[str, int] = defaultdict(int)
        sample = []
        for recipient in self.recipients:
            if recipient.reason is None or taken[recipient.reason] >= SAMPLE_PER_REASON:
                continue
            taken[recipient.reason] += 1
            own_id = recipient.contact_id or recipient.group_id
            sample.append(
                {
                    "target": recipient.target,
                    "contact_id": recipient.contact_id,
                    "group_id": recipient.group_id,
                    "name": self.sample_names.get(own_id, ""),
                    "reason": recipient.reason,
                }
            )
        return sample

    def figures(self) -> dict[str, Any]:
        """What the preview shows and the campaign keeps (``Campaign.plan``): JSON only."""
        return {
            "chat_type": self.chat_type,
            "audience": self.audience,
            "rules": {**self.rules.as_dict(), "sender_rule": self.sender_rule},
            "audience_total": self.audience_total,
            "lost": self.lost,
            "dismissed": self.dismissed,
            "will_receive": self.will_receive,
            "members": len({task.staff_id for task in self.tasks}),
            "tasks": len(self.tasks),
            "skipped": self.skipped,
            "at_risk": self.at_risk,
            "per_member": self.per_member(),
            "skipped_sample": self.skipped_sample(),
        }


# -- building -------------------------------------------------------------------------------------


def _senders(audience, *, rule: str) -> dict[int, int]:
    """contact id → the staff id who sends to it: one window function over the audience's follows."""
    if rule == SenderRule.LATEST:
        order = [F("added_at").desc(nulls_last=True), F("id").desc()]
    else:
        order = [F("added_at").asc(nulls_last=True), F("id").asc()]
    chosen = (
        Follow.objects.filter(
            contact_id__in=audience.values("id"),
            status=FollowStatus.ACTIVE,
            staff__is_active=True,
            staff__has_contact_permission=True,
        )
        .annotate(rank=Window(RowNumber(), partition_by=[F("contact_id")], order_by=order))
        .filter(rank=1)
        .order_by()  # Follow's default ordering would sort the audience's follows twice for nothing
        .values_list("contact_id", "staff_id")
    )
    return dict(chosen)


def _assign(
    candidates: list[tuple[str, int, int | None, str | None]], *, chat_type: str, chunk_size: int
) -> tuple[list[PlannedRecipient], list[PlannedTask]]:
    """Recipients (target, own id, sender, reason) in id order → planned rows and per-member chunks."""
    counts: dict[int, int] = defaultdict(int)
    recipients = []
    single = chat_type == ChatType.SINGLE
    for target, own_id, staff_id, reason in candidates:
        chunk = None
        if reason is None:
            chunk = counts[staff_id] // chunk_size
            counts[staff_id] += 1
        recipients.append(
            PlannedRecipient(
                target=target,
                contact_id=own_id if single else None,
                group_id=None if single else own_id,
                staff_id=staff_id if reason is None else None,
                chunk=chunk,
                reason=reason,
                status=PLANNED if reason is None else SKIP_STATUSES[reason],
            )
        )
    tasks = [
        PlannedTask(staff_id=staff_id, chunk=chunk, recipients=min(chunk_size, total - chunk * chunk_size))
        for staff_id, total in sorted(counts.items())
        for chunk in range((total + chunk_size - 1) // chunk_size)
    ]
    return recipients, tasks


def _reason(*, dnd: bool, sender: int | None, capped: str | None) -> str | None:
    if dnd:
        return DND
    if sender is None:
        return NO_SENDER
    return capped


def plan_build(*, tenant, chat_type: str, audience: dict, at: dt.datetime | None = None) -> Plan:
    """The plan of a campaign to ``audience`` (clean, see ``audience.audience_clean``) sent at ``at``
    (default now). Reads only. Raises ValidationError when the audience no longer resolves."""
    settings = campaign_settings_get(tenant=tenant)
    rules = caps.cap_rules(tenant=tenant, at=at or timezone.now(), settings=settings)
    if chat_type == ChatType.SINGLE:
        return _single_plan(tenant, audience, rules, settings.sender_rule)
    return _group_plan(tenant, audience, rules, settings.sender_rule)


def _single_plan(tenant, audience: dict, rules: caps.CapRules, sender_rule: str) -> Plan:
    matching = audience_contacts(tenant=tenant, audience=audience)
    rows = list(matching.order_by("id").values_list("id", "external_userid", "status"))
    live = matching.filter(status=ContactStatus.ACTIVE)
    senders = _senders(live, rule=sender_rule)
    dnd = set(
        DoNotDisturb.objects.filter(contact_id__in=live.values("id")).values_list("contact_id", flat=True)
    )
    check = caps.caps_check(tenant=tenant, targets=live.values("external_userid"), rules=rules)
    candidates = []
    for pk, target, status in rows:
        if status != ContactStatus.ACTIVE:
            continue
        sender = senders.get(pk)
        reason = _reason(dnd=pk in dnd, sender=sender, capped=check.blocked.get(target))
        candidates.append((target, pk, sender, reason))
    recipients, tasks = _assign(candidates, chat_type=ChatType.SINGLE, chunk_size=SINGLE_CHUNK_SIZE)
    plan = Plan(
        chat_type=ChatType.SINGLE,
        rules=rules,
        sender_rule=sender_rule,
        audience=audience,
        recipients=recipients,
        tasks=tasks,
        staff=_staff({t.staff_id for t in tasks}),
        lost=len(rows) - len(candidates),
        at_risk=sum(1 for r in recipients if r.reason is None and r.target in check.at_risk),
    )
    sample_ids = {s["contact_id"] for s in plan.skipped_sample()}
    plan.sample_names = (
        dict(Contact.objects.filter(pk__in=sample_ids).values_list("id", "name")) if sample_ids else {}
    )
    return plan


def _group_plan(tenant, audience: dict, rules: caps.CapRules, sender_rule: str) -> Plan:
    columns = (
        "id",
        "chat_id",
        "name",
        "status",
        "owner_id",
        "owner__is_active",
        "owner__has_contact_permission",
    )
    rows = list(audience_groups(audience=audience).order_by("id").values_list(*columns))
    live = [row for row in rows if row[3] != GroupStatus.DISMISSED]
    check = caps.caps_check(tenant=tenant, targets=[row[1] for row in live], rules=rules)
    candidates = []
    for pk, chat_id, _name, _status, owner_id, active, permitted in live:
        sender = owner_id if owner_id is not None and active and permitted else None
        candidates.append(
            (chat_id, pk, sender, _reason(dnd=False, sender=sender, capped=check.blocked.get(chat_id)))
        )
    recipients, tasks = _assign(candidates, chat_type=ChatType.GROUP, chunk_size=GROUP_CHUNK_SIZE)
    return Plan(
        chat_type=ChatType.GROUP,
        rules=rules,
        sender_rule=sender_rule,
        audience=audience,
        recipients=recipients,
        tasks=tasks,
        staff=_staff({t.staff_id for t in tasks}),
        dismissed=len(rows) - len(live),
        at_risk=sum(1 for r in recipients if r.reason is None and r.target in check.at_risk),
        sample_names={row[0]: row[2] for row in live},
    )


def _staff(ids: set[int]) -> dict[int, dict[str, Any]]:
    if not ids:
        return {}
    return {s["id"]: s for s in Staff.objects.filter(pk__in=ids).values("id", "userid", "name")}


# -- writing --------------------------------------------------------------------------------------

RECIPIENT_COLUMNS = ("tenant_id", "campaign_id", "task_id", "contact_id", "group_id", "target", "status")


def _recipients_insert(rows: list[tuple]) -> None:
    """COPY on PostgreSQL (a campaign of 100,000 customers writes 100,000 rows), bulk INSERT elsewhere."""
    if connection.vendor != "postgresql":
        CampaignRecipient.objects.bulk_create(
            (CampaignRecipient(**dict(zip(RECIPIENT_COLUMNS, row, strict=True))) for row in rows),
            batch_size=INSERT_BATCH,
        )
        return
    columns = ", ".join(connection.ops.quote_name(c) for c in RECIPIENT_COLUMNS)
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY {CampaignRecipient._meta.db_table} ({columns}) FROM STDIN") as copy,
    ):
        for row in rows:
            copy.write_row(row)


def campaign_plan_write(*, campaign: Campaign) -> None:
    """Plan ``campaign`` now (at its scheduled time, or now when it has none) and write its tasks
    (pending) and a recipient row per audience member, planned or skipped; freeze the plan's figures
    in ``campaign.plan`` and its totals. Idempotent: a campaign that has its rows keeps them.

    Raises ValidationError when the audience no longer resolves (the caller fails the campaign).
    """
    tenant = require_current_tenant()
    with transaction.atomic():
        # The row lock makes a second writer (a retried worker) wait, then find the rows and stop.
        locked = Campaign.objects.select_for_update().get(pk=campaign.pk)
        if (
            CampaignTask.objects.filter(campaign=locked).exists()
            or CampaignRecipient.objects.filter(campaign=locked).exists()
        ):
            return
        at = locked.scheduled_at if locked.scheduled_at and locked.scheduled_at > timezone.now() else None
        plan = plan_build(tenant=tenant, chat_type=locked.chat_type, audience=locked.audience, at=at)
        CampaignTask.objects.bulk_create(
            CampaignTask(campaign=locked, staff_id=t.staff_id, chunk=t.chunk, recipients=t.recipients)
            for t in plan.tasks
        )
        written = CampaignTask.objects.filter(campaign=locked).values_list("id", "staff_id", "chunk")
        task_ids = {(staff_id, chunk): pk for pk, staff_id, chunk in written}
        _recipients_insert(
            [
                (
                    tenant.pk,
                    locked.pk,
                    task_ids[(r.staff_id, r.chunk)] if r.reason is None else None,
                    r.contact_id,
                    r.group_id,
                    r.target,
                    r.status,
                )
                for r in plan.recipients
            ]
        )
        figures = plan.figures()
        Campaign.objects.filter(pk=locked.pk).update(
            plan=figures,
            members=figures["members"],
            tasks=figures["tasks"],
            recipients=figures["will_receive"],
        )
    campaign.refresh_from_db()
