"""Moments (朋友圈): posts the brand publishes through its members, the members' own posts, who published,
who can see them, and who liked or commented.

A ``MomentTask`` is what an operator composes in Siyu. WeCom turns it, asynchronously (a ``jobid`` that
answers for 24 hours, then a ``moment_id``), into one Moment that each member chosen publishes from the
WeCom app (wecom-api.md §8). Every Moment WeCom tells us about is a ``Moment`` row — ours, corp posts
made in WeCom's admin console, and members' own posts (read daily) — so tracking is one mechanism for
all of them: per member a ``MomentPublication`` (published or not, how many customers can see it, likes,
comments), per customer ``MomentReach`` (who can see a corp post) and ``MomentInteraction`` rows. Each
customer's like or comment is also a ``ContactEvent`` (``moment_liked``, ``moment_commented``), written
once, in the transaction that first stores the interaction.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from scrm.tenancy.models import TenantModel


class MomentSettings(TenantModel):
    """Per-tenant rules for Moments (one row per tenant, made on first read)."""

    # Members who have not published a corp post this many hours after it reached them get one app
    # message (coalesced: one per member for all their pending posts). 0: no automatic reminders.
    remind_after_hours = models.PositiveSmallIntegerField(default=24)
    # A daily app message to each department leader: their members' unpublished posts.
    manager_digest = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta(TenantModel.Meta):
        constraints = [models.UniqueConstraint(fields=["tenant"], name="momentsettings_one_per_tenant")]


class TaskStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    SCHEDULED = "scheduled", "Scheduled"
    # Claimed for add_moment_task, then waiting for the job's result. A task claimed with no jobid after
    # its worker died may or may not exist in WeCom: it is looked for in get_moment_list (reconciled)
    # before it is submitted again.
    SUBMITTING = "submitting", "Being created in WeCom"
    PUBLISHING = "publishing", "In WeCom: members publish it"
    CANCELLED = "cancelled", "Cancelled"
    FAILED = "failed", "WeCom refused it"


class MomentTask(TenantModel):
    """A post composed in Siyu for members to publish to their customers' Moments."""

    text = models.TextField(blank=True)  # ≤ 2,000 characters; text and attachments are not both empty
    # [{"material_id": N}] from the content library: ≤ 9 images, or 1 video, or 1 link.
    attachments = models.JSONField(default=list, blank=True)
    # Who publishes it: Staff and Department ids of this tenant. Both empty: every member WeCom allows
    # (the app's visible range), as WeCom reads an empty sender_list.
    staff_ids = models.JSONField(default=list, blank=True)
    department_ids = models.JSONField(default=list, blank=True)
    # Which customers see it: Tag ids; empty: all of each member's customers.
    tag_ids = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=16, choices=TaskStatus.choices, default=TaskStatus.DRAFT)
    scheduled_at = models.DateTimeField(null=True, blank=True)  # None: as soon as it is published
    # The WeCom side: the job, then the Moment it became.
    claimed_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    # sha256 of the add_moment_task body (text, attachments' kinds and links, range): how a Moment found
    # in get_moment_list after a lost answer is recognised as this task's.
    fingerprint = models.CharField(max_length=64, blank=True)
    jobid = models.CharField(max_length=128, blank=True)
    submitted_at = models.DateTimeField(null=True, blank=True)  # the jobid answers for 24 hours from here
    # When the job's result is read next (claimed by the beat tick), never only a broker ETA.
    next_check_at = models.DateTimeField(null=True, blank=True)
    moment = models.OneToOneField(
        "Moment", null=True, blank=True, on_delete=models.SET_NULL, related_name="task"
    )
    # From the job's result: senders and tags WeCom could not use ({"user_list": [...], "department_list":
    # [...]} and [tag wecom ids]), shown on the task's page.
    invalid_senders = models.JSONField(default=dict, blank=True)
    invalid_tags = models.JSONField(default=list, blank=True)
    error = models.JSONField(default=dict, blank=True)  # WeCom's errcode/errmsg when refused
    cancelled_at = models.DateTimeField(null=True, blank=True)
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
                name="momenttask_unique_idempotency_key",
            ),
        ]
        indexes = [
            models.Index(fields=["tenant", "-id"], name="momenttask_tenant_id"),
            models.Index(fields=["tenant", "status", "scheduled_at"], name="momenttask_tenant_due"),
            # The beat tick looks across tenants for jobs whose result is due.
            models.Index(
                fields=["next_check_at"],
                condition=models.Q(next_check_at__isnull=False),
                name="momenttask_check_due",
            ),
        ]

    def __str__(self) -> str:
        return self.text[:40] or f"Moments task {self.pk}"


