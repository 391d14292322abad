"""Input and output shapes of the groups read API and of group tags.

Member and history items are built as dicts by ``groups.selectors.members_resolve`` (names, group
codes and contacts resolved a page at a time); their serializers document that shape for the OpenAPI
schema and the dashboard's generated types.
"""

from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema_field

from scrm.api import serializers

from .models import Group, GroupStatus, GroupTag, JoinScene, MemberType
from .selectors import HistoryKind, group_ids_parse, groups_resolve

BULK_MAX_GROUPS = 1000

# -- groups ---------------------------------------------------------------------------------------


class GroupOwnerSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    userid = serializers.CharField()
    name = serializers.CharField()
    avatar = serializers.CharField()


class GroupTagRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    color = serializers.CharField()


class GroupSerializer(serializers.ModelSerializer):
    """A group in lists: give it groups from ``selectors.group_list`` (owner and tags prefetched)."""

    owner = GroupOwnerSerializer(allow_null=True)
    status = serializers.ChoiceField(choices=GroupStatus.choices)
    tags = serializers.SerializerMethodField()

    class Meta:
        model = Group
        fields = [
            "id",
            "chat_id",
            "name",
            "owner",
            "status",
            "member_count",
            "customer_count",
            "notice",
            "tags",
            "wecom_created_at",
            "dismissed_at",
            "synced_at",
        ]
        # An output shape only: read-only, so the schema marks every field as always present.
        read_only_fields = fields

    @extend_schema_field(GroupTagRefSerializer(many=True))
    def get_tags(self, group: Group) -> list[dict]:
        taggings = getattr(group, "tag_list", None)
        if taggings is None:  # not prefetched (a single group): its own query
            taggings = group.taggings.select_related("tag").order_by("tag__order", "tag_id")
        return GroupTagRefSerializer([t.tag for t in taggings], many=True).data


class GroupDetailSerializer(GroupSerializer):
    admin_userids = serializers.ListField(
        child=serializers.CharField(), help_text="WeCom userids of the group's admins."
    )
    joins_7d = serializers.IntegerField(help_text="Stays that began in the last 7 days.")
    leaves_7d = serializers.IntegerField(help_text="Stays that ended in the last 7 days.")

    class Meta(GroupSerializer.Meta):
        fields = [*GroupSerializer.Meta.fields, "admin_userids", "joins_7d", "leaves_7d"]
        read_only_fields = fields


# -- members, history, statistics -----------------------------------------------------------------


class InviterSerializer(serializers.Serializer):
    userid = serializers.CharField()
    name = serializers.CharField(
        help_text="The staff member's name, else the name the inviter has in the group; may be empty."
    )


class JoinWayRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class GroupMemberSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text="The stay's id (a person who left and came back has two).")
    userid = serializers.CharField(help_text="Staff userid or customer external_userid.")
    type = serializers.ChoiceField(choices=MemberType.choices)
    name = serializers.CharField()
    group_nickname = serializers.CharField()
    joined_at = serializers.DateTimeField(allow_null=True)
    join_scene = serializers.ChoiceField(
        choices=JoinScene.choices, help_text="0 unknown, 1 invited by a member, 2 invite link, 3 QR code."
    )
    inviter = InviterSerializer(allow_null=True)
    state = serializers.CharField(help_text="The group code's state the member joined through.")
    join_way = JoinWayRefSerializer(allow_null=True, help_text="The group code with that state, if any.")
    left_at = serializers.DateTimeField(allow_null=True, help_text="Null while the member is in the group.")
    quit_scene = serializers.IntegerField(allow_null=True, help_text="0 left, 1 removed by staff.")
    contact_id = serializers.IntegerField(
        allow_null=True, help_text="The customer's contact, when there is one you may open."
    )


class GroupHistoryEntrySerializer(serializers.Serializer):
    at = serializers.DateTimeField()
    kind = serializers.ChoiceField(choices=HistoryKind.choices)
    member = GroupMemberSerializer()


class GroupStatsDaySerializer(serializers.Serializer):
    day = serializers.DateField()
    joins = serializers.IntegerField()
    leaves = serializers.IntegerField()
    members = serializers.IntegerField(help_text="Members at the end of the day.")


class GroupStatsSerializer(serializers.Serializer):
    days = GroupStatsDaySerializer(many=True)


class _StatFigures(serializers.Serializer):
    new_chat_cnt = serializers.IntegerField(help_text="Groups created.")
    chat_total = serializers.IntegerField(help_text="Groups (at the day's end).")
    chat_has_msg = serializers.IntegerField(help_text="Groups with messages.")
    new_member_cnt = serializers.IntegerField(help_text="Members who joined.")
    member_total = serializers.IntegerField(help_text="Members (at the day's end).")
    member_has_msg = serializers.IntegerField(help_text="Members who sent messages.")
    msg_total = serializers.IntegerField(help_text="Messages.")


