"""The customer as an asset (用户资产化): profile fields the tenant defines, orders and custom events
pushed by integrators, each customer's value, activity score and lifecycle tier, and points.

What changes a customer is still written to ``contacts.ContactEvent`` (DESIGN.md §11): a purchase, a
refund, a custom event, a profile change and a tier change are events there. The tables here hold the
state those events build up (an order and its refunds, a points balance) and the figures computed from
them in batch (``ContactValue``), which the contacts list filters on.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from scrm.tenancy.models import TenantModel

# --- custom profile fields --------------------------------------------------------------------------


class FieldKind(models.TextChoices):
    TEXT = "text", "Text"
    NUMBER = "number", "Number"
    DATE = "date", "Date"
    CHOICE = "choice", "Single choice"
    MULTI_CHOICE = "multi_choice", "Multiple choice"


class ProfileField(TenantModel):
    """A field of the tenant's customer profile (birthday, city, skin type, budget).

    Values live in ``Contact.profile`` under ``key``: a string (text, choice), a number, an ISO date
    ("YYYY-MM-DD") or a list of strings (multi choice). A field is archived, never deleted, and its
    key is never reused, so a value never changes meaning.
    """

    key = models.CharField(max_length=32)  # [a-z][a-z0-9_]*: the key in Contact.profile and in filters
    label = models.CharField(max_length=64)
    kind = models.CharField(max_length=16, choices=FieldKind.choices)
    choices = models.JSONField(default=list, blank=True)  # the options of a (multi) choice field
    # A date field that recurs every year (a birthday): the SOP engine matches its month and day.
    yearly = models.BooleanField(default=False)
    order = models.PositiveIntegerField(default=0)
    archived = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta(TenantModel.Meta):
        ordering = ["order", "id"]
        constraints = [models.UniqueConstraint(fields=["tenant", "key"], name="profilefield_unique_key")]

    def __str__(self) -> str:
        return f"{self.label} ({self.key})"


# --- orders and custom events from integrators --------------------------------------------------------


class OrderStatus(models.TextChoices):
    PAID = "paid", "Paid"
    PARTIALLY_REFUNDED = "partially_refunded", "Partly refunded"
    REFUNDED = "refunded", "Refunded"


class Order(TenantModel):
    """An order an integrator pushed, in the state its latest push described.

    One row per (source, external id): pushing it again is a duplicate, unless the refund grew, which
    records a ``refunded`` event for the difference. Its value is ``amount - refunded_amount``.
    """

    source = models.CharField(max_length=32)  # the integrator's system: "shop", "youzan"
    external_id = models.CharField(max_length=64)
    contact = models.ForeignKey("contacts.Contact", on_delete=models.CASCADE, related_name="orders")
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    currency = models.CharField(max_length=3)
    items = models.JSONField(default=list, blank=True)
    refunded_amount = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    status = models.CharField(max_length=24, choices=OrderStatus.choices, default=OrderStatus.PAID)
    paid_at = models.DateTimeField()
    refunded_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta(TenantModel.Meta):
        ordering = ["-paid_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "source", "external_id"], name="order_unique_external_id"
            ),
            models.CheckConstraint(
                condition=models.Q(refunded_amount__gte=0, refunded_amount__lte=models.F("amount")),
                name="order_refund_within_amount",
            ),
        ]
        indexes = [models.Index(fields=["tenant", "contact", "-paid_at"], name="order_tenant_contact")]

    def __str__(self) -> str:
        return f"{self.source}:{self.external_id} {self.amount} {self.currency}"


class CustomEvent(TenantModel):
    """A custom event an integrator pushed (viewed a product, booked a visit): name and properties.

    Kept here for its dedupe by (source, external id); the timeline and the score read its
    ``custom`` ContactEvent.
    """

    source = models.CharField(max_length=32)
    external_id = models.CharField(max_length=64)
    contact = models.ForeignKey("contacts.Contact", on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=64)
    properties = models.JSONField(default=dict, blank=True)
    occurred_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(TenantModel.Meta):
        ordering = ["-occurred_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "source", "external_id"], name="customevent_unique_external_id"
            ),
        ]
        indexes = [
            models.Index(fields=["tenant", "contact", "-occurred_at"], name="customevent_tenant_contact")
        ]


class IdentityKind(models.TextChoices):
    """How an integrator names a customer (exactly one per item)."""

    ID = "id", "Siyu's contact id"
    EXTERNAL_USERID = "external_userid", "WeCom external_userid"
    UNIONID = "unionid", "WeChat unionid"
    MOBILE = "mobile", "Mobile number (a member's remark on the customer)"


class PendingEvent(TenantModel):
    """An order or custom event whose customer is not known yet, kept until one appears.

    When a customer with that unionid, external_userid or mobile arrives, the item is ingested as if it
    had just been pushed (in id order, so a payment comes before its refund) and the row is deleted.
    Unique like the tables it becomes, so a repeat push replaces it (the latest state of an order wins).
    """

    kind = models.CharField(max_length=16)  # "order" | "custom"
    source = models.CharField(max_length=32)
    external_id = models.CharField(max_length=64)
    identity_kind = models.CharField(max_length=16, choices=IdentityKind.choices)
    identity_value = models.CharField(max_length=64)
    payload = models.JSONField(default=dict)  # the item as validated, ready to ingest
    received_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta(TenantModel.Meta):
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "kind", "source", "external_id"], name="pendingevent_unique_external_id"
            ),
        ]
        indexes = [
            models.Index(fields=["tenant", "identity_kind", "identity_value"], name="pendingevent_identity"),
        ]


class IngestBatch(TenantModel):
    """A batch pushed with an ``Idempotency-Key``: the same key and body answer the stored response
    again (for 24 hours), without ingesting anything twice."""

    idempotency_key = models.CharField(max_length=160)  # the actor's scope + the header
    request_hash = models.CharField(
        max_length=64
    )  # sha256 of the body: the same key with another body is a 409
    response = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(TenantModel.Meta):
        constraints = [
            models.UniqueConstraint(fields=["tenant", "idempotency_key"], name="ingestbatch_unique_key")
        ]
        indexes = [models.Index(fields=["created_at"], name="ingestbatch_created")]


# --- value, activity score and tiers ----------------------------------------------------------------


class Tier(models.TextChoices):
    NEW = "new", "New"
    ACTIVE = "active", "Active"
    SILENT = "silent", "Silent"
    HIGH_VALUE = "high_value", "High value"
    LOST = "lost", "Lost"


class ValueSettings(TenantModel):
    """The tenant's thresholds (one row per tenant, made with the defaults on first read)."""

    # LTV adds amounts in this currency only: an order in another one is refused (no conversion).
    currency = models.CharField(max_length=3, default="CNY")
    new_days = models.PositiveSmallIntegerField(default=7)  # 新: first added within these days
    silent_days = models.PositiveSmallIntegerField(default=30)  # 沉默: no interaction for these days
    high_value_ltv = models.DecimalField(max_digits=12, decimal_places=2, default=2000)  # 高价值: LTV from
    points_expire_days = models.PositiveSmallIntegerField(default=365)  # 0: points never expire
    updated_at = models.DateTimeField(auto_now=True)

    class Meta(TenantModel.Meta):
        constraints = [models.UniqueConstraint(fields=["tenant"], name="valuesettings_one_per_tenant")]


