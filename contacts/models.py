"""The customer asset: staff, departments, customers and the staff↔customer follows WeCom has, tags,
stages, notes, the append-only event stream, and the runs and jobs that change them in bulk.

WeCom's own shape is kept: a customer (``Contact``) is followed by one or more staff members
(``Follow``), and corp tags are held per follow. What the dashboard filters on is the contact-level
union, kept in ``Contact.facets`` by ``contacts.facets`` (see there for the key scheme). Every
constraint and index leads with ``tenant``.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from scrm.durable import ACTIVE_RUN_STATUSES, DurableWork
from scrm.tenancy.models import TenantModel


class Department(TenantModel):
    wecom_id = models.PositiveIntegerField()
    name = models.CharField(max_length=64)
    parent_wecom_id = models.PositiveIntegerField(default=0)  # 0: the root has no parent
    order = models.BigIntegerField(default=0)  # WeCom's order: larger first
    updated_at = models.DateTimeField(auto_now=True)

    class Meta(TenantModel.Meta):
        ordering = ["parent_wecom_id", "-order", "wecom_id"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "wecom_id"], name="department_unique_wecom_id"),
        ]

    def __str__(self) -> str:
        return self.name


class DirectoryStatus(models.TextChoices):
    """What the app can read of a member in WeCom's contact book (wecom-api.md §2a)."""

    LISTED = "listed", "Read from the contact book"
    # WeCom gives its userid only; what was read of it before is kept.
    OUTSIDE_VISIBLE_RANGE = "outside_visible_range", "Outside the app's visible range"
    NOT_READ = "not_read", "Known from a callback only, not read yet"


class WeComMemberStatus(models.IntegerChoices):
    UNKNOWN = 0, "Unknown (not readable)"
    ACTIVE = 1, "Active"
    DISABLED = 2, "Disabled"
    NOT_ACTIVATED = 4, "Not activated"
    LEFT = 5, "Left the corp"


class Staff(TenantModel):
    """A WeCom member. Resigned members stay: their customers' history and inheritance need them."""

    userid = models.CharField(max_length=64)
    name = models.CharField(max_length=64, blank=True)
    avatar = models.URLField(max_length=500, blank=True)
    position = models.CharField(max_length=128, blank=True)
    # WeCom department ids, and the ones this member leads (the "managers" churn alerts go to).
    department_ids = models.JSONField(default=list, blank=True)
    leader_department_ids = models.JSONField(default=list, blank=True)
    is_active = models.BooleanField(default=True)
    # WeCom's own status of the member (user/list, user/get); UNKNOWN when the app cannot read it.
    wecom_status = models.PositiveSmallIntegerField(
        choices=WeComMemberStatus.choices, default=WeComMemberStatus.UNKNOWN
    )
    directory_status = models.CharField(
        max_length=24, choices=DirectoryStatus.choices, default=DirectoryStatus.LISTED
    )
    # In WeCom's customer-contact range (get_follow_user_list): only these can have customers.
    has_contact_permission = models.BooleanField(default=False)
    resigned_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta(TenantModel.Meta):
        ordering = ["name", "id"]
        constraints = [models.UniqueConstraint(fields=["tenant", "userid"], name="staff_unique_userid")]

    def __str__(self) -> str:
        return f"{self.name} ({self.userid})"


def _created_by_app() -> models.BooleanField:
    """WeCom lets an app edit and delete only the tags and groups it created itself (wecom-api.md §3),
    and its tag lists do not say who made what: only Siyu's own ``add_corp_tag`` tells. True: created
    through Siyu; False: found in WeCom (a sync or a callback: an admin's, or another app's); None:
    rows from before Siyu kept track, tried in WeCom, and set False if WeCom refuses (81011)."""
    return models.BooleanField(null=True, default=False)


class TagGroup(TenantModel):
    wecom_id = models.CharField(max_length=64)
    name = models.CharField(max_length=30)
    order = models.BigIntegerField(default=0)  # larger first, as in WeCom
    deleted = models.BooleanField(default=False)
    wecom_created_at = models.DateTimeField(null=True, blank=True)
    created_by_app = _created_by_app()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta(TenantModel.Meta):
        ordering = ["-order", "id"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "wecom_id"], name="taggroup_unique_wecom_id")
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def wecom_editable(self) -> bool:
        """Whether Siyu may rename or delete it in WeCom (not known: tried, see ``created_by_app``)."""
        return self.created_by_app is not False


