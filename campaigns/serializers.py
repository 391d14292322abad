"""Shapes of the campaigns API. Inputs check types here (strict, ``scrm.api.serializers``); the rules
across fields and the ids are checked by the services, with the same field paths."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.utils import timezone
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.plumbing import ResolvedComponent
from drf_spectacular.utils import PolymorphicProxySerializer, extend_schema_field
from rest_framework.exceptions import ErrorDetail

from contacts.filters import (
    ADD_WAYS,
    COUNT_PATTERN,
    DAYS_PATTERN,
    FILTER_PARAMS,
    ID_LIST_PATTERN,
    LTV_PATTERN,
    PROFILE_PATTERN,
    SCORE_PATTERN,
)
from contacts.models import ContactStatus
from scrm.api import serializers
from scrm.api.fields import ActorField
from value.models import Tier

from .models import (
    Campaign,
    CampaignSettings,
    CampaignStatus,
    ChatType,
    ReceiveLimit,
    RecipientStatus,
    SenderRule,
    TaskStatus,
)
from .services import plan as plan_service
from .services.audience import GROUP_NAME_MAX, MAX_IDS
from .services.campaigns import NAME_MAX, TEXT_MAX_BYTES
from .services.caps import period_of
from .services.dispatch import dispatch_progress
from .services.dnd import MAX_PER_REQUEST, REASON_MAX
from .services.settings import settings_zone, time_zone_known

MARKETING_CAP_MAX = 100

# -- settings and do-not-disturb ------------------------------------------------------------------


class PeriodSerializer(serializers.Serializer):
    limit = serializers.IntegerField(help_text="Mass messages a customer may receive in this period.")
    start = serializers.DateTimeField()
    end = serializers.DateTimeField(help_text="Excluded.")


class CampaignSettingsSerializer(serializers.ModelSerializer):
    receive_limit = serializers.ChoiceField(
        choices=ReceiveLimit.choices,
        required=False,
        help_text="WeCom's receive limit as the corp has it (群发助手 › 设置群发规则): month = as many per "
        "calendar month as the month has days, week = 7 per week (Monday to Sunday), day = 1 per day.",
    )
    sender_rule = serializers.ChoiceField(
        choices=SenderRule.choices,
        required=False,
        help_text="Who sends to a customer several members follow: the member who added them first, or last.",
    )
    marketing_cap_per_week = serializers.IntegerField(
        min_value=1,
        max_value=MARKETING_CAP_MAX,
        allow_null=True,
        required=False,
        help_text="The tenant's own cap on marketing touches per customer in any 7 days; null: off.",
    )
    time_zone = serializers.CharField(
        max_length=64,
        required=False,
        help_text="IANA name (Asia/Shanghai): scheduled times without an offset, and the caps' days, "
        "weeks and months. A name that is no zone is refused with the code does_not_exist.",
    )
    current_period = serializers.SerializerMethodField(
        help_text="The receive limit's period now, in the tenant's time zone."
    )

    class Meta:
        model = CampaignSettings
        fields = [
            "receive_limit",
            "sender_rule",
            "marketing_cap_per_week",
            "time_zone",
            "current_period",
            "updated_at",
        ]
        read_only_fields = ["updated_at"]

    def validate_time_zone(self, value: str) -> str:
        if not time_zone_known(value):
            raise serializers.ValidationError(
                ErrorDetail(
                    f"{value!r} is no time zone: give an IANA name such as Asia/Shanghai.",
                    code="does_not_exist",
                )
            )
        return value

    @extend_schema_field(PeriodSerializer)
    def get_current_period(self, settings: CampaignSettings) -> dict[str, Any]:
        start, end, limit = period_of(
            timezone.now(), mode=settings.receive_limit, zone=settings_zone(settings)
        )
        return {"limit": limit, "start": start, "end": end}


class ContactRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    external_userid = serializers.CharField()
    name = serializers.CharField()
    avatar = serializers.CharField()


class DoNotDisturbSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    contact = ContactRefSerializer()
    reason = serializers.CharField()
    created_by = ActorField()
    created_at = serializers.DateTimeField()


class DoNotDisturbAddSerializer(serializers.Serializer):
    contacts = serializers.ListField(
        child=serializers.IntegerField(min_value=1),
        min_length=1,
        max_length=MAX_PER_REQUEST,
        help_text=f"Customer ids (at most {MAX_PER_REQUEST}); those on the list already stay as they are.",
    )
    reason = serializers.CharField(max_length=REASON_MAX, required=False, allow_blank=True, default="")


class DoNotDisturbAddResultSerializer(serializers.Serializer):
    added = serializers.IntegerField(help_text="How many were not on the list before.")
    entries = DoNotDisturbSerializer(many=True, help_text="Every customer's entry, in the order given.")


# -- audiences ------------------------------------------------------------------------------------

_OPTIONAL_ID = f"^$|{ID_LIST_PATTERN}"
_OPTIONAL_NUMBER = "^$|^ *[0-9]{1,18} *$"


def _enum(values) -> dict[str, Any]:
    return {"type": "string", "enum": ["", *map(str, values)]}


_DATE = {"anyOf": [{"type": "string", "format": "date"}, {"type": "string", "maxLength": 0}]}
FILTER_SCHEMAS: dict[str, dict[str, Any]] = {
    "tags_all": {"type": "string", "pattern": _OPTIONAL_ID, "description": "Tag ids, comma-separated."},
    "tags_any": {"type": "string", "pattern": _OPTIONAL_ID},
    "tags_none": {"type": "string", "pattern": _OPTIONAL_ID},
    "staff": {"type": "string", "description": "A staff member's WeCom userid."},
    "department": {"type": "string", "pattern": _OPTIONAL_NUMBER, "description": "A WeCom department id."},
    "state": {"type": "string", "description": "A channel's state."},
    "add_way": _enum(ADD_WAYS),
    "stage": {"type": "string", "pattern": _OPTIONAL_NUMBER, "description": "A stage id."},
    "status": _enum(ContactStatus.values),
    "gender": _enum((0, 1, 2)),
    "added_after": _DATE,
    "added_before": _DATE,
    "search": {"type": "string"},
    "moments_engaged_within": {"type": "string", "pattern": f"^$|{DAYS_PATTERN}", "description": "Days."},
    "moments_not_engaged_within": {"type": "string", "pattern": f"^$|{DAYS_PATTERN}"},
    "tier": _enum(Tier.values),
    "score_min": {"type": "string", "pattern": f"^$|{SCORE_PATTERN}", "description": "0 to 100."},
    "score_max": {"type": "string", "pattern": f"^$|{SCORE_PATTERN}"},
    "ltv_min": {"type": "string", "pattern": f"^$|{LTV_PATTERN}", "description": "An amount."},
    "ltv_max": {"type": "string", "pattern": f"^$|{LTV_PATTERN}"},
    "orders_min": {"type": "string", "pattern": f"^$|{COUNT_PATTERN}"},
    "purchased_within": {"type": "string", "pattern": f"^$|{DAYS_PATTERN}", "description": "Days."},
    "not_purchased_within": {"type": "string", "pattern": f"^$|{DAYS_PATTERN}"},
    "points_min": {"type": "string", "pattern": f"^$|{COUNT_PATTERN}"},
    "level": {"type": "string", "pattern": _OPTIONAL_NUMBER, "description": "A membership level id."},
    "profile": {
        "type": "string",
        "pattern": f"^$|{PROFILE_PATTERN}",
        "description": "Profile clauses, as the contacts list's `profile`.",
    },
}
assert set(FILTER_SCHEMAS) == set(FILTER_PARAMS)  # the contacts filter language, all of it

SEGMENT_AUDIENCE = {
    "type": "object",
    "description": "A saved segment: its filters as they are when the campaign is sent.",
    "properties": {"segment_id": {"type": "integer", "minimum": 1}},
    "required": ["segment_id"],
    "additionalProperties": False,
}
FILTER_AUDIENCE = {
    "type": "object",
    "description": "The contacts list's filter parameters, as strings (an empty object: every customer).",
    "properties": {
        "filters": {"type": "object", "properties": FILTER_SCHEMAS, "additionalProperties": False}
    },
    "required": ["filters"],
    "additionalProperties": False,
}
_IDS = {"type": "array", "items": {"type": "integer", "minimum": 1}, "maxItems": MAX_IDS}
GROUP_AUDIENCE = {
    "type": "object",
    "description": "Customer groups (not dismissed) of these owners (staff ids), carrying any of these group "
    "tags, whose name contains ``name``; every key optional.",
    "properties": {
        "owner_ids": _IDS,
        "tag_ids": _IDS,
        "name": {"type": "string", "maxLength": GROUP_NAME_MAX},
    },
    "additionalProperties": False,
}


AUDIENCE_SCHEMAS = {
    "SegmentAudience": SEGMENT_AUDIENCE,
    "FilterAudience": FILTER_AUDIENCE,
    "GroupAudience": GROUP_AUDIENCE,
}


class _AudienceField(serializers.Field):
    """Passed to the service as sent (it checks the shape, with paths, and the ids). The schema names
    the shapes ``kinds`` allows (components, see ``AudienceFieldSchema``)."""

    kinds: tuple[str, ...] = ()

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            raise serializers.ValidationError("An object.", code="invalid")
        return data

    def to_representation(self, value):
        return value


class SingleAudienceField(_AudienceField):
    kinds = ("SegmentAudience", "FilterAudience")


class GroupAudienceField(_AudienceField):
    kinds = ("GroupAudience",)


class AnyAudienceField(_AudienceField):
    kinds = ("SegmentAudience", "FilterAudience", "GroupAudience")


class AudienceFieldSchema(OpenApiSerializerFieldExtension):
    target_class = _AudienceField
    match_subclasses = True

    def map_serializer_field(self, auto_schema, direction):
        refs = []
        for name in self.target.kinds:
            component = ResolvedComponent(
                name=name, type=ResolvedComponent.SCHEMA, object=name, schema=AUDIENCE_SCHEMAS[name]
            )
            auto_schema.registry.register_on_missing(component)
            refs.append(component.ref)
        return refs[0] if len(refs) == 1 else {"oneOf": refs}


class TenantDateTimeField(serializers.DateTimeField):
    """An ISO date-time; one without an offset is kept naive, for the service to read in the tenant's
    time zone (DRF would read it in the server's)."""

    def enforce_timezone(self, value):
        return value if timezone.is_naive(value) else super().enforce_timezone(value)


# -- campaign input -------------------------------------------------------------------------------


class AttachmentRefSerializer(serializers.Serializer):
    material_id = serializers.IntegerField(min_value=1, help_text="A material of the content library.")


def _content_fields() -> dict[str, serializers.Field]:
    return {
        "name": serializers.RegexField(r"\S", max_length=NAME_MAX),
        "text": serializers.CharField(
            required=False,
            allow_blank=True,
            max_length=TEXT_MAX_BYTES,
            help_text=f"At most {TEXT_MAX_BYTES} bytes (code too_many_bytes). No placeholders such as "
            "{customer_name}: WeCom sends one text to everyone (code placeholder).",
        ),
        "attachments": serializers.ListField(
            child=AttachmentRefSerializer(),
            required=False,
            max_length=9,
            help_text="At most 9 materials (image, link, miniprogram, video, file). Text or attachments.",
        ),
        "scheduled_at": TenantDateTimeField(
            required=False,
            allow_null=True,
            help_text="The planned send time (the preview's period); without an offset, in the tenant's "
            "time zone. In the future (code in_the_past), at most 30 days ahead (too_far_ahead).",
        ),
    }


class SingleCampaignCreateSerializer(serializers.Serializer):
    chat_type = serializers.ChoiceField(choices=[ChatType.SINGLE.value])
    audience = SingleAudienceField()

    def get_fields(self):
        return {**_content_fields(), **super().get_fields()}


class GroupCampaignCreateSerializer(serializers.Serializer):
    chat_type = serializers.ChoiceField(choices=[ChatType.GROUP.value])
    audience = GroupAudienceField()

    def get_fields(self):
        return {**_content_fields(), **super().get_fields()}


CREATE_SERIALIZERS = {
    ChatType.SINGLE.value: SingleCampaignCreateSerializer,
    ChatType.GROUP.value: GroupCampaignCreateSerializer,
}
CAMPAIGN_CREATE = PolymorphicProxySerializer(
    component_name="CampaignCreate", serializers=CREATE_SERIALIZERS, resource_type_field_name="chat_type"
)


class CampaignUpdateSerializer(serializers.Serializer):
    audience = AnyAudienceField(required=False, help_text="Of the campaign's chat_type (fixed once created).")

    def get_fields(self):
        fields = {**_content_fields(), **super().get_fields()}
        fields["name"].required = False
        return fields


class SinglePreviewSerializer(serializers.Serializer):
    chat_type = serializers.ChoiceField(choices=[ChatType.SINGLE.value])
    audience = SingleAudienceField()
    scheduled_at = TenantDateTimeField(required=False, allow_null=True, help_text="Default: now.")


class GroupPreviewSerializer(serializers.Serializer):
    chat_type = serializers.ChoiceField(choices=[ChatType.GROUP.value])
    audience = GroupAudienceField()
    scheduled_at = TenantDateTimeField(required=False, allow_null=True, help_text="Default: now.")


PREVIEW_SERIALIZERS = {
    ChatType.SINGLE.value: SinglePreviewSerializer,
    ChatType.GROUP.value: GroupPreviewSerializer,
}
CAMPAIGN_PREVIEW = PolymorphicProxySerializer(
    component_name="CampaignPreview", serializers=PREVIEW_SERIALIZERS, resource_type_field_name="chat_type"
)


def by_chat_type(serializers_by_type: dict, data: Any) -> serializers.Serializer:
    """The serializer of the body's ``chat_type``, validated; an unknown type is an error at chat_type."""
    kind = data.get("chat_type") if isinstance(data, dict) else None
    serializer_class = serializers_by_type.get(kind) if isinstance(kind, str) else None
    if serializer_class is None:
        raise serializers.ValidationError(
            {"chat_type": [ErrorDetail(f"One of: {', '.join(serializers_by_type)}.", code="invalid_choice")]}
        )
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer


class SendSerializer(serializers.Serializer):
    scheduled_at = TenantDateTimeField(
        required=False,
        allow_null=True,
        help_text="Send at this time (without an offset: the tenant's time zone); absent or null: now.",
    )


# -- answers --------------------------------------------------------------------------------------


class CampaignStaffSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    userid = serializers.CharField()
    name = serializers.CharField()


class MemberShareSerializer(serializers.Serializer):
    staff = CampaignStaffSerializer()
    recipients = serializers.IntegerField()
    tasks = serializers.IntegerField()


class SkippedCountsSerializer(serializers.Serializer):
    dnd = serializers.IntegerField(help_text="On the do-not-disturb list.")
    no_sender = serializers.IntegerField(help_text="No member who can send follows them (or owns the group).")
    receive_limit = serializers.IntegerField(help_text="Already at WeCom's receive limit for the period.")
    marketing_cap = serializers.IntegerField(help_text="At the tenant's marketing cap.")


class SkippedSampleSerializer(serializers.Serializer):
    target = serializers.CharField(help_text="external_userid or chat_id.")
    contact_id = serializers.IntegerField(allow_null=True)
    group_id = serializers.IntegerField(allow_null=True)
    name = serializers.CharField()
    reason = serializers.ChoiceField(choices=list(plan_service.SKIP_STATUSES))


class PlanRulesSerializer(serializers.Serializer):
    at = serializers.DateTimeField(help_text="The send time the plan is for.")
    time_zone = serializers.CharField()
    receive_limit = serializers.ChoiceField(choices=ReceiveLimit.choices)
    limit = serializers.IntegerField(help_text="Mass messages per customer in the period.")
    period_start = serializers.DateTimeField()
    period_end = serializers.DateTimeField()
    marketing_cap_per_week = serializers.IntegerField(allow_null=True)
    marketing_since = serializers.DateTimeField()
    sender_rule = serializers.ChoiceField(choices=SenderRule.choices)


class PlanSerializer(serializers.Serializer):
    """A plan's figures: the preview's answer, and what a campaign kept when its tasks were made."""

    chat_type = serializers.ChoiceField(choices=ChatType.choices)
    audience = serializers.JSONField()
    rules = PlanRulesSerializer()
    audience_total = serializers.IntegerField(
        help_text="Customers (not lost) or groups (not dismissed) selected."
    )
    lost = serializers.IntegerField(
        help_text="Customers the audience matches that no member follows any more."
    )
    dismissed = serializers.IntegerField(help_text="Groups the audience matches that were dismissed.")
    will_receive = serializers.IntegerField()
    members = serializers.IntegerField(help_text="Members who send it.")
    tasks = serializers.IntegerField(
        help_text="WeCom tasks: one per member and 10,000 customers (2,000 groups)."
    )
    skipped = SkippedCountsSerializer()
    at_risk = serializers.IntegerField(
        help_text="Will receive it, but other campaigns' tasks not sent yet would take them to a limit first."
    )
    per_member = MemberShareSerializer(many=True)
    skipped_sample = SkippedSampleSerializer(many=True, help_text="Up to 10 skipped recipients per reason.")


class DispatchProgressSerializer(serializers.Serializer):
    status = serializers.CharField(help_text="queued, running, succeeded, partial, failed.")
    done = serializers.IntegerField(help_text="Tasks created (or refused) so far.")
    total = serializers.IntegerField()
    api_calls = serializers.IntegerField()
    finished = serializers.BooleanField()


class CampaignSerializer(serializers.ModelSerializer):
    """A campaign in lists: what it is and how far it got."""

    chat_type = serializers.ChoiceField(choices=ChatType.choices)
    status = serializers.ChoiceField(choices=CampaignStatus.choices)
    created_by = ActorField()
    dispatch = serializers.SerializerMethodField(
        help_text="While and after its tasks are created; else null."
    )

    class Meta:
        model = Campaign
        fields = [
            "id",
            "name",
            "chat_type",
            "status",
            "scheduled_at",
            "dispatched_at",
            "closed_at",
            "members",
            "tasks",
            "recipients",
            "confirmed_members",
            "sent",
            "not_friend",
            "over_limit",
            "failed",
            "dispatch",
            "created_by",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    @extend_schema_field(DispatchProgressSerializer(allow_null=True))
    def get_dispatch(self, campaign) -> dict | None:
        try:
            dispatch = campaign.dispatch  # select_related by the list and the detail
        except ObjectDoesNotExist:
            return None
        return dispatch_progress(dispatch)


class CampaignDetailSerializer(CampaignSerializer):
    audience = serializers.JSONField(help_text="As saved: {segment_id} or {filters}, or the groups' filter.")
    attachments = AttachmentRefSerializer(many=True)
    plan = serializers.SerializerMethodField(
        help_text="The plan's figures kept when its tasks were made (null before, and for sales members)."
    )
    can_edit = serializers.SerializerMethodField()
    can_send = serializers.SerializerMethodField()
    can_cancel = serializers.SerializerMethodField()
    can_delete = serializers.SerializerMethodField()

    class Meta(CampaignSerializer.Meta):
        fields = [
            *CampaignSerializer.Meta.fields,
            "audience",
            "text",
            "attachments",
            "plan",
            "next_poll_at",
            "last_polled_at",
            "polls",
            "can_edit",
            "can_send",
            "can_cancel",
            "can_delete",
        ]
        read_only_fields = fields

    def _runs(self) -> bool:
        return bool(self.context.get("runs_campaigns"))

    @extend_schema_field(PlanSerializer(allow_null=True))
    def get_plan(self, campaign) -> dict | None:
        return (campaign.plan or None) if self._runs() else None

    def get_can_edit(self, campaign) -> bool:
        return self._runs() and campaign.status in (CampaignStatus.DRAFT, CampaignStatus.SCHEDULED)

    def get_can_send(self, campaign) -> bool:
        return self.get_can_edit(campaign)

    def get_can_cancel(self, campaign) -> bool:
        return self._runs() and campaign.status in (
            CampaignStatus.DRAFT,
            CampaignStatus.SCHEDULED,
            CampaignStatus.DISPATCHING,
            CampaignStatus.SENT,
        )

    def get_can_delete(self, campaign) -> bool:
        return self._runs() and campaign.status == CampaignStatus.DRAFT


class TaskSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    staff = CampaignStaffSerializer()
    chunk = serializers.IntegerField(
        help_text="0, 1, ...: a member's 10,000 customers (2,000 groups) a task."
    )
    status = serializers.ChoiceField(choices=TaskStatus.choices)
    msgid = serializers.CharField(help_text="WeCom's id of the task; empty until created.")
    recipients = serializers.IntegerField()
    confirmed_at = serializers.DateTimeField(allow_null=True, help_text="When the member sent it.")
    sent = serializers.IntegerField()
    not_friend = serializers.IntegerField()
    over_limit = serializers.IntegerField()
    failed = serializers.IntegerField()
    error = serializers.JSONField(help_text="WeCom's refusal (errcode, errmsg, hint) when failed; else {}.")
    reminded_at = serializers.ListField(
        child=serializers.CharField(), help_text="ISO times of the reminders."
    )
    reminders_left = serializers.IntegerField(help_text="Of WeCom's 3 per 24 hours.")
    can_remind = serializers.BooleanField()


class CampaignGroupSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class RecipientContactSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    avatar = serializers.CharField()


class RecipientSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    target = serializers.CharField(help_text="external_userid or chat_id.")
    contact = RecipientContactSerializer(allow_null=True)
    group = CampaignGroupSerializer(allow_null=True)
    status = serializers.ChoiceField(choices=RecipientStatus.choices)
    staff = CampaignStaffSerializer(allow_null=True, help_text="The member who sends it; null when skipped.")
    chunk = serializers.IntegerField(allow_null=True)
    sent_at = serializers.DateTimeField(allow_null=True)


class RemindResultSerializer(serializers.Serializer):
    members_reminded = serializers.IntegerField()
    members_at_limit = serializers.ListField(
        child=serializers.CharField(), help_text="Userids of members already reminded 3 times in 24 hours."
    )
    app_messages = serializers.IntegerField(help_text="WeCom app messages sent (when the tenant has an app).")
    errors = serializers.ListField(child=serializers.JSONField(), help_text="WeCom's refusals, per member.")


class CancelResultSerializer(serializers.Serializer):
    tasks_cancelled = serializers.IntegerField()
    errors = serializers.ListField(child=serializers.JSONField(), help_text="Tasks WeCom would not cancel.")
    campaign = CampaignDetailSerializer()