class ContactValue(TenantModel):
    """One customer's computed figures, rewritten by the value passes (value.services.scoring), never
    edited. A separate table so the passes do not rewrite contact rows (and their GIN-indexed facets).
    """

    contact = models.OneToOneField("contacts.Contact", on_delete=models.CASCADE, related_name="value")
    # Value: orders net of refunds, in ValueSettings.currency. An order refunded in full does not count.
    ltv = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    orders = models.PositiveIntegerField(default=0)
    first_purchase_at = models.DateTimeField(null=True, blank=True)
    last_purchase_at = models.DateTimeField(null=True, blank=True)
    # Activity: the last interaction and the weighted interactions of the last 90 days.
    last_interaction_at = models.DateTimeField(null=True, blank=True)
    last_interaction_type = models.CharField(max_length=32, blank=True)
    interactions_90d = models.PositiveIntegerField(default=0)
    # The score (0-100) and its parts, so the page can say where it comes from.
    score = models.PositiveSmallIntegerField(default=0)
    score_recency = models.PositiveSmallIntegerField(default=0)
    score_frequency = models.PositiveSmallIntegerField(default=0)
    score_value = models.PositiveSmallIntegerField(default=0)
    tier = models.CharField(max_length=16, choices=Tier.choices)
    tier_since = models.DateTimeField()
    # Attribution for the breakdowns: the customer's first follow (its channel and member).
    channel = models.CharField(max_length=30, blank=True)
    staff = models.ForeignKey(
        "contacts.Staff", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    computed_at = models.DateTimeField()

    class Meta(TenantModel.Meta):
        constraints = [
            models.UniqueConstraint(fields=["tenant", "contact"], name="contactvalue_unique_contact"),
        ]
        indexes = [
            models.Index(fields=["tenant", "tier"], name="contactvalue_tenant_tier"),
            models.Index(fields=["tenant", "score"], name="contactvalue_tenant_score"),
            models.Index(fields=["tenant", "ltv"], name="contactvalue_tenant_ltv"),
            models.Index(fields=["tenant", "last_purchase_at"], name="contactvalue_tenant_purchase"),
        ]


# --- points and levels -------------------------------------------------------------------------------


class PointsAction(models.TextChoices):
    """What earns points by a rule. ``purchase`` is per yuan paid (a refund takes them back)."""

    PURCHASE = "purchase", "Per yuan spent"
    ADDED = "added", "Added a member"
    GROUP_JOINED = "group_joined", "Joined a customer group"
    MOMENT_COMMENTED = "moment_commented", "Commented on a Moment"
    REFERRED = "referred", "Referred someone (custom event named 'referred')"


class PointsRule(TenantModel):
    action = models.CharField(max_length=24, choices=PointsAction.choices)
    points = models.PositiveIntegerField()  # per yuan for ``purchase``, per event otherwise
    is_active = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta(TenantModel.Meta):
        ordering = ["action"]
        constraints = [models.UniqueConstraint(fields=["tenant", "action"], name="pointsrule_unique_action")]


class Level(TenantModel):
    """A membership level (会员等级), reached by the points a customer has earned in all (redeeming or
    expiry does not demote)."""

    name = models.CharField(max_length=32)
    min_points = models.PositiveIntegerField()
    color = models.CharField(max_length=16, blank=True)

    class Meta(TenantModel.Meta):
        ordering = ["min_points", "id"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="level_unique_name"),
            models.UniqueConstraint(fields=["tenant", "min_points"], name="level_unique_min_points"),
        ]

    def __str__(self) -> str:
        return self.name