class Tag(TenantModel):
    group = models.ForeignKey(TagGroup, on_delete=models.CASCADE, related_name="tags")
    wecom_id = models.CharField(max_length=64)
    name = models.CharField(max_length=30)
    order = models.BigIntegerField(default=0)
    deleted = models.BooleanField(default=False)
    wecom_created_at = models.DateTimeField(null=True, blank=True)
    created_by_app = _created_by_app()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta(TenantModel.Meta):
        ordering = ["-order", "id"]
        constraints = [models.UniqueConstraint(fields=["tenant", "wecom_id"], name="tag_unique_wecom_id")]
        indexes = [models.Index(fields=["tenant", "group"], name="tag_tenant_group")]

    def __str__(self) -> str:
        return self.name

    @property
    def wecom_editable(self) -> bool:
        """Whether Siyu may rename or delete it in WeCom (not known: tried, see ``created_by_app``)."""
        return self.created_by_app is not False


class Stage(TenantModel):
    """A step of the tenant's sales pipeline (lifecycle stage), ordered."""

    name = models.CharField(max_length=32)
    order = models.PositiveIntegerField(default=0)
    color = models.CharField(max_length=16, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(TenantModel.Meta):
        ordering = ["order", "id"]
        constraints = [models.UniqueConstraint(fields=["tenant", "name"], name="stage_unique_name")]

    def __str__(self) -> str:
        return self.name


class ContactStatus(models.TextChoices):
    ACTIVE = "active", "Followed by at least one staff member"
    LOST = "lost", "No staff member follows them any more"


class Contact(TenantModel):
    external_userid = models.CharField(max_length=64)
    name = models.CharField(max_length=128, blank=True)
    avatar = models.URLField(max_length=500, blank=True)
    type = models.PositiveSmallIntegerField(default=1)  # 1 WeChat user, 2 WeCom user
    gender = models.PositiveSmallIntegerField(default=0)  # 0 unknown, 1 male, 2 female
    unionid = models.CharField(max_length=64, blank=True)
    corp_name = models.CharField(max_length=128, blank=True)
    corp_full_name = models.CharField(max_length=256, blank=True)
    position = models.CharField(max_length=128, blank=True)
    stage = models.ForeignKey(Stage, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # Derived from the follows by contacts.facets.contacts_refresh (never edited directly):
    status = models.CharField(max_length=16, choices=ContactStatus.choices, default=ContactStatus.ACTIVE)
    first_added_at = models.DateTimeField(null=True, blank=True)
    facets = models.JSONField(default=dict, blank=True)
    search_text = models.TextField(blank=True)
    # The tenant's own profile fields (value.models.ProfileField), by key; set by value.services.fields.
    # A database default too: the sync and the benchmarks insert contacts in raw SQL.
    profile = models.JSONField(default=dict, blank=True, db_default={})
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta(TenantModel.Meta):
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "external_userid"], name="contact_unique_external_userid"
            ),
        ]
        indexes = [
            models.Index(fields=["tenant", "-first_added_at", "-id"], name="contact_tenant_added"),
            models.Index(fields=["tenant", "status", "-id"], name="contact_tenant_status"),
            models.Index(fields=["tenant", "stage"], name="contact_tenant_stage"),
            # Integrators name customers by unionid (value.services.ingest).
            models.Index(
                fields=["tenant", "unionid"], condition=~models.Q(unionid=""), name="contact_tenant_unionid"
            ),
        ]
        # PostgreSQL also has a GIN index on facets (migration 0002): the tag/staff filters use it,
        # and one on Follow.remark_mobiles (migration 0012): integrators name customers by mobile.

    def __str__(self) -> str:
        return f"{self.name} ({self.external_userid})"


class FollowStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    DELETED_BY_CUSTOMER = "deleted_by_customer", "The customer deleted the staff member (lost)"
    DELETED_BY_STAFF = "deleted_by_staff", "The staff member deleted the customer"
    TRANSFERRED = "transferred", "Transferred to another staff member"


