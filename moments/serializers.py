"""Shapes of the Moments API. Inputs check types here (strict, ``scrm.api.serializers``); the rules across
fields and the ids are checked by the services (``moments.services.compose``), with the same field paths.
Answers are built by the views from the selectors' rows; every field says what it is, for the dashboard's
generated types."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field

from campaigns.serializers import AttachmentRefSerializer, TenantDateTimeField
from scrm.api import serializers
from scrm.api.fields import ActorField

from .models import CreateType, InteractionKind, MemberSync, Moment, MomentSettings, MomentTask, TaskStatus
from .services.compose import MAX_IDS, TEXT_MAX
from .services.settings import REMIND_AFTER_HOURS_MAX

# -- inputs ---------------------------------------------------------------------------------------


def _ids(field: str, help_text: str) -> serializers.ListField:
    return serializers.ListField(
        child=serializers.IntegerField(min_value=1),
        required=False,
        max_length=MAX_IDS[field],
        help_text=help_text,
    )


def _compose_fields() -> dict[str, serializers.Field]:
    return {
        "text": serializers.CharField(
            required=False,
            allow_blank=True,
            max_length=TEXT_MAX,
            trim_whitespace=False,  # the service trims, and counts what it keeps
            help_text=f"At most {TEXT_MAX} characters (WeCom's limit). A text or attachments: not both "
            "empty (code empty, at text).",
        ),
        "attachments": serializers.ListField(
            child=AttachmentRefSerializer(),
            required=False,
            max_length=9,
            help_text="Materials of the library: at most 9 images, or 1 video, or 1 link, never mixed "
            "(WeCom's rule; codes say which).",
        ),
        "staff_ids": _ids(
            "staff_ids",
            "Members who publish it (staff ids): active, with WeCom's customer-contact permission "
            "(code cannot_publish). With department_ids empty too: every member who may publish.",
        ),
        "department_ids": _ids(
            "department_ids",
            "Departments (Siyu's department ids) whose members, sub-departments included, publish it.",
        ),
        "tag_ids": _ids(
            "tag_ids", "Customer tags (ids): only customers with any of them see it; empty: every customer."
        ),
        "scheduled_at": TenantDateTimeField(
            required=False,
            allow_null=True,
            help_text="The planned time (without an offset: the tenant's time zone); in the future (code "
            "in_the_past). Publishing with it schedules the task.",
        ),
    }


class MomentTaskCreateSerializer(serializers.Serializer):
    """A new draft: the text, the library's materials, who publishes it and which customers see it."""

    def get_fields(self):
        return {**_compose_fields(), **super().get_fields()}


class MomentTaskUpdateSerializer(MomentTaskCreateSerializer):
    """The fields to change of a draft or scheduled task (the others stay)."""


class MomentTaskPreviewSerializer(serializers.Serializer):
    """The range of a task being composed: who would publish it and see it."""

    def get_fields(self):
        fields = _compose_fields()
        return {name: fields[name] for name in ("staff_ids", "department_ids", "tag_ids")}


class MomentPublishSerializer(serializers.Serializer):
    scheduled_at = TenantDateTimeField(
        required=False,
        allow_null=True,
        help_text="Publish at this time (without an offset: the tenant's time zone; in the future, code "
        "in_the_past); absent or null: now.",
    )


class MomentRemindSerializer(serializers.Serializer):
    staff_ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1),
        required=False,
        allow_null=True,
        max_length=MAX_IDS["staff_ids"],
        help_text="Only these members (staff ids); absent or null: every member who has not published.",
    )


class MomentSettingsSerializer(serializers.ModelSerializer):
    remind_after_hours = serializers.IntegerField(
        min_value=0,
        max_value=REMIND_AFTER_HOURS_MAX,
        required=False,
        help_text="Members who have not published a corp post this many hours after it reached them get "
        "one WeCom app message (all their pending posts in one); 0: no automatic reminders.",
    )
    manager_digest = serializers.BooleanField(
        required=False,
        help_text="Each day at 18:00 (the tenant's time zone) every department leader gets one app message: "
        "their members' unpublished posts.",
    )

    class Meta:
        model = MomentSettings
        fields = ["remind_after_hours", "manager_digest", "updated_at"]
        read_only_fields = ["updated_at"]


