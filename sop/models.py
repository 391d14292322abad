"""SOP automations (客户SOP + 群SOP): definitions, versions, enrolments, due steps, deliveries, tasks.

- ``Sop`` is what the operator edits: a name, a kind (customers or groups), a status and the working
  ``draft`` of its definition (JSON, ``sop.services.definition`` says its shape and checks it).
- ``SopVersion`` is a published definition, frozen. Publishing makes a new version live; customers
  already inside the SOP finish the version they entered with (editing never corrupts them).
- ``SopEnrolment`` is one customer (or one group, for a group SOP) going through one version once.
  ``occurrence`` tells apart the enrolments a trigger may make again (a birthday each year, a group
  SOP's run each day, a re-enrolment).
- ``SopStepRun`` is one step of one enrolment: due work in the database (``due_at``), claimed by the
  tick with ``SELECT … FOR UPDATE SKIP LOCKED``, never a broker ETA. Its unique key (tenant, enrolment,
  step, occurrence) is the step's idempotency key: a retried or duplicated tick never acts twice.
- ``SopDelivery`` is one WeCom call that serves many steps: the steps due for many customers of one
  member within the coalescing window (``SOP_COALESCE_SECONDS``) become ONE mass-message task or ONE
  reminder (WeCom drops a member's app messages beyond 30 a minute). Claimed before the call,
  reconciled by reading WeCom back when its answer was lost.
- ``SopTask`` is what a member sees in "today's SOP tasks": send this to that customer; done, postponed
  or skipped with a reason; done is also read from WeCom where a mass-message task carried it.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from scrm.tenancy.models import TenantModel


class SopKind(models.TextChoices):
    CUSTOMER = "customer", "Customer SOP"
    GROUP = "group", "Group SOP"


class SopStatus(models.TextChoices):
    DRAFT = "draft", "Draft (never published)"
    LIVE = "live", "Live"
    PAUSED = "paused", "Paused (steps wait; nobody new enters)"
    STOPPED = "stopped", "Stopped (everyone inside exits)"


class Sop(TenantModel):
    name = models.CharField(max_length=100)
    description = models.CharField(max_length=500, blank=True)
    kind = models.CharField(max_length=8, choices=SopKind.choices, default=SopKind.CUSTOMER)
    status = models.CharField(max_length=8, choices=SopStatus.choices, default=SopStatus.DRAFT)
    # The definition being edited (may be invalid while a draft); published copies live in versions.
    draft = models.JSONField(default=dict, blank=True)
    live_version = models.ForeignKey(
        "SopVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    template = models.CharField(max_length=40, blank=True)  # the template it was made from, if any
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
        indexes = [models.Index(fields=["tenant", "status"], name="sop_tenant_status")]

    def __str__(self) -> str:
        return self.name


class SopVersion(TenantModel):
    sop = models.ForeignKey(Sop, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    definition = models.JSONField()  # checked when published; never changed after
    published_at = models.DateTimeField(auto_now_add=True)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    published_by_api_key = models.ForeignKey(
        "tenancy.ApiKey", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta(TenantModel.Meta):
        ordering = ["sop", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "sop", "number"], name="sopversion_unique_number")
        ]

    def __str__(self) -> str:
        return f"{self.sop_id} v{self.number}"


class EnrolmentStatus(models.TextChoices):
    ACTIVE = "active", "In the SOP"
    COMPLETED = "completed", "Went through every step"
    GOAL = "goal", "Reached the goal"
    EXITED = "exited", "Exited"


class SopEnrolment(TenantModel):
    sop = models.ForeignKey(Sop, on_delete=models.CASCADE, related_name="enrolments", db_index=False)
    version = models.ForeignKey(SopVersion, on_delete=models.PROTECT, related_name="+", db_index=False)
    contact = models.ForeignKey(
        "contacts.Contact", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    group = models.ForeignKey(
        "groups.Group", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    # "c<contact id>" or "g<group id>": one column for the unique key (nullable FKs would not be unique).
    subject = models.CharField(max_length=24)
    # "" for a one-off enrolment; the date for a yearly date trigger or a group SOP's scheduled run;
    # "r<n>" for the n-th re-enrolment.
    occurrence = models.CharField(max_length=32, blank=True)
    # The member who acts for this customer (who added it, or the sender rule's member); the group's
    # owner for a group SOP. Re-checked before each action: a member who lost the customer hands over.
    staff = models.ForeignKey(
        "contacts.Staff", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(max_length=12, choices=EnrolmentStatus.choices, default=EnrolmentStatus.ACTIVE)
    # Why it exited (a code: exit_criteria, lost, sop_stopped, not_matching, removed...).
    exit_reason = models.CharField(max_length=40, blank=True)
    # The branch each A/B split drew for it: {split step id: branch id}; drawn once, kept.
    splits = models.JSONField(default=dict, blank=True)
    trigger_event_id = models.BigIntegerField(null=True, blank=True)  # the ContactEvent that enrolled it
    enrolled_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    goal_at = models.DateTimeField(null=True, blank=True)

    class Meta(TenantModel.Meta):
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "sop", "subject", "occurrence"], name="sopenrolment_unique_occurrence"
            ),
        ]
        indexes = [
            models.Index(fields=["tenant", "sop", "status"], name="sopenrolment_sop_status"),
            models.Index(fields=["tenant", "subject", "status"], name="sopenrolment_subject"),
        ]


class StepStatus(models.TextChoices):
    PENDING = "pending", "Waiting for its time"
    CLAIMED = "claimed", "Being executed"
    DONE = "done", "Done"
    SKIPPED = "skipped", "Skipped"
    CANCELLED = "cancelled", "Cancelled (the enrolment ended first)"


class SopStepRun(TenantModel):
    enrolment = models.ForeignKey(
        SopEnrolment, on_delete=models.CASCADE, related_name="steps", db_index=False
    )
    sop = models.ForeignKey(Sop, on_delete=models.CASCADE, related_name="+", db_index=False)  # for reports
    version = models.ForeignKey(SopVersion, on_delete=models.PROTECT, related_name="+", db_index=False)
    step_id = models.CharField(max_length=32)  # the step's id in the version's definition
    occurrence = models.PositiveSmallIntegerField(default=0)  # >0 only when a postponed step runs again
    status = models.CharField(max_length=12, choices=StepStatus.choices, default=StepStatus.PENDING)
    due_at = models.DateTimeField()
    claimed_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    executed_at = models.DateTimeField(null=True, blank=True)
    # done: what it did (sent, queued, tagged, branched...); skipped: why (capped, dnd, quiet_hours...).
    outcome = models.CharField(max_length=32, blank=True)
    branch = models.CharField(max_length=32, blank=True)  # branch / split: the way it went
    detail = models.JSONField(default=dict, blank=True)
    delivery = models.ForeignKey(
        "SopDelivery",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="step_runs",
        db_index=False,
    )

    class Meta(TenantModel.Meta):
        ordering = ["id"]
        constraints = [
            # The step's idempotency key: (tenant, SOP via enrolment, enrolment, step, occurrence).
            models.UniqueConstraint(
                fields=["tenant", "enrolment", "step_id", "occurrence"], name="sopsteprun_unique_step"
            ),
        ]
        indexes = [
            # The tick, across tenants: what is due, and claims whose worker died (claimed too long ago).
            models.Index(fields=["due_at"], condition=models.Q(status="pending"), name="sopsteprun_due"),
            models.Index(
                fields=["claimed_at"], condition=models.Q(status="claimed"), name="sopsteprun_claimed"
            ),
            models.Index(fields=["tenant", "sop", "step_id", "status"], name="sopsteprun_report"),
            models.Index(fields=["tenant", "delivery"], name="sopsteprun_delivery"),
        ]


class DeliveryKind(models.TextChoices):
    REMINDER = "reminder", "An app message reminding the member"
    MASS_TASK = "mass_task", "A mass-message task for the member (add_msg_template with sender)"
    GROUP_SEND = "group_send", "A mass-message task to the member's groups"
    MOMENT_TASK = "moment_task", "A Moments task for members"
    NOTIFY = "notify", "An app message to operators"


class DeliveryStatus(models.TextChoices):
    OPEN = "open", "Collecting its window's steps"
    CLAIMED = "claimed", "Being sent to WeCom"
    SENT = "sent", "Sent"
    FAILED = "failed", "WeCom refused it"


class SopDelivery(TenantModel):
    sop = models.ForeignKey(Sop, on_delete=models.CASCADE, related_name="deliveries", db_index=False)
    step_id = models.CharField(max_length=32)
    kind = models.CharField(max_length=12, choices=DeliveryKind.choices)
    staff = models.ForeignKey(
        "contacts.Staff", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The coalescing key: sha256 of (sop, version, step, kind, member, window). One row per key.
    key = models.CharField(max_length=64)
    content = models.JSONField(default=dict, blank=True)  # {"text", "attachments"} as sent
    targets = models.JSONField(default=list, blank=True)  # external_userids / chat_ids / userids
    items = models.PositiveIntegerField(default=0)  # step runs it serves
    status = models.CharField(max_length=8, choices=DeliveryStatus.choices, default=DeliveryStatus.OPEN)
    claimed_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    msgid = models.CharField(max_length=128, blank=True)  # mass tasks; moment job / task id for Moments
    fingerprint = models.CharField(max_length=64, blank=True)  # sha256 of what was sent, for reconciling
    error = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    # Mass tasks: when WeCom said the member sent it, and the next read of that (null: not polled).
    confirmed_at = models.DateTimeField(null=True, blank=True)
    next_poll_at = models.DateTimeField(null=True, blank=True)

    class Meta(TenantModel.Meta):
        ordering = ["-id"]
        constraints = [models.UniqueConstraint(fields=["tenant", "key"], name="sopdelivery_unique_key")]
        indexes = [
            models.Index(fields=["tenant", "sop", "status"], name="sopdelivery_sop_status"),
            models.Index(
                fields=["created_at"],
                condition=models.Q(status__in=["open", "claimed"]),
                name="sopdelivery_unsent",
            ),
            models.Index(
                fields=["next_poll_at"],
                condition=models.Q(next_poll_at__isnull=False),
                name="sopdelivery_poll",
            ),
            # The app-message budget (30 a minute, 1,000 an hour per member): the tenant's last hour of
            # reminders and notifications, read before each send.
            models.Index(fields=["tenant", "kind", "claimed_at"], name="sopdelivery_app_budget"),
        ]


class SopTaskStatus(models.TextChoices):
    TODO = "todo", "To do"
    DONE = "done", "Done"
    POSTPONED = "postponed", "Postponed"
    SKIPPED = "skipped", "Skipped"


class SopTask(TenantModel):
    """One thing a member is asked to do for one customer (or group): the "today's SOP tasks" list."""

    step_run = models.OneToOneField(SopStepRun, on_delete=models.CASCADE, related_name="task")
    sop = models.ForeignKey(Sop, on_delete=models.CASCADE, related_name="+", db_index=False)
    staff = models.ForeignKey("contacts.Staff", on_delete=models.CASCADE, related_name="+", db_index=False)
    contact = models.ForeignKey(
        "contacts.Contact", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    group = models.ForeignKey(
        "groups.Group", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    delivery = models.ForeignKey(
        SopDelivery, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    title = models.CharField(max_length=200)
    content = models.JSONField(default=dict, blank=True)  # {"text", "attachments"} to send
    status = models.CharField(max_length=10, choices=SopTaskStatus.choices, default=SopTaskStatus.TODO)
    due_at = models.DateTimeField()  # when it was asked for; a postponed task moves it
    reason = models.CharField(max_length=200, blank=True)  # why skipped / postponed
    # "member" (marked in the dashboard) or "wecom" (read from the WeCom task's status).
    done_via = models.CharField(max_length=8, blank=True)
    done_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta(TenantModel.Meta):
        ordering = ["due_at", "id"]
        indexes = [
            models.Index(fields=["tenant", "staff", "status", "due_at"], name="soptask_staff_due"),
            models.Index(fields=["tenant", "sop", "status"], name="soptask_sop_status"),
        ]


class SopSegmentMember(TenantModel):
    """The customers a segment-triggered SOP saw in its segment at the last check: who is in the segment
    now and not here has entered it (and enters the SOP); who is here and not in it any more has left."""

    sop = models.ForeignKey(Sop, on_delete=models.CASCADE, related_name="+", db_index=False)
    contact = models.ForeignKey("contacts.Contact", on_delete=models.CASCADE, related_name="+")
    seen_at = models.DateTimeField()

    class Meta(TenantModel.Meta):
        constraints = [
            models.UniqueConstraint(fields=["tenant", "sop", "contact"], name="sopsegmentmember_unique"),
        ]
