"""Mass messages (群发) to customers and to customer groups, and the frequency caps every sender obeys.

A campaign is planned into one WeCom task per (member, chunk): each recipient is sent by exactly one
member, a chunk holds at most 10,000 customers or 2,000 groups (wecom-api.md §7). Every recipient is a
row with what became of it (planned, skipped and why, sent, not a friend, over the receive limit), so
the preview, the results page and the export read the same table. ``Touch`` is the ledger the
frequency-cap service counts: our sends, member-made mass messages read back from WeCom, and (later)
the SOP and Moments touches.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from scrm.durable import DurableWork
from scrm.tenancy.models import TenantModel


class ReceiveLimit(models.TextChoices):
    """WeCom's receive limit per customer (and per group), corp-made and member-made together."""

    MONTH = "month", "As many per calendar month as the month has days"
    WEEK = "week", "7 per week"
    DAY = "day", "1 per day"


class SenderRule(models.TextChoices):
    """Who sends to a customer several members follow: never more than one of them."""

    FIRST = "first", "The member who added the customer first"
    LATEST = "latest", "The member who added the customer last"


class CampaignSettings(TenantModel):
    """Per-tenant rules for campaigns (one row per tenant, made on first read)."""

    receive_limit = models.CharField(max_length=8, choices=ReceiveLimit.choices, default=ReceiveLimit.MONTH)
    sender_rule = models.CharField(max_length=8, choices=SenderRule.choices, default=SenderRule.FIRST)
    # The tenant's own, stricter cap on marketing touches per customer per week (mass messages, SOP
    # messages, Moments reminders...); None: only WeCom's receive limit applies.
    marketing_cap_per_week = models.PositiveSmallIntegerField(null=True, blank=True)
    # IANA name; scheduled sends, "today" and "this week" for the caps are in this zone.
    time_zone = models.CharField(max_length=64, default="Asia/Shanghai")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta(TenantModel.Meta):
        constraints = [models.UniqueConstraint(fields=["tenant"], name="campaignsettings_one_per_tenant")]


class DoNotDisturb(TenantModel):
    """A customer the tenant never sends marketing to (asked to be left alone, a complaint, a VIP...)."""

    contact = models.ForeignKey("contacts.Contact", on_delete=models.CASCADE, related_name="+")
    reason = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by_api_key = models.ForeignKey(
        "tenancy.ApiKey", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(TenantModel.Meta):
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "contact"], name="donotdisturb_unique_contact")
        ]


class ChatType(models.TextChoices):
    SINGLE = "single", "Customers"
    GROUP = "group", "Customer groups"


class CampaignStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    SCHEDULED = "scheduled", "Scheduled"
    DISPATCHING = "dispatching", "Creating the WeCom tasks"
    SENT = "sent", "Tasks created; collecting results"
    CLOSED = "closed", "Closed"
    CANCELLED = "cancelled", "Cancelled"
    FAILED = "failed", "Failed"


