"""Customer group chats (客户群): the groups WeCom has, their members and their history, local group
tags, daily statistics, group codes (join ways), group welcome templates and owner transfers.

Members are never deleted: one ``GroupMember`` row is one stay in a group (joined → left), so a
customer who leaves and comes back has two rows and the join/leave history is the rows themselves.
Every constraint and index leads with ``tenant`` (DESIGN.md §3).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F
from django.db.models.functions import Coalesce

from contacts.models import Staff
from scrm.durable import RunStatus
from scrm.tenancy.models import TenantModel


class GroupStatus(models.TextChoices):
    # WeCom's status (groupchat/list status: 0 normal, 1 owner left, 2 inheriting, 3 inherited),
    # plus dismissed, which WeCom does not list at all (the group is gone from groupchat/list).
    NORMAL = "normal", "Normal"
    OWNER_RESIGNED = "owner_resigned", "Owner resigned"
    INHERITING = "inheriting", "Being inherited"
    INHERITED = "inherited", "Inherited"
    DISMISSED = "dismissed", "Dismissed"


WECOM_GROUP_STATUS = {
    0: GroupStatus.NORMAL,
    1: GroupStatus.OWNER_RESIGNED,
    2: GroupStatus.INHERITING,
    3: GroupStatus.INHERITED,
}


# The groups list's "created" order: WeCom's creation time (the sync sets it from create_time), Siyu's
# where WeCom gave none. Never null, as a cursor position must be; indexed as this very expression
# (below), so "newest first" reads an index rather than sorting every group of the tenant.
CREATED_SORT = Coalesce("wecom_created_at", "created_at")


class Group(TenantModel):
    chat_id = models.CharField(max_length=64)
    name = models.CharField(max_length=128, blank=True)
    owner = models.ForeignKey(Staff, null=True, blank=True, on_delete=models.SET_NULL, related_name="groups")
    notice = models.TextField(blank=True)
    admin_userids = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=16, choices=GroupStatus.choices, default=GroupStatus.NORMAL)
    # Derived from the current members (left_at null) whenever they change.
    member_count = models.PositiveIntegerField(default=0)
    customer_count = models.PositiveIntegerField(default=0)
    # WeCom's opaque version of the member list: an event or a re-read carrying the version stored
    # here changes nothing, which is how duplicates and stale re-reads are recognised.
    member_version = models.CharField(max_length=64, blank=True)
    wecom_created_at = models.DateTimeField(null=True, blank=True)
    dismissed_at = models.DateTimeField(null=True, blank=True)
    synced_at = models.DateTimeField(null=True, blank=True)  # the last groupchat/get applied
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta(TenantModel.Meta):
        ordering = ["-wecom_created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["tenant", "chat_id"], name="group_unique_chat_id")]
        indexes = [
            models.Index(fields=["tenant", "owner", "status"], name="group_tenant_owner"),
            # The list's default order (newest first) and its reverse.
            models.Index(F("tenant"), CREATED_SORT.desc(), F("id").desc(), name="group_tenant_created"),
            # The same order within a status (?status=dismissed).
            models.Index(
                F("tenant"),
                F("status"),
                CREATED_SORT.desc(),
                F("id").desc(),
                name="group_tenant_status_created",
            ),
        ]

    def __str__(self) -> str:
        return self.name or self.chat_id


class MemberType(models.TextChoices):
    STAFF = "staff", "Staff member"  # WeCom type 1
    CUSTOMER = "customer", "Customer"  # WeCom type 2 (external)


class JoinScene(models.IntegerChoices):
    UNKNOWN = 0, "Unknown"
    INVITED = 1, "Invited by a member"
    LINK = 2, "Invite link"
    QR = 3, "QR code"


class GroupMember(TenantModel):
    """One stay of one person in one group: joined at ``joined_at``, still there while ``left_at`` is null."""

    group = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="members")
    # Staff userid or external_userid. Not a key to Staff/Contact: a customer in a group need not be
    # anyone's customer (they scanned the group's QR code), and one who is added later is found by
    # this id without rewriting rows (index tenant, userid).
    userid = models.CharField(max_length=64)
    type = models.CharField(max_length=8, choices=MemberType.choices)
    name = models.CharField(max_length=128, blank=True)
    unionid = models.CharField(max_length=64, blank=True)
    group_nickname = models.CharField(max_length=128, blank=True)
    joined_at = models.DateTimeField(null=True, blank=True)
    join_scene = models.PositiveSmallIntegerField(choices=JoinScene.choices, default=JoinScene.UNKNOWN)
    inviter_userid = models.CharField(max_length=64, blank=True)
    state = models.CharField(max_length=30, blank=True)  # the group code's state it came through
    left_at = models.DateTimeField(null=True, blank=True)
    quit_scene = models.PositiveSmallIntegerField(null=True, blank=True)  # 0 left, 1 removed by staff
    updated_at = models.DateTimeField(auto_now=True)

    class Meta(TenantModel.Meta):
        ordering = ["joined_at", "id"]
        constraints = [
            # One current stay per person and group; past stays are kept beside it.
            models.UniqueConstraint(
                fields=["tenant", "group", "userid"],
                condition=models.Q(left_at__isnull=True),
                name="groupmember_one_current_stay",
            ),
        ]
        indexes = [
            models.Index(fields=["tenant", "group", "-joined_at"], name="groupmember_tenant_group"),
            models.Index(fields=["tenant", "userid"], name="groupmember_tenant_userid"),
            models.Index(fields=["tenant", "state", "joined_at"], name="groupmember_tenant_state"),
        ]

    def __str__(self) -> str:
        return f"{self.userid} in {self.group_id}"


class GroupTag(TenantModel):
    """A local label on groups (WeCom has no group tags): "VIP", "华东区", "活动群"…"""

    name = models.CharField(max_length=30)
    color = models.CharField(max_length=16, blank=True)
    order = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(TenantModel.Meta):
        ordering = ["order", "id"]
        constraints = [models.UniqueConstraint(fields=["tenant", "name"], name="grouptag_unique_name")]

    def __str__(self) -> str:
        return self.name


class GroupTagging(TenantModel):
    group = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="taggings")
    tag = models.ForeignKey(GroupTag, on_delete=models.CASCADE, related_name="taggings")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(TenantModel.Meta):
        constraints = [
            models.UniqueConstraint(fields=["tenant", "group", "tag"], name="grouptagging_unique"),
        ]
        indexes = [models.Index(fields=["tenant", "tag"], name="grouptagging_tenant_tag")]

    def __str__(self) -> str:
        return f"{self.tag_id} on {self.group_id}"


# WeCom's seven daily figures (groupchat/statistic_group_by_day), the columns of GroupStatDay.
STAT_FIELDS = (
    "new_chat_cnt",
    "chat_total",
    "chat_has_msg",
    "new_member_cnt",
    "member_total",
    "member_has_msg",
    "msg_total",
)


class GroupStatDay(TenantModel):
    """WeCom's figures for one owner's groups on one day (groupchat/statistic_group_by_day)."""

    owner = models.ForeignKey(Staff, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    new_chat_cnt = models.PositiveIntegerField(default=0)
    chat_total = models.PositiveIntegerField(default=0)
    chat_has_msg = models.PositiveIntegerField(default=0)
    new_member_cnt = models.PositiveIntegerField(default=0)
    member_total = models.PositiveIntegerField(default=0)
    member_has_msg = models.PositiveIntegerField(default=0)
    msg_total = models.PositiveIntegerField(default=0)
    fetched_at = models.DateTimeField(auto_now=True)

    class Meta(TenantModel.Meta):
        ordering = ["day", "owner_id"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "owner", "day"], name="groupstatday_unique_owner_day"),
        ]
        indexes = [models.Index(fields=["tenant", "day"], name="groupstatday_tenant_day")]

    def __str__(self) -> str:
        return f"{self.owner_id} {self.day}"


class JoinWay(TenantModel):
    """A group code (群活码): one QR code for up to five groups, WeCom opening a new one when all are full.

    ``state`` comes back on every member who joined through it (groupchat/get member_list[].state):
    the attribution key, unique per tenant and never reused, as a channel code's.
    """

    name = models.CharField(max_length=30)  # WeCom's remark
    state = models.CharField(max_length=30)
    config_id = models.CharField(max_length=64, blank=True)
    qr_code = models.URLField(max_length=500, blank=True)
    chat_ids = models.JSONField(default=list, blank=True)  # WeCom chat ids, in WeCom's order (≤5)
    auto_create_room = models.BooleanField(default=True)
    room_base_name = models.CharField(max_length=40, blank=True)
    room_base_id = models.PositiveIntegerField(default=1)
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
            models.UniqueConstraint(fields=["tenant", "state"], name="joinway_unique_state"),
            models.UniqueConstraint(fields=["tenant", "name"], name="joinway_unique_name"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.state})"


class GroupWelcomeTemplate(TenantModel):
    """A group welcome message (入群欢迎语素材) kept in WeCom: text with %NICKNAME% and one attachment."""

    template_id = models.CharField(max_length=64, blank=True)
    name = models.CharField(max_length=60)  # local only: WeCom keeps no name
    text = models.TextField(blank=True)
    # {} or one attachment, a material of the content library: {"material_id": N}
    attachment = models.JSONField(default=dict, blank=True)
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
            models.UniqueConstraint(fields=["tenant", "name"], name="groupwelcome_unique_name"),
        ]

    def __str__(self) -> str:
        return self.name


class GroupTransferKind(models.TextChoices):
    ONJOB = "onjob", "Owner still employed (groupchat/onjob_transfer)"
    RESIGNED = "resigned", "Owner resigned (groupchat/transfer)"
    # Some groups of each: every group goes through the API its owner's status calls for.
    MIXED = "mixed", "Some owners resigned, some still employed"


class GroupTransfer(TenantModel):
    """Groups handed to a new owner, as a background job with a result per group."""

    kind = models.CharField(max_length=16, choices=GroupTransferKind.choices)
    new_owner = models.ForeignKey(Staff, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=16, choices=RunStatus.choices, default=RunStatus.QUEUED)
    total = models.PositiveIntegerField(default=0)
    succeeded = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by_api_key = models.ForeignKey(
        "tenancy.ApiKey", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The caller's Idempotency-Key (prefixed with who sent it, as contacts' jobs): a repeated POST
    # answers the transfer the first one created instead of handing the groups over twice.
    idempotency_key = models.CharField(max_length=128, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta(TenantModel.Meta):
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "idempotency_key"],
                condition=~models.Q(idempotency_key=""),
                name="grouptransfer_unique_idempotency_key",
            ),
        ]
        indexes = [models.Index(fields=["tenant", "-id"], name="grouptransfer_tenant_id")]

    def __str__(self) -> str:
        return f"{self.kind} → {self.new_owner_id}"


class GroupTransferItemStatus(models.TextChoices):
    PENDING = "pending", "Not sent to WeCom yet"
    SUCCEEDED = "succeeded", "Transferred"
    FAILED = "failed", "WeCom refused it"


class GroupTransferItem(TenantModel):
    transfer = models.ForeignKey(GroupTransfer, on_delete=models.CASCADE, related_name="items")
    group = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="+")
    previous_owner = models.ForeignKey(
        Staff, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(
        max_length=16, choices=GroupTransferItemStatus.choices, default=GroupTransferItemStatus.PENDING
    )
    errcode = models.IntegerField(null=True, blank=True)
    error = models.CharField(max_length=255, blank=True)

    class Meta(TenantModel.Meta):
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "transfer", "group"], name="grouptransferitem_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.group_id}: {self.status}"


class GroupRefresh(TenantModel):
    """A group to read again soon: WeCom's ``change_external_chat`` callbacks come at once, but
    ``groupchat/get`` shows the change only a few seconds later (wecom-api.md §4, §11).

    One row per group, whatever the number of events: each event merges what it waits for into
    ``awaited`` (see ``groups.services.refresh``) and brings ``due_at`` forward. Work due later lives
    here rather than only as a broker countdown (DESIGN.md §7): the countdown is the fast path, and a
    beat sweep runs the rows whose message was lost. The row is deleted once a read shows everything
    it waited for, or after ``REFRESH_READS`` reads.
    """

    chat_id = models.CharField(max_length=64)
    due_at = models.DateTimeField()
    reads = models.PositiveSmallIntegerField(default=0)  # reads done since the last event merged in
    # {"versions": {CurMemVer: LastMemVer}, "before": [versions known to precede them],
    #  "fields": {"name" | "notice" | "owner": value stored when the event came, or the value expected
    #  ({"equals": value}) after a transfer made here}, "exists": bool, "dismissed_at": ISO time}
    awaited = models.JSONField(default=dict)
    # The group was created (its create callback, or WeCom opened it for a group code): when a read
    # imports it, its customers joined it (group_joined), as groups.services.members says.
    first_import_joins = models.BooleanField(default=False)
    claimed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(TenantModel.Meta):
        ordering = ["due_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "chat_id"], name="grouprefresh_unique_chat_id"),
        ]

    def __str__(self) -> str:
        return f"{self.chat_id} due {self.due_at:%H:%M:%S}"