class PointsAccount(TenantModel):
    """A customer's balance: the sum of its ledger, locked (SELECT … FOR UPDATE) by every change so
    that concurrent redemptions never take it below zero (and a CHECK says so too)."""

    contact = models.OneToOneField("contacts.Contact", on_delete=models.CASCADE, related_name="points")
    balance = models.IntegerField(default=0)
    earned_total = models.PositiveIntegerField(default=0)  # every credit ever: what levels go by
    level = models.ForeignKey(Level, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta(TenantModel.Meta):
        constraints = [
            models.UniqueConstraint(fields=["tenant", "contact"], name="pointsaccount_unique_contact"),
            models.CheckConstraint(condition=models.Q(balance__gte=0), name="pointsaccount_balance_gte_0"),
        ]
        indexes = [
            models.Index(fields=["tenant", "balance"], name="pointsaccount_tenant_balance"),
            models.Index(fields=["tenant", "level"], name="pointsaccount_tenant_level"),
        ]


class PointsReason(models.TextChoices):
    EARNED = "earned", "Earned by a rule"
    GRANTED = "granted", "Granted"
    REDEEMED = "redeemed", "Redeemed"
    EXPIRED = "expired", "Expired"
    REVERSED = "reversed", "Taken back (a refund)"


class PointsEntry(TenantModel):
    """One line of a customer's points ledger: append-only (``remaining`` aside, see there).

    ``idempotency_key`` makes each credit or debit happen once: ``event:<id>`` for what a rule earned
    from an event, the actor's scope + the header for the API's grants and redemptions.
    """

    contact = models.ForeignKey("contacts.Contact", on_delete=models.CASCADE, related_name="+")
    delta = models.IntegerField()
    balance_after = models.IntegerField()
    reason = models.CharField(max_length=16, choices=PointsReason.choices)
    rule_action = models.CharField(max_length=24, blank=True)  # the rule that earned it
    note = models.CharField(max_length=200, blank=True)
    idempotency_key = models.CharField(max_length=160, blank=True)
    event = models.ForeignKey(
        "contacts.ContactEvent",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    # Credits only: when the unspent rest expires, and that rest. Redemptions and expiry consume the
    # oldest credits first (FIFO); this bookkeeping column is the one thing that changes on a line.
    expires_at = models.DateTimeField(null=True, blank=True)
    remaining = models.PositiveIntegerField(default=0)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_api_key = models.ForeignKey(
        "tenancy.ApiKey", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(TenantModel.Meta):
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "idempotency_key"],
                condition=~models.Q(idempotency_key=""),
                name="pointsentry_unique_idempotency_key",
            ),
        ]
        indexes = [
            models.Index(fields=["tenant", "contact", "-id"], name="pointsentry_tenant_contact"),
            # The expiry pass: credits with something left, by when they expire.
            models.Index(
                fields=["tenant", "expires_at"],
                condition=models.Q(remaining__gt=0),
                name="pointsentry_expiring",
            ),
        ]