class Campaign(TenantModel):
    """One mass message: its audience, its content, when, and the totals of what became of it."""

    name = models.CharField(max_length=100)
    chat_type = models.CharField(max_length=8, choices=ChatType.choices, default=ChatType.SINGLE)
    status = models.CharField(max_length=16, choices=CampaignStatus.choices, default=CampaignStatus.DRAFT)
    # single: {"segment_id": N} or {"filters": {...the contacts list's filter language...}};
    # group: {"owner_ids": [...], "tag_ids": [...], "name": "..."} (customer groups' filter).
    audience = models.JSONField(default=dict)
    text = models.TextField(blank=True)
    attachments = models.JSONField(default=list, blank=True)  # [{"material_id": N}], ≤ 9, library materials
    scheduled_at = models.DateTimeField(null=True, blank=True)  # None: as soon as it is sent
    # What the plan said when the tasks were made (the preview's figures, frozen).
    plan = models.JSONField(default=dict, blank=True)
    # Totals, kept by the dispatch and the results poll (the list and the results page read these).
    members = models.PositiveIntegerField(default=0)
    tasks = models.PositiveIntegerField(default=0)
    recipients = models.PositiveIntegerField(default=0)
    confirmed_members = models.PositiveIntegerField(default=0)
    sent = models.PositiveIntegerField(default=0)
    not_friend = models.PositiveIntegerField(default=0)
    over_limit = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)  # WeCom's fail_list and refused tasks
    # Results polling: due in the database (claimed by the beat tick), never a broker ETA.
    next_poll_at = models.DateTimeField(null=True, blank=True)
    polls = models.PositiveIntegerField(default=0)
    last_polled_at = models.DateTimeField(null=True, blank=True)
    dispatched_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    idempotency_key = models.CharField(max_length=128, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by_api_key = models.ForeignKey(
        "tenancy.ApiKey", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta(TenantModel.Meta):
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "idempotency_key"],
                condition=~models.Q(idempotency_key=""),
                name="campaign_unique_idempotency_key",
            ),
        ]
        indexes = [
            models.Index(fields=["tenant", "-id"], name="campaign_tenant_id"),
            models.Index(fields=["tenant", "status", "scheduled_at"], name="campaign_tenant_due"),
            # The beat ticks look across tenants for what is due.
            models.Index(
                fields=["next_poll_at"],
                condition=models.Q(next_poll_at__isnull=False),
                name="campaign_poll_due",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Dispatch(DurableWork, TenantModel):
    """Creating a campaign's WeCom tasks: durable work (scrm.durable), resumable after a worker dies."""

    campaign = models.OneToOneField(Campaign, on_delete=models.CASCADE, related_name="dispatch")
    done = models.PositiveIntegerField(default=0)  # tasks created (or refused) so far
    total = models.PositiveIntegerField(default=0)
    api_calls = models.PositiveIntegerField(default=0)

    class Meta(TenantModel.Meta):
        constraints = [
            models.UniqueConstraint(fields=["tenant", "campaign"], name="dispatch_one_per_campaign")
        ]


class TaskStatus(models.TextChoices):
    PENDING = "pending", "Planned; not sent to WeCom yet"
    # Claimed before the WeCom call. A claimed task with no msgid after its worker died may or may not
    # exist in WeCom: it is reconciled (looked for in get_groupmsg_list_v2) before any new call.
    CLAIMED = "claimed", "Being created in WeCom"
    CREATED = "created", "Created in WeCom; waiting for the member"
    FAILED = "failed", "WeCom refused it"
    CANCELLED = "cancelled", "Cancelled"


class CampaignTask(TenantModel):
    """One member's share of a campaign, at most 10,000 customers or 2,000 groups: one WeCom msgid."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="task_rows")
    staff = models.ForeignKey("contacts.Staff", on_delete=models.PROTECT, related_name="+")
    chunk = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=16, choices=TaskStatus.choices, default=TaskStatus.PENDING)
    msgid = models.CharField(max_length=128, blank=True)
    # sha256 of what was sent (sender, text, attachments, recipients): how a task found in WeCom after a
    # lost answer is recognised as this one.
    fingerprint = models.CharField(max_length=64, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.JSONField(default=dict, blank=True)  # WeCom's errcode/errmsg when refused
    recipients = models.PositiveIntegerField(default=0)
    # What WeCom says about the member's task (get_groupmsg_task): confirmed (status 2) and when.
    confirmed_at = models.DateTimeField(null=True, blank=True)
    sent = models.PositiveIntegerField(default=0)
    not_friend = models.PositiveIntegerField(default=0)
    over_limit = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    result_cursor = models.CharField(max_length=256, blank=True)
    results_complete = models.BooleanField(default=False)
    reminded_at = models.JSONField(default=list, blank=True)  # ISO times of reminders (≤ 3 per 24 h)

    class Meta(TenantModel.Meta):
        ordering = ["campaign", "staff", "chunk"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "campaign", "staff", "chunk"], name="campaigntask_unique_chunk"
            ),
        ]
        indexes = [
            models.Index(fields=["tenant", "campaign", "status"], name="campaigntask_tenant_status"),
            models.Index(fields=["tenant", "msgid"], name="campaigntask_tenant_msgid"),
        ]


class RecipientStatus(models.TextChoices):
    PLANNED = "planned", "In a task; the member has not sent it yet"
    SENT = "sent", "Sent"
    NOT_FRIEND = "not_friend", "Not a friend of the member any more"
    OVER_LIMIT = "over_limit", "Over WeCom's receive limit"
    FAILED = "failed", "Refused by WeCom (fail_list or a refused task)"
    CANCELLED = "cancelled", "Cancelled before it was sent"
    SKIPPED_LIMIT = "skipped_limit", "Skipped: already reached WeCom's receive limit"
    SKIPPED_CAP = "skipped_cap", "Skipped: reached the tenant's marketing cap"
    SKIPPED_DND = "skipped_dnd", "Skipped: on the do-not-disturb list"
    SKIPPED_NO_SENDER = "skipped_no_sender", "Skipped: no member who can send follows them"


class CampaignRecipient(TenantModel):
    """One customer (or group) of a campaign and what became of it; never two rows for one recipient."""

    # No index of their own on campaign and task: the tenant-led composites below serve every lookup,
    # and each extra index is one more write per status change (100,000 per campaign, none of them
    # HOT because the status is indexed). Only drafts are deleted, and they have no recipients yet.
    campaign = models.ForeignKey(
        Campaign, on_delete=models.CASCADE, related_name="recipient_rows", db_index=False
    )
    task = models.ForeignKey(
        CampaignTask, null=True, blank=True, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    contact = models.ForeignKey(
        "contacts.Contact", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    group = models.ForeignKey(
        "groups.Group", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    target = models.CharField(max_length=64)  # external_userid or chat_id, as WeCom names it
    status = models.CharField(max_length=20, choices=RecipientStatus.choices, default=RecipientStatus.PLANNED)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta(TenantModel.Meta):
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "campaign", "target"], name="campaignrecipient_unique_target"
            ),
        ]
        indexes = [
            models.Index(fields=["tenant", "campaign", "status"], name="campaignrecipient_status"),
            models.Index(fields=["tenant", "task", "status"], name="campaignrecipient_task"),
        ]


class TouchKind(models.TextChoices):
    MASS_MESSAGE = "mass_message", "A mass message of ours"
    MEMBER_MASS_MESSAGE = "member_mass_message", "A mass message a member made in WeCom"
    SOP = "sop", "An SOP reminder (the member sends it one to one)"
    SOP_MASS_MESSAGE = "sop_mass_message", "An SOP mass-message task"
    MOMENT = "moment", "A Moments reminder"


# The kinds WeCom's receive limit counts (mass messages, whoever made them: an SOP's task for a member
# is an add_msg_template like a campaign's).
RECEIVE_LIMIT_KINDS = (TouchKind.MASS_MESSAGE, TouchKind.MEMBER_MASS_MESSAGE, TouchKind.SOP_MASS_MESSAGE)


class Touch(TenantModel):
    """One marketing touch of one customer or group: what the frequency-cap service counts."""

    target = models.CharField(max_length=64)  # external_userid or chat_id
    kind = models.CharField(max_length=24, choices=TouchKind.choices)
    source = models.CharField(max_length=128)  # the msgid (or SOP step, Moment) it came from
    at = models.DateTimeField()

    class Meta(TenantModel.Meta):
        constraints = [
            # Re-reading WeCom's results never counts one touch twice.
            models.UniqueConstraint(fields=["tenant", "source", "target"], name="touch_unique_source_target"),
        ]
        indexes = [models.Index(fields=["tenant", "target", "at"], name="touch_tenant_target_at")]


class MemberMessage(TenantModel):
    """A mass message a member made in the WeCom app, read back (get_groupmsg_list_v2 filter_type=1) so
    its sends count against the receive limit like ours."""

    msgid = models.CharField(max_length=128)
    chat_type = models.CharField(max_length=8, choices=ChatType.choices)
    creator = models.CharField(max_length=64)  # the member's userid
    created_at_wecom = models.DateTimeField()
    results_complete = models.BooleanField(default=False)
    read_at = models.DateTimeField(auto_now_add=True)

    class Meta(TenantModel.Meta):
        constraints = [models.UniqueConstraint(fields=["tenant", "msgid"], name="membermessage_unique_msgid")]
        indexes = [
            models.Index(fields=["tenant", "results_complete", "created_at_wecom"], name="membermessage_open")
        ]