# -- shared pieces of answers ---------------------------------------------------------------------


class MomentStaffSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text="Staff id.")
    userid = serializers.CharField(help_text="WeCom userid.")
    name = serializers.CharField()
    avatar = serializers.CharField(help_text="WeCom's picture URL; may be empty.")


class MomentFiguresSerializer(serializers.Serializer):
    """What tracking counted: over every member's copy, or, for a sales member, over its own copy."""

    members = serializers.IntegerField(help_text="Members asked to publish it (1 for a member's own post).")
    published = serializers.IntegerField(help_text="Members who published it.")
    reach = serializers.IntegerField(help_text="Customers who can see it (corp posts).")
    likes = serializers.IntegerField()
    comments = serializers.IntegerField()
    engaged_customers = serializers.IntegerField(help_text="Distinct customers who liked or commented.")


def _figures_field() -> serializers.SerializerMethodField:
    return serializers.SerializerMethodField(
        help_text="Its figures (a sales member: over its own copy only)."
    )


class MomentSummarySerializer(serializers.Serializer):
    """The Moment a task became."""

    id = serializers.IntegerField(help_text="Siyu's id of the Moment (/moments/{id}/).")
    moment_id = serializers.CharField(help_text="WeCom's moment_id.")
    cancelled = serializers.BooleanField()
    last_polled_at = serializers.DateTimeField(allow_null=True, help_text="When tracking last read WeCom.")
    next_poll_at = serializers.DateTimeField(
        allow_null=True, help_text="When tracking reads WeCom next; null: tracking has finished (14 days)."
    )
    figures = MomentFiguresSerializer()


def figures_of(context: dict, moment_pk: int) -> dict:
    """A Moment's figures from the view's context (``figures``: moment pk → figures, one query a page)."""
    return context["figures"][moment_pk]


# -- tasks ----------------------------------------------------------------------------------------