class CreateType(models.IntegerChoices):
    """WeCom's ``create_type``."""

    CORP = 0, "Corp post (published by members)"
    MEMBER = 1, "A member's own post"


class Moment(TenantModel):
    """One Moment as WeCom knows it (``moment_id``), whoever made it, and the totals of its tracking."""

    moment_id = models.CharField(max_length=128)
    create_type = models.PositiveSmallIntegerField(choices=CreateType.choices)
    # The member who posted it (a member's own post), or who made a corp post in WeCom; None when WeCom
    # names nobody (posts made through the API) or a userid we do not know yet (``creator_userid``).
    creator = models.ForeignKey(
        "contacts.Staff", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    creator_userid = models.CharField(max_length=64, blank=True)
    visible_type = models.PositiveSmallIntegerField(default=1)  # 0 some customers (tags), 1 all
    text = models.TextField(blank=True)
    # What get_moment_list says it carries: {"image": [...], "video": {...}, "link": {...}, ...}.
    content = models.JSONField(default=dict, blank=True)
    created_at_wecom = models.DateTimeField()
    cancelled = models.BooleanField(default=False)
    # Totals over its publications, kept by the tracking pass (the lists and the calendar read these).
    members = models.PositiveIntegerField(default=0)  # asked to publish (corp posts); 1 for a member's own
    published = models.PositiveIntegerField(default=0)
    reach = models.PositiveIntegerField(default=0)  # customers who can see it (corp posts)
    likes = models.PositiveIntegerField(default=0)
    comments = models.PositiveIntegerField(default=0)
    engaged_customers = models.PositiveIntegerField(default=0)  # distinct customers who liked or commented
    # Tracking: by age (tracking.py), due in the database and claimed by the beat tick. None: finished
    # (or not started).
    next_poll_at = models.DateTimeField(null=True, blank=True)
    polls = models.PositiveIntegerField(default=0)
    last_polled_at = models.DateTimeField(null=True, blank=True)
    read_at = models.DateTimeField(auto_now_add=True)

    class Meta(TenantModel.Meta):
        ordering = ["-created_at_wecom", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "moment_id"], name="moment_unique_moment_id")
        ]
        indexes = [
            models.Index(fields=["tenant", "-created_at_wecom"], name="moment_tenant_created"),
            models.Index(fields=["tenant", "creator", "-created_at_wecom"], name="moment_tenant_creator"),
            models.Index(
                fields=["next_poll_at"],
                condition=models.Q(next_poll_at__isnull=False),
                name="moment_poll_due",
            ),
        ]

    def __str__(self) -> str:
        return self.moment_id


class MomentPublication(TenantModel):
    """One member's copy of a Moment: asked to publish it (a corp post) or its author (their own post)."""

    moment = models.ForeignKey(Moment, on_delete=models.CASCADE, related_name="publications", db_index=False)
    staff = models.ForeignKey("contacts.Staff", on_delete=models.PROTECT, related_name="+")
    published = models.BooleanField(default=False)
    # WeCom gives no publish time for corp posts: the poll that first saw it published (a member's own
    # post: its create_time). The poll schedule bounds the error (an hour on the first day).
    published_at = models.DateTimeField(null=True, blank=True)
    reach = models.PositiveIntegerField(default=0)
    reach_read = models.BooleanField(default=False)  # get_moment_send_result read to the end once
    likes = models.PositiveIntegerField(default=0)
    comments = models.PositiveIntegerField(default=0)
    # sha256 of the last get_moment_comments answer: an unchanged answer writes nothing.
    comments_digest = models.CharField(max_length=64, blank=True)
    reminded_at = models.DateTimeField(null=True, blank=True)  # the last reminder that named this post

    class Meta(TenantModel.Meta):
        ordering = ["moment", "staff"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "moment", "staff"], name="momentpublication_unique"),
        ]
        indexes = [
            models.Index(fields=["tenant", "staff", "published"], name="momentpub_tenant_staff"),
        ]


