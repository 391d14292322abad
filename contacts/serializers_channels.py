"""Shapes of the channel-code and welcome routes.

Input serializers type the fields for the OpenAPI schema; the rules across fields (single vs
several members, schedule rules, welcome limits) live in the services, which answer with the path
of the wrong field (``welcome.attachments.2.material_id``). A welcome's attachments are materials of
the content library, by id (``library``).
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field

from library.serializers import MaterialRefSerializer
from library.services import MAX_ATTACHMENTS
from scrm.api import serializers
from scrm.api.fields import ActorField

from .models import ContactWay, Welcome, WelcomeStatus
from .selectors_channels import RETENTION_DAYS


class WelcomeMessageSerializer(serializers.Serializer):
    text = serializers.CharField(
        required=False,
        allow_blank=True,
        help_text="May contain {customer_name} and {staff_name}; ≤ 4,000 bytes.",
    )
    attachments = serializers.ListField(
        child=MaterialRefSerializer(),
        required=False,
        max_length=MAX_ATTACHMENTS,
        help_text="Materials of the library (image, link, miniprogram, video, file), sent in this order.",
    )


class ScheduleRuleSerializer(serializers.Serializer):
    weekdays = serializers.ListField(child=serializers.IntegerField(min_value=1, max_value=7))
    start = serializers.CharField(help_text="HH:MM")
    end = serializers.CharField(help_text="HH:MM, after start")
    user_ids = serializers.ListField(child=serializers.IntegerField())


class ContactWayInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=60)
    multi = serializers.BooleanField(
        default=False, help_text="Several members (WeCom type 2); fixed at creation."
    )
    skip_verify = serializers.BooleanField(default=True)
    user_ids = serializers.ListField(child=serializers.IntegerField(), default=list)
    department_ids = serializers.ListField(child=serializers.IntegerField(), default=list)
    schedule = ScheduleRuleSerializer(many=True, default=list)
    daily_cap = serializers.IntegerField(allow_null=True, default=None, min_value=1)
    backup_user_ids = serializers.ListField(child=serializers.IntegerField(), default=list)
    tag_ids = serializers.ListField(child=serializers.IntegerField(), default=list)
    welcome = WelcomeMessageSerializer(
        default=dict, help_text="Empty: customers of this code get the tenant's default welcome."
    )


class IdNameSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class ChannelTotalsSerializer(serializers.Serializer):
    adds = serializers.IntegerField()
    losses = serializers.IntegerField()
    net = serializers.IntegerField()


class ContactWaySerializer(serializers.ModelSerializer):
    welcome = WelcomeMessageSerializer()
    schedule = ScheduleRuleSerializer(many=True)
    user_ids = serializers.ListField(child=serializers.IntegerField())
    department_ids = serializers.ListField(child=serializers.IntegerField())
    backup_user_ids = serializers.ListField(child=serializers.IntegerField())
    tag_ids = serializers.ListField(child=serializers.IntegerField())
    applied_userids = serializers.ListField(
        child=serializers.CharField(), help_text="Who WeCom hands this code's customers to right now."
    )
    members = serializers.SerializerMethodField()
    tags = serializers.SerializerMethodField()
    stats = serializers.SerializerMethodField()
    can_simulate = serializers.SerializerMethodField(
        help_text="Demo tenants (WeCom is the local sandbox): POST …/simulate/ acts out a scan."
    )
    created_by = ActorField()

    class Meta:
        model = ContactWay
        fields = [
            "id", "name", "state", "config_id", "qr_code", "multi", "skip_verify", "user_ids",
            "department_ids", "schedule", "daily_cap", "backup_user_ids", "tag_ids", "welcome",
            "applied_userids", "applied_at", "members", "tags", "stats", "can_simulate", "created_by",
            "created_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = fields

    @extend_schema_field(IdNameSerializer(many=True))
    def get_members(self, way: ContactWay) -> list[dict]:
        names = self.context.get("staff_names", {})
        return [{"id": pk, "name": names.get(pk, "")} for pk in [*way.user_ids, *way.backup_user_ids]]

    @extend_schema_field(IdNameSerializer(many=True))
    def get_tags(self, way: ContactWay) -> list[dict]:
        names = self.context.get("tag_names", {})
        return [{"id": pk, "name": names[pk]} for pk in way.tag_ids if pk in names]

    def get_can_simulate(self, way: ContactWay) -> bool:
        return bool(self.context.get("can_simulate"))

    @extend_schema_field(ChannelTotalsSerializer(allow_null=True))
    def get_stats(self, way: ContactWay) -> dict | None:
        return self.context.get("stats", {}).get(way.state)


class DailyChannelStatsSerializer(serializers.Serializer):
    date = serializers.DateField()
    adds = serializers.IntegerField()
    losses = serializers.IntegerField()
    net = serializers.IntegerField()


def _retention_fields() -> dict:
    return {
        f"retained_{n}d": serializers.FloatField(
            allow_null=True,
            help_text=f"Share of the customers added ≥ {n} days ago still following after {n} days.",
        )
        for n in RETENTION_DAYS
    }


ChannelRetentionTotalsSerializer = type(
    "ChannelRetentionTotalsSerializer", (ChannelTotalsSerializer,), _retention_fields()
)
StaffChannelStatsSerializer = type(
    "StaffChannelStatsSerializer",
    (ChannelTotalsSerializer,),
    {"staff_id": serializers.IntegerField(), "staff_name": serializers.CharField(), **_retention_fields()},
)


class ChannelStatsSerializer(serializers.Serializer):
    start = serializers.DateField()
    end = serializers.DateField()
    totals = ChannelRetentionTotalsSerializer()
    days = DailyChannelStatsSerializer(many=True)
    staff = StaffChannelStatsSerializer(many=True)


class WelcomeSerializer(serializers.ModelSerializer):
    """One greeting: whom, through which code, and what WeCom said."""

    contact_name = serializers.CharField(source="contact.name")
    external_userid = serializers.CharField(source="contact.external_userid")
    staff_name = serializers.CharField(source="staff.name", default="")
    status = serializers.ChoiceField(choices=WelcomeStatus.choices)

    class Meta:
        model = Welcome
        fields = [
            "id", "contact", "contact_name", "external_userid", "staff", "staff_name", "contact_way",
            "state", "status", "errcode", "error", "received_at", "sent_at", "latency_ms",
        ]  # fmt: skip
        read_only_fields = fields


class WelcomeDefaultSerializer(serializers.Serializer):
    welcome = WelcomeMessageSerializer()


class SimulateScanSerializer(serializers.Serializer):
    external_userid = serializers.CharField()
    userid = serializers.CharField(help_text="The member WeCom handed the customer to.")
    delivered = serializers.BooleanField(help_text="Whether the sandbox's callback reached this server.")
