"""Input and output shapes of the contacts API.

The contacts list is built from ``values()`` rows by ``selectors.contact_rows_resolve`` (at a million
customers, model instances and nested serializers were most of the request's time); its serializers
here document that shape for the OpenAPI schema and the dashboard's generated types.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field

from groups.models import GroupStatus
from scrm.api import serializers
from scrm.api.fields import ActorField
from value.models import Tier

from .filters import FILTER_PARAMS
from .models import (
    ContactEvent,
    ContactStatus,
    DirectoryStatus,
    FollowStatus,
    Note,
    Segment,
    Staff,
    Stage,
    WeComMemberStatus,
)
from .selectors import SEGMENT_TAG_PARAMS
from .services.exports import EXPORT_COLUMN_CHOICES, EXPORT_COLUMNS

# -- staff, departments, stages ---------------------------------------------------------------------


class StaffSerializer(serializers.ModelSerializer):
    customer_count = serializers.IntegerField(read_only=True, help_text="Customers it actively follows.")
    directory_status = serializers.ChoiceField(
        choices=DirectoryStatus.choices,
        read_only=True,
        help_text="What the app can read of the member in WeCom's contact book: `listed`; "
        "`outside_visible_range` (WeCom gives its userid only: name, position and departments are "
        "what was read before, if ever); `not_read` (known from a callback, the next sync reads it).",
    )
    wecom_status = serializers.ChoiceField(
        choices=WeComMemberStatus.choices,
        read_only=True,
        help_text="WeCom's status: 1 active, 2 disabled, 4 not activated, 5 left; 0 when not readable.",
    )

    class Meta:
        model = Staff
        fields = [
            "id",
            "userid",
            "name",
            "avatar",
            "position",
            "department_ids",
            "is_active",
            "wecom_status",
            "directory_status",
            "has_contact_permission",
            "resigned_at",
            "customer_count",
        ]


class DepartmentNodeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    wecom_id = serializers.IntegerField()
    name = serializers.CharField()
    parent_wecom_id = serializers.IntegerField()
    order = serializers.IntegerField()
    children = serializers.ListField(child=serializers.DictField(), help_text="Nested departments.")


class StageSerializer(serializers.ModelSerializer):
    class Meta:
        model = Stage
        fields = ["id", "name", "order", "color", "created_at"]
        read_only_fields = ["id", "created_at"]

    def validate_name(self, value: str) -> str:
        others = Stage.objects.filter(name=value)
        if self.instance is not None:
            others = others.exclude(pk=self.instance.pk)
        if others.exists():
            raise serializers.ValidationError("A stage with this name exists.")
        return value


class StageRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


# -- contacts --------------------------------------------------------------------------------------


class TagRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    group_id = serializers.IntegerField()


class StaffRefSerializer(serializers.Serializer):
    userid = serializers.CharField()
    name = serializers.CharField()


class ContactRowSerializer(serializers.Serializer):
    """A row of the contacts list (documentation of the shape ``contact_rows_resolve`` builds)."""

    id = serializers.IntegerField()
    external_userid = serializers.CharField()
    name = serializers.CharField()
    avatar = serializers.CharField()
    type = serializers.IntegerField(help_text="1 WeChat user, 2 WeCom user.")
    gender = serializers.IntegerField(help_text="0 unknown, 1 male, 2 female.")
    corp_name = serializers.CharField()
    status = serializers.ChoiceField(choices=ContactStatus.choices)
    stage = StageRefSerializer(allow_null=True)
    first_added_at = serializers.DateTimeField(allow_null=True)
    tags = TagRefSerializer(many=True, help_text="The union of the tags on its counted follows.")
    staff = StaffRefSerializer(many=True, help_text="The staff members following it.")
    tier = serializers.ChoiceField(
        choices=Tier.choices, allow_null=True, help_text="Lifecycle tier; null until the value is computed."
    )
    score = serializers.IntegerField(
        allow_null=True, help_text="Activity score (0-100); null until the value is computed."
    )
    ltv = serializers.CharField(
        allow_null=True,
        help_text='Lifetime value net of refunds, a decimal string ("3200.00"); null until computed.',
    )


class FollowSerializer(serializers.Serializer):
    staff = StaffRefSerializer()
    remark = serializers.CharField()
    description = serializers.CharField()
    remark_corp_name = serializers.CharField()
    remark_mobiles = serializers.ListField(child=serializers.CharField())
    add_way = serializers.IntegerField()
    state = serializers.CharField(help_text="The channel (contact way state) it was added through.")
    tags = TagRefSerializer(many=True)
    added_at = serializers.DateTimeField(allow_null=True)
    status = serializers.ChoiceField(choices=FollowStatus.choices)
    ended_at = serializers.DateTimeField(allow_null=True)


class NoteSerializer(serializers.ModelSerializer):
    author = ActorField("author")

    class Meta:
        model = Note
        fields = ["id", "contact_id", "author", "content", "created_at", "updated_at"]


class NoteInputSerializer(serializers.Serializer):
    content = serializers.CharField(max_length=4000, trim_whitespace=True)


class EventSerializer(serializers.ModelSerializer):
    staff = serializers.SerializerMethodField()
    actor = ActorField("actor", help_text="Who did it; null for what WeCom or a sync reported.")

    class Meta:
        model = ContactEvent
        fields = ["id", "type", "staff", "channel", "actor", "payload", "occurred_at"]

    def get_staff(self, event: ContactEvent) -> dict | None:
        return {"userid": event.staff.userid, "name": event.staff.name} if event.staff_id else None


class ContactGroupSerializer(serializers.Serializer):
    """A customer group the contact is or was in (one per stay; groups.selectors.contact_groups)."""

    id = serializers.IntegerField(help_text="The group's id.")
    name = serializers.CharField()
    owner_name = serializers.CharField()
    group_status = serializers.ChoiceField(
        choices=GroupStatus.choices, help_text="A dismissed group keeps its last members' stays open."
    )
    joined_at = serializers.DateTimeField(allow_null=True)
    left_at = serializers.DateTimeField(allow_null=True, help_text="Null while the customer is in the group.")


class ContactDetailSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    external_userid = serializers.CharField()
    name = serializers.CharField()
    avatar = serializers.CharField()
    type = serializers.IntegerField()
    gender = serializers.IntegerField()
    unionid = serializers.CharField()
    corp_name = serializers.CharField()
    corp_full_name = serializers.CharField()
    position = serializers.CharField()
    status = serializers.ChoiceField(choices=ContactStatus.choices)
    stage = StageRefSerializer(allow_null=True)
    first_added_at = serializers.DateTimeField(allow_null=True)
    profile = serializers.DictField(
        child=serializers.JSONField(),
        help_text="The tenant's profile fields' values, by key (/profile-fields/): a string (text, "
        'choice), a number, a date "YYYY-MM-DD" or a list of strings (multiple choice).',
    )
    follows = FollowSerializer(many=True)
    notes = NoteSerializer(many=True, help_text="Latest first.")
    timeline = EventSerializer(many=True, help_text="The latest 50 events; more at timeline/.")
    groups = ContactGroupSerializer(
        many=True,
        help_text="Customer groups it is or was in (groups you may see; current stays first, at most 100).",
    )


class StageChangeSerializer(serializers.Serializer):
    stage = serializers.PrimaryKeyRelatedField(
        queryset=Stage.objects, allow_null=True, help_text="Stage id, or null to clear it."
    )


class LostContactSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    external_userid = serializers.CharField()
    name = serializers.CharField()
    avatar = serializers.CharField()


class LostSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="pk", help_text="The follow's id.")
    contact = LostContactSerializer()
    staff = StaffRefSerializer()
    ended_at = serializers.DateTimeField(allow_null=True, help_text="When the customer deleted them.")
    state = serializers.CharField(help_text="The channel the customer had come through.")
    added_at = serializers.DateTimeField(allow_null=True)
    days_stayed = serializers.SerializerMethodField(help_text="Whole days between added and lost.")

    def get_days_stayed(self, follow) -> int | None:
        return follow.stayed.days if follow.stayed is not None else None


# -- segments and exports --------------------------------------------------------------------------


class SegmentDeletedTagSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField(allow_null=True, help_text="Null for an id Siyu never knew.")
    group = serializers.CharField(allow_null=True)
    filter = serializers.ChoiceField(choices=SEGMENT_TAG_PARAMS, help_text="The filter naming it.")


class SegmentSerializer(serializers.ModelSerializer):
    filters = serializers.DictField(
        child=serializers.CharField(allow_blank=True),
        help_text=f"The contacts list's filter parameters: {', '.join(FILTER_PARAMS)}.",
    )
    count = serializers.SerializerMethodField(
        help_text="Contacts it selects now, within your data scope (detail only; null in lists, while "
        "deleted_tags is not empty, and while its filters name something deleted since, such as a stage "
        "or a membership level: its contacts/ answer which, under filters.<param>)."
    )
    deleted_tags = serializers.SerializerMethodField(
        help_text="Tags its filters name that were deleted in WeCom (alone or with their group): the "
        "segment no longer means what it was saved to mean, and its contacts answer 400 until its "
        "filters are edited. Empty when all its tags are live."
    )
    created_by = ActorField()

    class Meta:
        model = Segment
        fields = ["id", "name", "filters", "count", "deleted_tags", "created_by", "created_at", "updated_at"]
        read_only_fields = ["id", "created_by", "created_at", "updated_at"]

    def get_count(self, segment: Segment) -> int | None:
        return self.context.get("counts", {}).get(segment.pk)

    @extend_schema_field(SegmentDeletedTagSerializer(many=True))
    def get_deleted_tags(self, segment: Segment) -> list[dict]:
        return self.context.get("deleted_tags", {}).get(segment.pk, [])

    def validate_name(self, value: str) -> str:
        others = Segment.objects.filter(name=value)
        if self.instance is not None:
            others = others.exclude(pk=self.instance.pk)
        if others.exists():
            raise serializers.ValidationError("A segment with this name exists.")
        return value

    def validate_filters(self, value: dict) -> dict:
        unknown = sorted(set(value) - set(FILTER_PARAMS))
        if unknown:
            raise serializers.ValidationError({key: ["Not a contacts filter."] for key in unknown})
        return {key: value[key] for key in FILTER_PARAMS if value.get(key) not in (None, "")}


class ExportRequestSerializer(serializers.Serializer):
    """The list's filter parameters (flat), or a saved ``segment``; optionally the columns wanted."""

    segment = serializers.PrimaryKeyRelatedField(queryset=Segment.objects, required=False, allow_null=True)
    columns = serializers.ListField(
        child=serializers.ChoiceField(choices=EXPORT_COLUMN_CHOICES),
        required=False,
        allow_empty=False,
        help_text="Default: all of them. `profile` is one column per profile field in use, headed by "
        "its label.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for param in FILTER_PARAMS:
            self.fields[param] = serializers.CharField(required=False, allow_blank=True)

    def validate(self, attrs: dict) -> dict:
        filters = {p: attrs.pop(p) for p in FILTER_PARAMS if attrs.get(p) not in (None, "")}
        if attrs.get("segment") is not None and filters:
            raise serializers.ValidationError({"segment": ["Give a segment or filters, not both."]})
        attrs["filters"] = dict(attrs["segment"].filters) if attrs.get("segment") else filters
        attrs["columns"] = list(attrs.get("columns") or (*EXPORT_COLUMNS, "profile"))
        return attrs