class MomentTaskSerializer(serializers.ModelSerializer):
    """A Moments task in lists: what it says, its state, and the Moment it became with its figures."""

    status = serializers.ChoiceField(
        choices=TaskStatus.choices,
        help_text="draft → scheduled (due at scheduled_at) or submitting (being created in WeCom) → "
        "publishing (members publish it) → cancelled; failed when WeCom refused it (see error).",
    )
    attachments = AttachmentRefSerializer(many=True)
    staff_ids = serializers.ListField(
        child=serializers.IntegerField(), help_text="Members named (staff ids)."
    )
    department_ids = serializers.ListField(
        child=serializers.IntegerField(), help_text="Departments named (Siyu's ids)."
    )
    tag_ids = serializers.ListField(child=serializers.IntegerField(), help_text="Customer tags named (ids).")
    error = serializers.JSONField(help_text="WeCom's refusal ({errcode, errmsg}) when failed; else {}.")
    moment = serializers.SerializerMethodField(help_text="The Moment it became, once in WeCom; else null.")
    created_by = ActorField()

    class Meta:
        model = MomentTask
        fields = [
            "id",
            "text",
            "attachments",
            "staff_ids",
            "department_ids",
            "tag_ids",
            "status",
            "scheduled_at",
            "submitted_at",
            "cancelled_at",
            "error",
            "moment",
            "created_by",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    @extend_schema_field(MomentSummarySerializer(allow_null=True))
    def get_moment(self, task: MomentTask) -> dict | None:
        moment = task.moment
        if moment is None:
            return None
        return {
            "id": moment.pk,
            "moment_id": moment.moment_id,
            "cancelled": moment.cancelled,
            "last_polled_at": moment.last_polled_at,
            "next_poll_at": moment.next_poll_at,
            "figures": figures_of(self.context, moment.pk),
        }


class MomentAttachmentPreviewSerializer(serializers.Serializer):
    """An attachment as the compose preview draws it."""

    material_id = serializers.IntegerField()
    kind = serializers.CharField(help_text="image, video or link; empty when the material is gone.")
    title = serializers.CharField()
    url = serializers.CharField(help_text="link: the page it opens.")
    description = serializers.CharField(help_text="link: the card's second line.")
    file_url = serializers.CharField(
        allow_null=True, help_text="image, video: the bytes (tenant members only)."
    )
    preview_url = serializers.CharField(
        allow_null=True,
        help_text="An image to show: the image, or a link's cover (its file, else its picture URL).",
    )
    deleted = serializers.BooleanField(help_text="Deleted from the library since (still sent as it was).")


class MomentNamedIdSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField(help_text="Empty when Siyu does not know it (any more).")


class MomentNamedUseridSerializer(serializers.Serializer):
    userid = serializers.CharField()
    name = serializers.CharField(help_text="Empty when Siyu does not know the member.")


class MomentInvalidSendersSerializer(serializers.Serializer):
    users = MomentNamedUseridSerializer(many=True, help_text="Members WeCom could not ask to publish it.")
    departments = MomentNamedIdSerializer(
        many=True, help_text="Departments WeCom could not use (WeCom's department ids)."
    )


class MomentInvalidTagSerializer(serializers.Serializer):
    wecom_id = serializers.CharField(help_text="WeCom's tag id.")
    name = serializers.CharField(help_text="Empty when Siyu does not know the tag.")


class MomentTaskDetailSerializer(MomentTaskSerializer):
    """A task with what its page shows: the materials, the range by name, what WeCom refused, and what
    the caller may do with it now."""

    attachments_preview = serializers.SerializerMethodField(
        help_text="The attachments, as the preview draws them."
    )
    staff = serializers.SerializerMethodField(help_text="The members named (staff_ids), with names.")
    departments = serializers.SerializerMethodField(help_text="The departments named, with names.")
    tags = serializers.SerializerMethodField(help_text="The customer tags named, with names.")
    invalid_senders = serializers.SerializerMethodField(
        help_text="From WeCom's job result: members and departments it could not use."
    )
    invalid_tags = serializers.SerializerMethodField(
        help_text="From WeCom's job result: tags it could not use."
    )
    can_edit = serializers.SerializerMethodField(
        help_text="A draft or scheduled task, for those who run Moments."
    )
    can_publish = serializers.SerializerMethodField()
    can_cancel = serializers.SerializerMethodField(help_text="Draft, scheduled or publishing.")
    can_delete = serializers.SerializerMethodField(help_text="Drafts only.")
    can_remind = serializers.SerializerMethodField(help_text="Publishing, and the tenant has a WeCom app.")
    can_refresh = serializers.SerializerMethodField(help_text="Once it is in WeCom.")

    class Meta(MomentTaskSerializer.Meta):
        fields = [
            *MomentTaskSerializer.Meta.fields,
            "attachments_preview",
            "staff",
            "departments",
            "tags",
            "invalid_senders",
            "invalid_tags",
            "can_edit",
            "can_publish",
            "can_cancel",
            "can_delete",
            "can_remind",
            "can_refresh",
        ]
        read_only_fields = fields

    def _names(self, key: str) -> dict:
        return self.context["names"][key]

    @extend_schema_field(MomentAttachmentPreviewSerializer(many=True))
    def get_attachments_preview(self, task: MomentTask) -> list[dict]:
        return self.context["attachments"]

    @extend_schema_field(MomentStaffSerializer(many=True))
    def get_staff(self, task: MomentTask) -> list[dict]:
        staff = self._names("staff")
        return [staff[pk] for pk in task.staff_ids if pk in staff]

    @extend_schema_field(MomentNamedIdSerializer(many=True))
    def get_departments(self, task: MomentTask) -> list[dict]:
        names = self._names("departments")
        return [{"id": pk, "name": names.get(pk, "")} for pk in task.department_ids]

    @extend_schema_field(MomentNamedIdSerializer(many=True))
    def get_tags(self, task: MomentTask) -> list[dict]:
        names = self._names("tags")
        return [{"id": pk, "name": names.get(pk, "")} for pk in task.tag_ids]

    @extend_schema_field(MomentInvalidSendersSerializer)
    def get_invalid_senders(self, task: MomentTask) -> dict:
        users, departments = self._names("invalid_users"), self._names("invalid_departments")
        invalid = task.invalid_senders or {}
        return {
            "users": [{"userid": u, "name": users.get(u, "")} for u in invalid.get("user_list") or ()],
            "departments": [
                {"id": d, "name": departments.get(d, "")} for d in invalid.get("department_list") or ()
            ],
        }

    @extend_schema_field(MomentInvalidTagSerializer(many=True))
    def get_invalid_tags(self, task: MomentTask) -> list[dict]:
        names = self._names("invalid_tags")
        return [{"wecom_id": str(t), "name": names.get(str(t), "")} for t in task.invalid_tags or ()]

    def _runs(self) -> bool:
        return bool(self.context.get("runs_moments"))

    def get_can_edit(self, task: MomentTask) -> bool:
        return self._runs() and task.status in (TaskStatus.DRAFT, TaskStatus.SCHEDULED)

    def get_can_publish(self, task: MomentTask) -> bool:
        return self.get_can_edit(task)

    def get_can_cancel(self, task: MomentTask) -> bool:
        return self._runs() and task.status in (TaskStatus.DRAFT, TaskStatus.SCHEDULED, TaskStatus.PUBLISHING)

    def get_can_delete(self, task: MomentTask) -> bool:
        return self._runs() and task.status == TaskStatus.DRAFT

    def get_can_remind(self, task: MomentTask) -> bool:
        return self._runs() and task.status == TaskStatus.PUBLISHING and bool(self.context.get("has_app"))

    def get_can_refresh(self, task: MomentTask) -> bool:
        return self._runs() and task.moment_id is not None


class MomentTaskPreviewResultSerializer(serializers.Serializer):
    members = serializers.IntegerField(help_text="Members who would be asked to publish it.")
    customers = serializers.IntegerField(
        help_text="Distinct customers (not lost) of theirs who would see it once all publish it."
    )
    invalid = serializers.DictField(
        child=serializers.ListField(child=serializers.IntegerField()),
        help_text="Ids left out, by field (staff_ids, department_ids, tag_ids): unknown, or a member who "
        "cannot publish.",
    )


class MomentRemindResultSerializer(serializers.Serializer):
    reminded = serializers.IntegerField(help_text="Members who got an app message.")
    skipped_published = serializers.IntegerField(help_text="Members left out: they published it already.")
    skipped_recent = serializers.IntegerField(
        help_text="Members left out: reminded of Moments in the last 10 minutes, or at WeCom's "
        "per-member limit."
    )
    app_messages = serializers.IntegerField(help_text="WeCom message/send calls made.")
    errors = serializers.ListField(child=serializers.JSONField(), help_text="WeCom's refusals.")


# -- Moments --------------------------------------------------------------------------------------


class MomentSerializer(serializers.ModelSerializer):
    """A Moment as WeCom reports it: a corp post (ours, or made in WeCom's admin console) or a member's
    own post, with its tracking figures."""

    create_type = serializers.ChoiceField(
        choices=CreateType.choices, help_text="0: a corp post members publish; 1: a member's own post."
    )
    creator = serializers.SerializerMethodField(
        help_text="The member who posted it (or made the corp post in WeCom); null when WeCom names nobody "
        "or Siyu does not know the member yet (creator_userid)."
    )
    visible_type = serializers.IntegerField(help_text="0: customers with some tags; 1: every customer.")
    content = serializers.JSONField(
        help_text="What WeCom says it carries: {image: [...], video: {...}, link: {...}}."
    )
    task = serializers.SerializerMethodField(help_text="The Siyu task it was made from; null for others.")
    figures = _figures_field()
    publish_rate = serializers.SerializerMethodField(
        help_text="published / members (0 to 1); null when 0 members."
    )
    tracking = serializers.SerializerMethodField(help_text="Still read from WeCom (its first 14 days).")

    class Meta:
        model = Moment
        fields = [
            "id",
            "moment_id",
            "create_type",
            "creator",
            "creator_userid",
            "visible_type",
            "text",
            "content",
            "created_at_wecom",
            "cancelled",
            "task",
            "figures",
            "publish_rate",
            "tracking",
            "polls",
            "last_polled_at",
            "next_poll_at",
        ]
        read_only_fields = fields

    @extend_schema_field(MomentStaffSerializer(allow_null=True))
    def get_creator(self, moment: Moment) -> dict | None:
        staff = moment.creator
        if staff is None:
            return None
        return {"id": staff.pk, "userid": staff.userid, "name": staff.name, "avatar": staff.avatar}

    @extend_schema_field(serializers.IntegerField(allow_null=True))
    def get_task(self, moment: Moment) -> int | None:
        task = getattr(moment, "task", None)  # the reverse one-to-one, select_related by the selectors
        return task.pk if task is not None else None

    @extend_schema_field(MomentFiguresSerializer)
    def get_figures(self, moment: Moment) -> dict:
        return figures_of(self.context, moment.pk)

    @extend_schema_field(serializers.FloatField(allow_null=True))
    def get_publish_rate(self, moment: Moment) -> float | None:
        figures = figures_of(self.context, moment.pk)
        return round(figures["published"] / figures["members"], 4) if figures["members"] else None

    def get_tracking(self, moment: Moment) -> bool:
        return moment.next_poll_at is not None


class MomentPublicationSerializer(serializers.Serializer):
    """One member's copy of a Moment."""

    id = serializers.IntegerField()
    staff = MomentStaffSerializer()
    departments = serializers.ListField(
        child=serializers.CharField(), help_text="The member's department names."
    )
    published = serializers.BooleanField()
    published_at = serializers.DateTimeField(
        allow_null=True,
        help_text="When tracking first saw it published (WeCom gives no time for corp posts; a member's "
        "own post: when posted).",
    )
    reach = serializers.IntegerField(help_text="Customers who can see this copy.")
    likes = serializers.IntegerField()
    comments = serializers.IntegerField()
    reminded_at = serializers.DateTimeField(allow_null=True, help_text="The last reminder naming this post.")


class MomentInteractionCustomerSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    avatar = serializers.CharField()


class MomentInteractionSerializer(serializers.Serializer):
    """A like or a comment on one member's copy (WeCom gives comments no text)."""

    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=InteractionKind.choices)
    occurred_at = serializers.DateTimeField()
    member = MomentStaffSerializer(help_text="Whose copy.")
    customer = MomentInteractionCustomerSerializer(
        allow_null=True, help_text="The customer, when Siyu knows them (else see external_userid)."
    )
    external_userid = serializers.CharField(help_text="The customer's WeCom id; empty for a colleague.")
    colleague = MomentNamedUseridSerializer(
        allow_null=True, help_text="A member who liked or commented; else null."
    )