class Follow(TenantModel):
    """The relation WeCom has between one staff member and one customer (follow_info)."""

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="follows")
    staff = models.ForeignKey(Staff, on_delete=models.PROTECT, related_name="follows")
    remark = models.CharField(max_length=64, blank=True)
    description = models.CharField(max_length=255, blank=True)
    remark_corp_name = models.CharField(max_length=128, blank=True)
    remark_mobiles = models.JSONField(default=list, blank=True)
    add_way = models.PositiveSmallIntegerField(default=0)
    oper_userid = models.CharField(max_length=64, blank=True)
    state = models.CharField(max_length=30, blank=True)  # the channel code's state
    # Corp tag ids exactly as WeCom holds them on this follow (WeCom's ids, sorted).
    tag_ids = models.JSONField(default=list, blank=True)
    added_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=24, choices=FollowStatus.choices, default=FollowStatus.ACTIVE)
    ended_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta(TenantModel.Meta):
        ordering = ["added_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "contact", "staff"], name="follow_unique_contact_staff"
            ),
        ]
        indexes = [
            models.Index(fields=["tenant", "staff", "status"], name="follow_tenant_staff_status"),
            models.Index(fields=["tenant", "status", "-ended_at"], name="follow_tenant_status_ended"),
            # Channel stats and daily caps: a channel's follows by day.
            models.Index(fields=["tenant", "state", "added_at"], name="follow_tenant_state_added"),
        ]

    def __str__(self) -> str:
        return f"{self.staff_id}→{self.contact_id} ({self.status})"


class EventType(models.TextChoices):
    ADDED = "added", "Added a staff member"
    LOST = "lost", "Deleted a staff member (lost)"
    DELETED_BY_STAFF = "deleted_by_staff", "Deleted by a staff member"
    TAGGED = "tagged", "Tagged"
    UNTAGGED = "untagged", "Untagged"
    STAGE_CHANGED = "stage_changed", "Stage changed"
    NOTE = "note", "Note added"
    REMARK_CHANGED = "remark_changed", "Remark changed"
    TRANSFERRED = "transferred", "Transferred"
    TRANSFER_FAILED = "transfer_failed", "Transfer failed"
    WELCOMED = "welcomed", "Welcome message sent"
    WELCOME_FAILED = "welcome_failed", "Welcome message not sent"
    GROUP_JOINED = "group_joined", "Joined a customer group"
    GROUP_LEFT = "group_left", "Left a customer group"
    MASS_MESSAGE_RECEIVED = "mass_message_received", "Received a mass message"
    MOMENT_LIKED = "moment_liked", "Liked a Moment"
    MOMENT_COMMENTED = "moment_commented", "Commented on a Moment"
    # Pushed by integrators (value.services.ingest); payloads name the order or event.
    PURCHASED = "purchased", "Purchased"
    REFUNDED = "refunded", "Refunded"
    CUSTOM = "custom", "Custom event"
    PROFILE_CHANGED = "profile_changed", "Profile fields changed"
    # Computed by the value passes: {"from": old tier, "to": new tier}.
    TIER_CHANGED = "tier_changed", "Lifecycle tier changed"


class ContactEvent(TenantModel):
    """Append-only facts about customers (DESIGN.md §11): written in the same transaction as the change.

    Consumers (timeline, SOPs, webhooks, analytics) read by increasing id; rows are never updated.
    """

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="events")
    type = models.CharField(max_length=32, choices=EventType.choices)
    staff = models.ForeignKey(Staff, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    channel = models.CharField(max_length=30, blank=True)  # the follow's state at the time
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The API key that did it (``actor`` is then null; scrm.tenancy.actors). No index: keys are revoked,
    # never deleted but with their tenant, and this is the busiest table (the full sync COPYs into it).
    actor_api_key = models.ForeignKey(
        "tenancy.ApiKey",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    payload = models.JSONField(default=dict, blank=True)
    occurred_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(TenantModel.Meta):
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["tenant", "contact", "-id"], name="contactevent_tenant_contact"),
            models.Index(fields=["tenant", "type", "-occurred_at"], name="contactevent_tenant_type"),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.contact_id} @ {self.occurred_at:%Y-%m-%d %H:%M}"


class EventCursor(TenantModel):
    """How far one consumer of the event stream has read (DESIGN.md §11): the last ContactEvent id it
    has handled, per tenant. Consumers: ``value.scores``, ``value.points``, and the SOP engine's later."""

    consumer = models.CharField(max_length=32)
    position = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta(TenantModel.Meta):
        constraints = [
            models.UniqueConstraint(fields=["tenant", "consumer"], name="eventcursor_unique_consumer")
        ]

    def __str__(self) -> str:
        return f"{self.consumer} @ {self.position}"


class Note(TenantModel):
    """A follow-up record (跟进记录) written by a member about a customer."""

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    author_api_key = models.ForeignKey(
        "tenancy.ApiKey", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    content = models.TextField(max_length=4000)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta(TenantModel.Meta):
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["tenant", "contact", "-created_at"], name="note_tenant_contact")]