class OwnerStatsDaySerializer(_StatFigures):
    day = serializers.DateField()
    has_figures = serializers.BooleanField(
        help_text="False when WeCom has given no figures for the day yet (today, days not fetched): "
        "its zeros mean unknown, not nothing."
    )


class OwnerStatsTotalsSerializer(_StatFigures):
    pass


class OwnerStatsSerializer(serializers.Serializer):
    days = OwnerStatsDaySerializer(many=True)
    totals = OwnerStatsTotalsSerializer(
        help_text="chat_total and member_total: the last day with figures; the others: summed over the days."
    )


# -- tags -----------------------------------------------------------------------------------------


class GroupTagSerializer(serializers.ModelSerializer):
    """A group tag as answered; give it tags from ``selectors.group_tags_with_counts``."""

    group_count = serializers.IntegerField(help_text="Groups you may see that carry it.")

    class Meta:
        model = GroupTag
        fields = ["id", "name", "color", "order", "group_count"]
        read_only_fields = fields


class GroupTagInputSerializer(serializers.ModelSerializer):
    name = serializers.CharField(max_length=30)

    class Meta:
        model = GroupTag
        fields = ["name", "color", "order"]


class IdsField(serializers.ListField):
    """A list of ids, each of which must name a row of ``queryset(serializer)``: checked in one query
    (PrimaryKeyRelatedField would run one per id), answering the rows in the order given."""

    child = serializers.IntegerField(min_value=1)

    def __init__(self, *, rows: str, noun: str, **kwargs):
        self.rows, self.noun = rows, noun  # the serializer context's queryset, and what it holds
        super().__init__(**kwargs)

    def to_internal_value(self, data) -> list:
        ids = list(dict.fromkeys(super().to_internal_value(data)))
        if self.max_length is not None and len(ids) > self.max_length:
            self.fail("max_length", max_length=self.max_length)
        queryset: QuerySet = self.parent.context[self.rows]
        found = queryset.in_bulk(ids) if ids else {}
        missing = [i for i in ids if i not in found]
        if missing:
            raise serializers.ValidationError(f"Unknown {self.noun}: {', '.join(map(str, missing))}.")
        return [found[i] for i in ids]


class GroupIdsField(serializers.ListField):
    """A list of group ids, checked by ``selectors.groups_resolve`` (the one check of group ids, with
    its messages; a wrong id is an error at its index, ``group_ids.2``).

    With ``rows`` (the serializer context's queryset of the groups that may be named), the groups
    themselves, in one query; without, the ids, for a service that resolves them itself.
    """

    child = serializers.IntegerField(min_value=1)

    def __init__(self, *, at_most: int, rows: str | None = None, live: bool = True, **kwargs):
        self.at_most, self.rows, self.live = at_most, rows, live
        kwargs.setdefault("max_length", at_most)  # for the schema; the helper checks it
        super().__init__(**kwargs)

    def to_internal_value(self, data) -> list:
        if self.rows is None:
            return group_ids_parse(data, at_most=self.at_most, field=None)
        among: QuerySet = self.parent.context[self.rows]
        return groups_resolve(data, at_most=self.at_most, among=among, live=self.live, field=None)


def ids_context(*, groups: QuerySet | None = None, tags: QuerySet | None = None) -> dict:
    """The rows the id lists of the inputs below may name (the caller's groups, the tenant's tags)."""
    return {"groups": groups, "tags": tags}


class GroupTagsSetSerializer(serializers.Serializer):
    """Needs ``ids_context(tags=...)``."""

    tag_ids = IdsField(
        rows="tags",
        noun="group tags",
        allow_empty=True,
        help_text="Every tag the group should carry ([] for none).",
    )


class GroupBulkTagSerializer(serializers.Serializer):
    """Needs ``ids_context(groups=..., tags=...)``."""

    # Dismissed groups keep their tags and may get more: their history is still browsed.
    group_ids = GroupIdsField(
        rows="groups", at_most=BULK_MAX_GROUPS, live=False, help_text=f"At most {BULK_MAX_GROUPS}."
    )
    add = IdsField(rows="tags", noun="group tags", required=False, default=list, help_text="Tags to add.")
    remove = IdsField(
        rows="tags", noun="group tags", required=False, default=list, help_text="Tags to remove."
    )

    def validate(self, attrs: dict) -> dict:
        if not attrs["add"] and not attrs["remove"]:
            raise serializers.ValidationError({"add": ["Give tags to add or to remove."]})
        if {t.pk for t in attrs["add"]} & {t.pk for t in attrs["remove"]}:
            raise serializers.ValidationError({"remove": ["A tag cannot be both added and removed."]})
        return attrs


class GroupBulkTagResultSerializer(serializers.Serializer):
    groups = serializers.IntegerField(help_text="Groups named.")
    added = serializers.IntegerField(help_text="Taggings added (ones already there are not counted).")
    removed = serializers.IntegerField(help_text="Taggings removed.")