class MomentStatsTotalsSerializer(MomentFiguresSerializer):
    publish_rate = serializers.FloatField(
        allow_null=True, help_text="published / members; null when 0 members."
    )
    interaction_rate = serializers.FloatField(
        allow_null=True, help_text="engaged_customers / reach; null when it reaches nobody."
    )


class MomentStatsDepartmentSerializer(serializers.Serializer):
    department_id = serializers.IntegerField(help_text="WeCom's department id.")
    name = serializers.CharField()
    members = serializers.IntegerField(
        help_text="Members of it asked to publish (a member of two counts in both)."
    )
    published = serializers.IntegerField()
    publish_rate = serializers.FloatField(allow_null=True)


class MomentStatsDaySerializer(serializers.Serializer):
    date = serializers.DateField(help_text="A day in the tenant's time zone.")
    published = serializers.IntegerField(help_text="Members first seen published that day.")
    likes = serializers.IntegerField()
    comments = serializers.IntegerField()


class MomentStatsSerializer(serializers.Serializer):
    """A Moment's figures (a sales member: over its own copy)."""

    totals = MomentStatsTotalsSerializer()
    by_department = MomentStatsDepartmentSerializer(many=True, help_text="Most members first.")
    by_day = MomentStatsDaySerializer(
        many=True, help_text="From the day it was posted to the last day with news."
    )