class Segment(TenantModel):
    """A saved, named contact filter (the contacts list's query parameters); campaigns reuse it."""

    name = models.CharField(max_length=64)
    filters = models.JSONField(default=dict)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by_api_key = models.ForeignKey(
        "tenancy.ApiKey", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta(TenantModel.Meta):
        ordering = ["name", "id"]
        constraints = [models.UniqueConstraint(fields=["tenant", "name"], name="segment_unique_name")]


class SyncKind(models.TextChoices):
    CONTACTS = "contacts", "Staff, tags and customers"
    GROUPS = "groups", "Customer groups"


class SyncRun(DurableWork, TenantModel):
    """One full sync of a tenant's contact book (or of its customer groups), visible while it runs and
    resumable from ``checkpoint`` (durable work, see scrm.durable). The counts are of follows, or of
    groups for a groups run."""

    kind = models.CharField(max_length=16, choices=SyncKind.choices, default=SyncKind.CONTACTS)
    trigger = models.CharField(max_length=16, default="manual")  # manual | schedule | command
    phase = models.CharField(max_length=16, blank=True)  # tags | staff | contacts | groups | done
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    closed = models.PositiveIntegerField(default=0)
    progress_done = models.PositiveIntegerField(default=0)
    progress_total = models.PositiveIntegerField(default=0)
    api_calls = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by_api_key = models.ForeignKey(
        "tenancy.ApiKey", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta(TenantModel.Meta):
        ordering = ["-id"]
        constraints = [
            # One run of a kind at a time per tenant: two would fight over the same rows and the checkpoint.
            models.UniqueConstraint(
                fields=["tenant", "kind"],
                condition=models.Q(status__in=ACTIVE_RUN_STATUSES),
                name="syncrun_one_active_per_kind",
            ),
        ]
        indexes = [models.Index(fields=["tenant", "-id"], name="syncrun_tenant_id")]


class SyncRunSeen(models.Model):
    """Follows seen by a run, so a resumed run still knows which follows WeCom no longer has.

    Run bookkeeping, deleted when the run ends; not tenant data (the run is).
    """

    run = models.ForeignKey(SyncRun, on_delete=models.CASCADE, related_name="+")
    follow_id = models.BigIntegerField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["run", "follow_id"], name="syncrunseen_unique")]

    def __str__(self) -> str:
        return f"run {self.run_id} saw follow {self.follow_id}"


class JobKind(models.TextChoices):
    TAG = "tag", "Tag contacts"
    UNTAG = "untag", "Untag contacts"
    EXPORT = "export", "Export contacts as CSV"
    TRANSFER = "transfer", "Transfer customers (staff still employed)"
    INHERIT = "inherit", "Inherit a resigned member's customers"


class Job(DurableWork, TenantModel):
    """A background job started from the API: bulk tag/untag, export, transfer (durable work, see
    scrm.durable).

    ``params`` is what was asked (including the contact filter, for the audit trail), ``total`` /
    ``done`` / ``failed`` the progress, ``errors`` the per-item failures (capped; ``failed`` counts all).
    """

    kind = models.CharField(max_length=16, choices=JobKind.choices)
    params = models.JSONField(default=dict)
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    result_file = models.FileField(upload_to="exports/%Y/%m/", blank=True)
    idempotency_key = models.CharField(max_length=128, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by_api_key = models.ForeignKey(
        "tenancy.ApiKey", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta(TenantModel.Meta):
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "kind", "idempotency_key"],
                condition=~models.Q(idempotency_key=""),
                name="job_unique_idempotency_key",
            ),
        ]
        indexes = [models.Index(fields=["tenant", "kind", "-id"], name="job_tenant_kind")]


class TransferStatus(models.TextChoices):
    PENDING = "pending", "Not sent to WeCom yet"
    WAITING = "waiting", "Waiting for the customer (WeCom completes it after 24 h)"
    SUCCEEDED = "succeeded", "Transferred"
    REFUSED = "refused", "The customer refused"
    OVER_LIMIT = "over_limit", "The takeover member has too many customers"
    FAILED = "failed", "WeCom rejected it"


class TransferItem(TenantModel):
    """One customer in a transfer or inheritance job, with WeCom's answer for it."""

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="transfer_items")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="+")
    handover = models.ForeignKey(Staff, on_delete=models.PROTECT, related_name="+")
    takeover = models.ForeignKey(Staff, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=16, choices=TransferStatus.choices, default=TransferStatus.PENDING)
    errcode = models.IntegerField(default=0)
    detail = models.CharField(max_length=255, blank=True)
    takeover_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta(TenantModel.Meta):
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "job", "contact"], name="transferitem_unique_contact"),
        ]
        indexes = [models.Index(fields=["tenant", "status", "handover"], name="transferitem_tenant_status")]


