"""Shapes of the channel-code, welcome and media routes.

Input serializers type the fields for the OpenAPI schema; the rules across fields (single vs
several members, schedule rules, welcome limits) live in the services, which answer with the path
of the wrong field (``welcome.attachments.2.url``). A welcome attachment has one serializer per
``type``, so that the schema states (and the API checks) each type's own fields and their patterns;
only what JSON Schema cannot say (UTF-8 byte limits, which images exist) is left to the service.
"""

from __future__ import annotations

from drf_spectacular.utils import PolymorphicProxySerializer, extend_schema_field
from rest_framework.exceptions import ErrorDetail

from scrm.api import serializers
from scrm.api.fields import ActorField

from .models import ContactWay, MediaAsset, Welcome, WelcomeStatus
from .selectors_channels import RETENTION_DAYS
from .services.welcome import (
    APPID_INVALID,
    ATTACHMENT_TYPES,
    HTTP_URL_PATTERN,
    LINK_DESCRIPTION_MAX,
    LINK_TITLE_MAX,
    MAX_ATTACHMENTS,
    MINIPROGRAM_APPID_PATTERN,
    MINIPROGRAM_PAGE_PATTERN,
    MINIPROGRAM_TITLE_MAX_BYTES,
    NOT_BLANK_PATTERN,
    PAGE_INVALID,
    URL_INVALID,
    URL_MAX,
)


def _string(
    pattern: str = NOT_BLANK_PATTERN, *, invalid: str = "This field may not be blank.", **kwargs
) -> serializers.RegexField:
    """A string checked as sent (not trimmed): what the schema's pattern says is what is accepted.

    ``invalid`` says what the pattern wants in words: the form shows it under the field.
    """
    return serializers.RegexField(
        pattern, trim_whitespace=False, error_messages={"invalid": invalid}, **kwargs
    )


class WelcomeImageAttachmentSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=["image"])
    media = serializers.IntegerField(help_text="An uploaded image's id (POST /media/).")


class WelcomeLinkAttachmentSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=["link"])
    title = _string(max_length=LINK_TITLE_MAX, help_text=f"≤ {LINK_TITLE_MAX} bytes (UTF-8).")
    url = _string(HTTP_URL_PATTERN, invalid=URL_INVALID, max_length=URL_MAX)
    description = serializers.CharField(
        required=False,
        allow_blank=True,
        trim_whitespace=False,
        max_length=LINK_DESCRIPTION_MAX,
        help_text=f"≤ {LINK_DESCRIPTION_MAX} bytes (UTF-8).",
    )
    picture_url = serializers.RegexField(
        HTTP_URL_PATTERN,
        required=False,
        allow_blank=True,
        trim_whitespace=False,
        max_length=URL_MAX,
        error_messages={"invalid": URL_INVALID},
        help_text="An image's http(s) URL, or empty.",
    )


class WelcomeMiniprogramAttachmentSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=["miniprogram"])
    appid = _string(
        MINIPROGRAM_APPID_PATTERN,
        invalid=APPID_INVALID,
        help_text="wx + 16 hex digits.",
    )
    page = _string(
        MINIPROGRAM_PAGE_PATTERN,
        invalid=PAGE_INVALID,
        help_text="A path ending in .html, e.g. pages/index.html?id=1.",
    )
    title = _string(
        max_length=MINIPROGRAM_TITLE_MAX_BYTES, help_text=f"≤ {MINIPROGRAM_TITLE_MAX_BYTES} bytes (UTF-8)."
    )
    media = serializers.IntegerField(help_text="The cover: an uploaded image's id (POST /media/).")


WELCOME_ATTACHMENT_SERIALIZERS: dict[str, type[serializers.Serializer]] = {
    "image": WelcomeImageAttachmentSerializer,
    "link": WelcomeLinkAttachmentSerializer,
    "miniprogram": WelcomeMiniprogramAttachmentSerializer,
}


@extend_schema_field(
    PolymorphicProxySerializer(
        component_name="WelcomeAttachment",
        serializers=WELCOME_ATTACHMENT_SERIALIZERS,
        resource_type_field_name="type",
    )
)
class WelcomeAttachmentField(serializers.Field):
    """One attachment, validated by the serializer of its ``type``; errors keep their field paths."""

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            raise serializers.ValidationError("Each attachment is an object with a type.", code="invalid")
        kind = data.get("type")
        serializer_class = WELCOME_ATTACHMENT_SERIALIZERS.get(kind) if isinstance(kind, str) else None
        if serializer_class is None:
            raise serializers.ValidationError(
                {"type": [ErrorDetail(f"One of: {', '.join(ATTACHMENT_TYPES)}.", code="invalid_choice")]}
            )
        serializer = serializer_class(data=data)
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)

    def to_representation(self, value):
        return value


class WelcomeMessageSerializer(serializers.Serializer):
    text = serializers.CharField(
        required=False,
        allow_blank=True,
        help_text="May contain {customer_name} and {staff_name}; ≤ 4,000 bytes.",
    )
    attachments = serializers.ListField(
        child=WelcomeAttachmentField(), required=False, max_length=MAX_ATTACHMENTS
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


class MediaUploadSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="A JPG or PNG image, at most 10 MB.")


class MediaAssetSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()
    created_by = ActorField(help_text="Who uploaded these bytes first (the same image twice is one asset).")

    class Meta:
        model = MediaAsset
        fields = ["id", "filename", "content_type", "size", "url", "created_by", "created_at"]
        read_only_fields = fields

    def get_url(self, asset: MediaAsset) -> str:
        request = self.context.get("request")
        path = f"/api/v1/media/{asset.pk}/file/"
        return request.build_absolute_uri(path) if request else path


class SimulateScanSerializer(serializers.Serializer):
    external_userid = serializers.CharField()
    userid = serializers.CharField(help_text="The member WeCom handed the customer to.")
    delivered = serializers.BooleanField(help_text="Whether the sandbox's callback reached this server.")
