"""Shapes of the group code, group welcome template and group transfer routes.

Input serializers type the fields for the OpenAPI schema; the rules (1–5 live groups, the room name
an auto-creating code needs, placeholders, one attachment, an active new owner) live in the services,
which answer with the path of the wrong field (``group_ids.2``, ``attachment.url``). Lists of group
ids are checked by one helper (``selectors.group_ids_parse`` / ``groups_resolve``) here and there.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field

from scrm.api import serializers
from scrm.api.fields import ActorField
from scrm.durable import RunStatus

from .models import (
    GroupStatus,
    GroupTransfer,
    GroupTransferItem,
    GroupTransferItemStatus,
    GroupTransferKind,
    GroupWelcomeTemplate,
    JoinWay,
)
from .serializers import GroupIdsField, GroupOwnerSerializer
from .services.join_ways import MAX_GROUPS, NAME_MAX, ROOM_BASE_ID_MAX, ROOM_BASE_NAME_MAX
from .services.transfers import MAX_GROUPS as TRANSFER_MAX_GROUPS
from .services.welcome_templates import NAME_MAX as TEMPLATE_NAME_MAX

# -- group codes ----------------------------------------------------------------------------------


class JoinWayInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=NAME_MAX, help_text="Unique; WeCom's remark of the code.")
    group_ids = GroupIdsField(
        at_most=MAX_GROUPS, help_text=f"1 to {MAX_GROUPS} groups (ids), in the order scans fill them."
    )
    auto_create_room = serializers.BooleanField(
        default=True, help_text="When every group is full, WeCom opens a new one and adds it to the code."
    )
    room_base_name = serializers.CharField(
        max_length=ROOM_BASE_NAME_MAX,
        allow_blank=True,
        default="",
        help_text="Name of the groups WeCom opens (required with auto_create_room), followed by a number.",
    )
    room_base_id = serializers.IntegerField(
        min_value=1, max_value=ROOM_BASE_ID_MAX, default=1, help_text="The number of the next group opened."
    )


class JoinWayGroupSerializer(serializers.Serializer):
    """A group of a code; ``id`` is null for a group WeCom opened that is not synced yet."""

    id = serializers.IntegerField(allow_null=True)
    chat_id = serializers.CharField()
    name = serializers.CharField()
    member_count = serializers.IntegerField(allow_null=True)
    status = serializers.ChoiceField(choices=GroupStatus.choices, allow_null=True)


class JoinWaySerializer(serializers.ModelSerializer):
    """A group code: give it ``groups`` (chat_id → Group) and ``joins`` (state → count) in context."""

    chat_ids = serializers.ListField(
        child=serializers.CharField(), help_text="WeCom's chat ids, in its order."
    )
    groups = serializers.SerializerMethodField()
    joins = serializers.SerializerMethodField(
        help_text="Customers who joined a group through this code, ever."
    )
    can_simulate = serializers.SerializerMethodField(
        help_text="Demo tenants (WeCom is the local sandbox): POST …/simulate/ acts out a scan."
    )
    created_by = ActorField()

    class Meta:
        model = JoinWay
        fields = [
            "id", "name", "state", "config_id", "qr_code", "groups", "chat_ids", "auto_create_room",
            "room_base_name", "room_base_id", "joins", "can_simulate", "created_by", "created_at",
            "updated_at",
        ]  # fmt: skip
        read_only_fields = fields

    @extend_schema_field(JoinWayGroupSerializer(many=True))
    def get_groups(self, way: JoinWay) -> list[dict]:
        known = self.context.get("groups", {})
        out = []
        for chat_id in way.chat_ids:
            group = known.get(chat_id)
            out.append(
                {
                    "id": group.pk if group else None,
                    "chat_id": chat_id,
                    "name": group.name if group else "",
                    "member_count": group.member_count if group else None,
                    "status": group.status if group else None,
                }
            )
        return out

    def get_joins(self, way: JoinWay) -> int:
        return self.context.get("joins", {}).get(way.state, 0)

    def get_can_simulate(self, way: JoinWay) -> bool:
        return bool(self.context.get("can_simulate"))


class JoinWayStatsDaySerializer(serializers.Serializer):
    day = serializers.DateField()
    joins = serializers.IntegerField()


class JoinWayStatsGroupSerializer(serializers.Serializer):
    id = serializers.IntegerField(allow_null=True, help_text="Null: a group WeCom opened, not synced yet.")
    chat_id = serializers.CharField()
    name = serializers.CharField()
    joins = serializers.IntegerField()
    listed = serializers.BooleanField(help_text="Still one of the code's groups.")


class JoinWayStatsSerializer(serializers.Serializer):
    date_from = serializers.DateField()
    date_to = serializers.DateField()
    total = serializers.IntegerField(help_text="Joins through the code in the range.")
    days = JoinWayStatsDaySerializer(many=True)
    groups = JoinWayStatsGroupSerializer(many=True, help_text="The code's groups in its order, then others.")


class GroupRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class JoinWaySimulateSerializer(serializers.Serializer):
    chat_id = serializers.CharField(help_text="The group the customer landed in.")
    group = GroupRefSerializer(allow_null=True, help_text="That group here (null if not read yet).")
    created = serializers.BooleanField(help_text="WeCom opened this group because the others were full.")
    external_userid = serializers.CharField()
    delivered = serializers.BooleanField(help_text="Whether the sandbox's callbacks reached this server.")


# -- group welcome templates ----------------------------------------------------------------------


class GroupWelcomeAttachmentSerializer(serializers.Serializer):
    material_id = serializers.IntegerField(
        required=False,
        help_text="A material of the library (image, link, miniprogram, video or file); absent in {}.",
    )


class GroupWelcomeTemplateInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=TEMPLATE_NAME_MAX, help_text="Unique; kept here only.")
    text = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        help_text="≤ 4,000 bytes; %NICKNAME% is replaced by the newcomer's name.",
    )
    attachment = GroupWelcomeAttachmentSerializer(
        required=False, default=dict, help_text="At most one; {} for none."
    )


class GroupWelcomeTemplateSerializer(serializers.ModelSerializer):
    attachment = GroupWelcomeAttachmentSerializer(help_text="{} when there is none.")
    created_by = ActorField()

    class Meta:
        model = GroupWelcomeTemplate
        fields = ["id", "name", "template_id", "text", "attachment", "created_by", "created_at", "updated_at"]
        read_only_fields = fields


# -- group transfers ------------------------------------------------------------------------------


class GroupTransferCreateSerializer(serializers.Serializer):
    group_ids = GroupIdsField(at_most=TRANSFER_MAX_GROUPS, help_text="The groups to hand over.")
    new_owner_id = serializers.IntegerField(help_text="An active staff member with customer contact.")


class GroupTransferStaffSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    userid = serializers.CharField()
    name = serializers.CharField()


class GroupTransferItemSerializer(serializers.ModelSerializer):
    group = serializers.SerializerMethodField()
    previous_owner = serializers.SerializerMethodField()
    status = serializers.ChoiceField(choices=GroupTransferItemStatus.choices)

    class Meta:
        model = GroupTransferItem
        fields = ["group", "previous_owner", "status", "errcode", "error"]
        read_only_fields = fields

    @extend_schema_field(GroupRefSerializer)
    def get_group(self, item: GroupTransferItem) -> dict:
        return {"id": item.group_id, "name": item.group.name or item.group.chat_id}

    @extend_schema_field(GroupTransferStaffSerializer(allow_null=True))
    def get_previous_owner(self, item: GroupTransferItem) -> dict | None:
        owner = item.previous_owner
        return {"id": owner.pk, "userid": owner.userid, "name": owner.name} if owner else None


class GroupTransferSerializer(serializers.ModelSerializer):
    """A transfer in lists (without its items)."""

    kind = serializers.ChoiceField(choices=GroupTransferKind.choices)
    status = serializers.ChoiceField(choices=RunStatus.choices)
    new_owner = serializers.SerializerMethodField()
    created_by = ActorField()

    class Meta:
        model = GroupTransfer
        fields = [
            "id",
            "kind",
            "new_owner",
            "status",
            "total",
            "succeeded",
            "failed",
            "created_by",
            "created_at",
            "finished_at",
        ]
        read_only_fields = fields

    @extend_schema_field(GroupOwnerSerializer)
    def get_new_owner(self, transfer: GroupTransfer) -> dict:
        owner = transfer.new_owner
        return {"id": owner.pk, "userid": owner.userid, "name": owner.name, "avatar": owner.avatar}


class GroupTransferDetailSerializer(GroupTransferSerializer):
    """A transfer with its result per group."""

    items = GroupTransferItemSerializer(many=True)

    class Meta(GroupTransferSerializer.Meta):
        fields = [*GroupTransferSerializer.Meta.fields, "items"]
        read_only_fields = fields