# -- the calendar and the ranking -----------------------------------------------------------------


class MomentCalendarItemSerializer(serializers.Serializer):
    date = serializers.DateField(help_text="The day in the tenant's time zone.")
    at = serializers.DateTimeField(help_text="Posted, or planned (scheduled), or being created since.")
    kind = serializers.ChoiceField(
        choices=["scheduled", "submitting", "corp", "member"],
        help_text="scheduled / submitting: a task not in WeCom yet; corp: a corp post; member: a "
        "member's own.",
    )
    task_id = serializers.IntegerField(allow_null=True)
    moment_id = serializers.IntegerField(allow_null=True, help_text="Siyu's id of the Moment.")
    text = serializers.CharField(help_text="Its first 60 characters.")
    creator = serializers.CharField(help_text="The member who posted it, or who composed the task.")
    published = serializers.IntegerField(allow_null=True, help_text="Null for a task not in WeCom yet.")
    members = serializers.IntegerField(allow_null=True)


class MomentCalendarDaySerializer(serializers.Serializer):
    date = serializers.DateField()
    scheduled = serializers.IntegerField()
    submitting = serializers.IntegerField()
    corp = serializers.IntegerField()
    member = serializers.IntegerField()


class MomentCalendarSerializer(serializers.Serializer):
    from_ = serializers.DateField(help_text="First day.")
    to = serializers.DateField(help_text="Last day, included.")
    days = MomentCalendarDaySerializer(many=True, help_text="Each day with something, counted by kind.")
    items = MomentCalendarItemSerializer(many=True, help_text="Earliest first, at most 1,000.")
    truncated = serializers.BooleanField(help_text="More items than listed: narrow the range.")

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = fields.pop("from_")
        return fields