class MomentReach(TenantModel):
    """A customer who can see one member's copy of a corp post (get_moment_send_result)."""

    moment = models.ForeignKey(Moment, on_delete=models.CASCADE, related_name="+", db_index=False)
    staff = models.ForeignKey("contacts.Staff", on_delete=models.CASCADE, related_name="+", db_index=False)
    external_userid = models.CharField(max_length=64)
    # None when the customer is not in Siyu yet (the next contacts sync brings them).
    contact = models.ForeignKey(
        "contacts.Contact", null=True, blank=True, on_delete=models.CASCADE, related_name="+", db_index=False
    )

    class Meta(TenantModel.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "moment", "staff", "external_userid"], name="momentreach_unique"
            ),
        ]
        indexes = [
            models.Index(
                fields=["tenant", "contact"],
                condition=models.Q(contact__isnull=False),
                name="momentreach_contact",
            ),
        ]


class InteractionKind(models.TextChoices):
    LIKE = "like", "Like"
    COMMENT = "comment", "Comment"


class MomentInteraction(TenantModel):
    """A like or a comment on one member's copy of a Moment, by a customer or by a colleague.

    WeCom gives interactions no id and comments no text: one is known by (moment, member, kind, who,
    when), which the unique constraint keys, so re-reading the same answer inserts nothing.
    """

    moment = models.ForeignKey(Moment, on_delete=models.CASCADE, related_name="+", db_index=False)
    staff = models.ForeignKey("contacts.Staff", on_delete=models.CASCADE, related_name="+", db_index=False)
    kind = models.CharField(max_length=8, choices=InteractionKind.choices)
    external_userid = models.CharField(max_length=64, blank=True)  # a customer's, or
    by_userid = models.CharField(max_length=64, blank=True)  # a colleague's
    contact = models.ForeignKey(
        "contacts.Contact", null=True, blank=True, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    occurred_at = models.DateTimeField()

    class Meta(TenantModel.Meta):
        ordering = ["-occurred_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "moment", "staff", "kind", "external_userid", "by_userid", "occurred_at"],
                name="momentinteraction_unique",
            ),
        ]
        indexes = [
            models.Index(fields=["tenant", "moment", "-occurred_at"], name="momentinteraction_moment"),
            # A customer's engagement (their page, the segment filter), newest first.
            models.Index(
                fields=["tenant", "contact", "-occurred_at"],
                condition=models.Q(contact__isnull=False),
                name="momentinteraction_contact",
            ),
        ]


class ReminderKind(models.TextChoices):
    AUTO = "auto", "Automatic (not published after the set hours)"
    MANUAL = "manual", "Sent from the dashboard"
    DIGEST = "digest", "Daily digest to a department leader"


class MomentReminder(TenantModel):
    """One WeCom app message to one member about their unpublished posts: the ledger the per-member
    limits (30 a minute, 1,000 an hour from one app) and the coalescing read."""

    staff = models.ForeignKey("contacts.Staff", on_delete=models.CASCADE, related_name="+", db_index=False)
    kind = models.CharField(max_length=8, choices=ReminderKind.choices)
    posts = models.PositiveIntegerField(default=0)  # how many unpublished posts it named
    sent_at = models.DateTimeField()
    error = models.JSONField(default=dict, blank=True)  # WeCom's answer when the message was refused

    class Meta(TenantModel.Meta):
        ordering = ["-sent_at", "-id"]
        indexes = [models.Index(fields=["tenant", "staff", "-sent_at"], name="momentreminder_staff")]


class MemberSync(TenantModel):
    """Where the daily read of get_moment_list (members' own and corp posts) got to, per tenant."""

    synced_until = models.DateTimeField(null=True, blank=True)
    last_run_at = models.DateTimeField(null=True, blank=True)
    moments_read = models.PositiveIntegerField(default=0)  # in the last run
    api_calls = models.PositiveIntegerField(default=0)  # in the last run
    error = models.JSONField(default=dict, blank=True)

    class Meta(TenantModel.Meta):
        constraints = [models.UniqueConstraint(fields=["tenant"], name="momentsync_one_per_tenant")]