class Notification(TenantModel):
    """An in-app notification (the dashboard's bell), e.g. a churn alert."""

    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=32)
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    contact = models.ForeignKey(Contact, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    data = models.JSONField(default=dict, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(TenantModel.Meta):
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["tenant", "recipient", "read_at", "-id"], name="notification_tenant_inbox"),
        ]


class ContactSettings(TenantModel):
    """Per-tenant switches for the contacts features (one row per tenant, made on first read)."""

    # Send the staff member a WeCom app message when a customer deletes them (needs the agent id).
    churn_app_message = models.BooleanField(default=False)
    nightly_sync = models.BooleanField(default=True)
    # The welcome for customers who arrive with no channel, or through one without its own welcome
    # (contacts.services.welcome has the shape: text and library materials); {} sends none.
    welcome = models.JSONField(default=dict, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta(TenantModel.Meta):
        constraints = [models.UniqueConstraint(fields=["tenant"], name="contactsettings_one_per_tenant")]


# --- channel codes (渠道活码) and welcome messages ------------------------------------------------


class ContactWay(TenantModel):
    """A channel code (渠道活码, WeCom's 「联系我」): a QR code that attributes the customers who scan it.

    ``state`` travels with every customer the code brings (follow_info.state, the add event's State):
    it is the attribution key, unique per tenant and never reused. Members are local ids; what WeCom
    has on the code right now (after the schedule and the daily caps) is ``applied_userids``.
    """

    name = models.CharField(max_length=60)
    state = models.CharField(max_length=30)
    config_id = models.CharField(max_length=64, blank=True)
    qr_code = models.URLField(max_length=500, blank=True)
    multi = models.BooleanField(default=False)  # WeCom type 2 (several members) or 1 (one member)
    skip_verify = models.BooleanField(default=True)
    user_ids = models.JSONField(default=list, blank=True)  # Staff pks
    department_ids = models.JSONField(default=list, blank=True)  # WeCom department ids
    # [{"weekdays": [1..7], "start": "HH:MM", "end": "HH:MM", "user_ids": [...]}]: first match wins,
    # none matching means user_ids/department_ids.
    schedule = models.JSONField(default=list, blank=True)
    daily_cap = models.PositiveIntegerField(null=True, blank=True)  # adds per member per day
    backup_user_ids = models.JSONField(default=list, blank=True)  # when every member is capped
    tag_ids = models.JSONField(default=list, blank=True)  # Tag pks applied to its customers
    welcome = models.JSONField(default=dict, blank=True)  # {}: the tenant's default welcome
    applied_userids = models.JSONField(default=list, blank=True)
    applied_party = models.JSONField(default=list, blank=True)
    applied_at = models.DateTimeField(null=True, blank=True)
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
            models.UniqueConstraint(fields=["tenant", "state"], name="contactway_unique_state"),
            models.UniqueConstraint(fields=["tenant", "name"], name="contactway_unique_name"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.state})"


class WelcomeStatus(models.TextChoices):
    PENDING = "pending", "Being sent"
    SENT = "sent", "Sent"
    EXPIRED = "expired", "The welcome code expired (20 s) before it was sent"
    USED = "used", "The welcome code was used already (the chat had started)"
    FAILED = "failed", "WeCom refused it"
    SKIPPED = "skipped", "No welcome message configured"


class Welcome(TenantModel):
    """One welcome_code and what became of it: the greeting of one new follow.

    Unique per code, so a duplicate add event finds the row and greets nobody twice.
    """

    welcome_code = models.CharField(max_length=128)
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="welcomes")
    staff = models.ForeignKey(Staff, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    contact_way = models.ForeignKey(
        ContactWay, null=True, blank=True, on_delete=models.SET_NULL, related_name="welcomes"
    )
    state = models.CharField(max_length=30, blank=True)
    status = models.CharField(max_length=16, choices=WelcomeStatus.choices, default=WelcomeStatus.PENDING)
    errcode = models.IntegerField(null=True, blank=True)
    error = models.CharField(max_length=255, blank=True)
    received_at = models.DateTimeField()  # the callback's arrival: the 20 seconds start here
    sent_at = models.DateTimeField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(TenantModel.Meta):
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "welcome_code"], name="welcome_unique_code"),
        ]
        indexes = [
            models.Index(fields=["tenant", "contact_way", "-id"], name="welcome_tenant_way"),
            models.Index(fields=["tenant", "contact", "-id"], name="welcome_tenant_contact"),
        ]