class MomentRankingRowSerializer(serializers.Serializer):
    staff = MomentStaffSerializer()
    asked = serializers.IntegerField(help_text="Corp posts of the period it was asked to publish.")
    published = serializers.IntegerField(help_text="Of those, published.")
    publish_rate = serializers.FloatField(allow_null=True, help_text="published / asked; null when asked 0.")
    own_posts = serializers.IntegerField(help_text="Its own posts in the period.")
    likes = serializers.IntegerField(help_text="Likes on its copies of the period's posts.")
    comments = serializers.IntegerField()
    engaged_customers = serializers.IntegerField(help_text="Distinct customers who liked or commented them.")


class MomentRankingSerializer(serializers.Serializer):
    from_ = serializers.DateField()
    to = serializers.DateField()
    results = MomentRankingRowSerializer(
        many=True, help_text="Every member with a post in the period (sales: itself)."
    )

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = fields.pop("from_")
        return fields


# -- a customer's engagement, the members' posts sync -------------------------------------------


class MomentEngagementMomentSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text="Siyu's id of the Moment.")
    text = serializers.CharField(help_text="Its first 60 characters.")


class MomentEngagementItemSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=InteractionKind.choices)
    occurred_at = serializers.DateTimeField()
    moment = MomentEngagementMomentSerializer()
    member = MomentStaffSerializer(help_text="Whose copy they liked or commented.")


class MomentEngagementSerializer(serializers.Serializer):
    """A customer's engagement with Moments."""

    likes = serializers.IntegerField()
    comments = serializers.IntegerField()
    last_interaction_at = serializers.DateTimeField(allow_null=True)
    posts_seen = serializers.IntegerField(
        help_text="Corp posts they could see (a member's copy shown to them)."
    )
    recent = MomentEngagementItemSerializer(many=True, help_text="The latest 20, newest first.")


class MomentMemberSyncSerializer(serializers.ModelSerializer):
    """The daily read of the members' own posts (and corp posts made in WeCom's admin console)."""

    synced_until = serializers.DateTimeField(allow_null=True, help_text="Posts up to this time are in Siyu.")
    last_run_at = serializers.DateTimeField(allow_null=True)
    moments_read = serializers.IntegerField(help_text="New Moments the last run found.")
    api_calls = serializers.IntegerField(help_text="WeCom calls the last run made.")
    error = serializers.JSONField(help_text="Why the last run stopped early ({errcode, errmsg}); else {}.")

    class Meta:
        model = MemberSync
        fields = ["synced_until", "last_run_at", "moments_read", "api_calls", "error"]
        read_only_fields = fields
