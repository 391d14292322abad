"""Serializers of the routes that write to WeCom: tags, tagging, remarks, transfers, and jobs.

Related ids are resolved against managers (``Tag.objects``), which DRF evaluates inside the
request, so they are scoped to its tenant: another tenant's id is simply unknown (400 naming the field).
"""

from __future__ import annotations

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field

from scrm.api import serializers
from scrm.api.fields import ActorField

from .filters import FILTER_PARAMS
from .models import Contact, Follow, Job, JobKind, Segment, Staff, Tag, TagGroup, TransferItem
from .services.tags import NAME_MAX

MAX_BULK_CONTACTS = 10_000


# --- tags ------------------------------------------------------------------------------------


def _editable_field() -> serializers.BooleanField:
    return serializers.BooleanField(
        source="wecom_editable",
        read_only=True,
        help_text="Whether it can be renamed or deleted here: WeCom lets an app change only the tags it "
        "created, so those made in the admin console (or by another app) are read-only. Any tag can "
        "still be put on customers.",
    )


class TagSerializer(serializers.ModelSerializer):
    synced_at = serializers.DateTimeField(
        source="updated_at", read_only=True, help_text="When WeCom last confirmed this tag's name and order."
    )
    editable = _editable_field()

    class Meta:
        model = Tag
        fields = ["id", "wecom_id", "group", "name", "order", "deleted", "editable", "synced_at"]
        read_only_fields = fields


class TagGroupSerializer(serializers.ModelSerializer):
    tags = serializers.SerializerMethodField()
    synced_at = serializers.DateTimeField(source="updated_at", read_only=True)
    editable = _editable_field()

    class Meta:
        model = TagGroup
        fields = ["id", "wecom_id", "name", "order", "deleted", "editable", "synced_at", "tags"]
        read_only_fields = fields

    @extend_schema_field(TagSerializer(many=True))
    def get_tags(self, group: TagGroup) -> list[dict]:
        # The view prefetches the tags it wants shown (live ones, or all with include_deleted).
        return TagSerializer(group.shown_tags, many=True).data


def _name_field(**kwargs) -> serializers.CharField:
    return serializers.CharField(max_length=NAME_MAX, allow_blank=False, trim_whitespace=True, **kwargs)


class TagSpecSerializer(serializers.Serializer):
    name = _name_field()
    order = serializers.IntegerField(default=0, min_value=0, max_value=2**32 - 1)


class TagGroupCreateSerializer(serializers.Serializer):
    name = _name_field()
    order = serializers.IntegerField(default=0, min_value=0, max_value=2**32 - 1)
    tags = TagSpecSerializer(many=True, allow_empty=False, help_text="WeCom has no empty groups.")

    def validate_tags(self, tags: list[dict]) -> list[dict]:
        seen: set[str] = set()
        errors: list[dict] = []
        for tag in tags:
            errors.append({"name": [f"{tag['name']!r} is given twice."]} if tag["name"] in seen else {})
            seen.add(tag["name"])
        if any(errors):
            raise serializers.ValidationError(errors)
        return tags


class NameOrderUpdateSerializer(serializers.Serializer):
    name = _name_field(required=False)
    order = serializers.IntegerField(required=False, min_value=0, max_value=2**32 - 1)


class TagCreateSerializer(serializers.Serializer):
    group = serializers.PrimaryKeyRelatedField(queryset=TagGroup.objects)
    name = _name_field()
    order = serializers.IntegerField(default=0, min_value=0, max_value=2**32 - 1)

    def validate_group(self, group: TagGroup) -> TagGroup:
        if group.deleted:
            raise serializers.ValidationError("This tag group was deleted.")
        return group


def _live_tags(tags: list[Tag]) -> list[Tag]:
    deleted = [str(t.pk) for t in tags if t.deleted]
    if deleted:
        raise serializers.ValidationError(f"Deleted tags: {', '.join(deleted)}.")
    return tags


# --- tagging ---------------------------------------------------------------------------------


class ContactTagsSerializer(serializers.Serializer):
    add = serializers.PrimaryKeyRelatedField(queryset=Tag.objects, many=True, required=False, default=list)
    remove = serializers.PrimaryKeyRelatedField(queryset=Tag.objects, many=True, required=False, default=list)
    staff = serializers.SlugRelatedField(
        slug_field="userid",
        queryset=Staff.objects,
        required=False,
        help_text="Only this staff member's follow (WeCom userid); default: every follow you may act on.",
    )

    def validate_add(self, tags):
        return _live_tags(tags)

    def validate_remove(self, tags):
        return _live_tags(tags)

    def validate(self, data):
        if not data["add"] and not data["remove"]:
            raise serializers.ValidationError({"add": ["Give tags to add or to remove."]})
        both = {t.pk for t in data["add"]} & {t.pk for t in data["remove"]}
        if both:
            raise serializers.ValidationError({"remove": [f"Tags both added and removed: {sorted(both)}."]})
        return data


class FollowTagsSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    staff = serializers.CharField(help_text="WeCom userid")
    tags = serializers.ListField(child=serializers.IntegerField(), help_text="Siyu tag ids on this follow.")


class TaggingErrorSerializer(serializers.Serializer):
    item = serializers.IntegerField(allow_null=True, help_text="The contact id.")
    code = serializers.CharField(help_text="wecom_<errcode>")
    message = serializers.CharField()
    staff = serializers.CharField(required=False)
    errcode = serializers.IntegerField(allow_null=True, required=False)
    hint = serializers.CharField(required=False)


class ContactTagsResultSerializer(serializers.Serializer):
    contact = serializers.IntegerField()
    tags = TagSerializer(many=True, help_text="The customer's tags: the union over its active follows.")
    follows = FollowTagsSerializer(many=True)
    changed = serializers.IntegerField(help_text="Follows WeCom changed.")
    unchanged = serializers.IntegerField(help_text="Follows that already had (or lacked) the tags.")
    errors = TaggingErrorSerializer(many=True, help_text="Follows WeCom refused: nothing changed for them.")


class BulkTagSerializer(serializers.Serializer):
    action = serializers.ChoiceField(choices=["tag", "untag"])
    tags = serializers.PrimaryKeyRelatedField(queryset=Tag.objects, many=True, allow_empty=False)
    contacts = serializers.ListField(
        child=serializers.IntegerField(min_value=1), required=False, max_length=MAX_BULK_CONTACTS
    )
    filters = serializers.DictField(
        child=serializers.CharField(allow_blank=True),
        required=False,
        help_text=f"The contacts list's filter parameters: {', '.join(FILTER_PARAMS)}.",
    )
    segment = serializers.PrimaryKeyRelatedField(queryset=Segment.objects, required=False)

    def validate_tags(self, tags):
        return _live_tags(tags)

    def validate_filters(self, filters: dict) -> dict:
        unknown = sorted(set(filters) - set(FILTER_PARAMS))
        if unknown:
            # A misspelt filter must not silently widen a bulk action to more customers.
            raise serializers.ValidationError(f"Unknown filter parameters: {', '.join(unknown)}.")
        return filters

    def validate(self, data):
        given = [name for name in ("contacts", "filters", "segment") if name in data]
        if len(given) != 1:
            raise serializers.ValidationError(
                {"contacts": ["Give exactly one of contacts, filters or segment."]}
            )
        return data


# --- remarks ---------------------------------------------------------------------------------


class FollowRemarkSerializer(serializers.ModelSerializer):
    remark = serializers.CharField(max_length=20, allow_blank=True, required=False)
    description = serializers.CharField(max_length=150, allow_blank=True, required=False)
    remark_corp_name = serializers.CharField(max_length=128, allow_blank=True, required=False)
    remark_mobiles = serializers.ListField(
        child=serializers.CharField(max_length=32), max_length=5, required=False
    )
    staff = serializers.CharField(source="staff.userid", read_only=True)

    class Meta:
        model = Follow
        fields = [
            "id",
            "contact",
            "staff",
            "remark",
            "description",
            "remark_corp_name",
            "remark_mobiles",
            "status",
            "updated_at",
        ]
        read_only_fields = ["id", "contact", "staff", "status", "updated_at"]


# --- transfers -------------------------------------------------------------------------------


class TransferCreateSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(
        choices=[JobKind.TRANSFER, JobKind.INHERIT],
        default=JobKind.TRANSFER,
        help_text="transfer: the handover still works here; inherit: the handover resigned.",
    )
    handover = serializers.SlugRelatedField(slug_field="userid", queryset=Staff.objects)
    takeover = serializers.SlugRelatedField(slug_field="userid", queryset=Staff.objects)
    contacts = serializers.ListField(
        child=serializers.IntegerField(min_value=1),
        required=False,
        allow_empty=False,
        max_length=MAX_BULK_CONTACTS,
    )
    all = serializers.BooleanField(default=False, help_text="Every customer the handover follows.")
    message = serializers.CharField(
        max_length=200, allow_blank=True, default="", help_text="Shown to the customers (transfer only)."
    )

    def validate_contacts(self, ids: list[int]) -> list[Contact]:
        ids = sorted(set(ids))
        found = {c.pk: c for c in Contact.objects.filter(pk__in=ids)}
        missing = [i for i in ids if i not in found]
        if missing:
            raise serializers.ValidationError(f"Unknown contact ids: {', '.join(map(str, missing))}.")
        return [found[i] for i in ids]

    def validate(self, data):
        if bool(data.get("contacts")) == bool(data["all"]):
            raise serializers.ValidationError({"contacts": ["Give either contacts or all: true."]})
        return data


class TransferItemSerializer(serializers.ModelSerializer):
    external_userid = serializers.CharField(source="contact.external_userid", read_only=True)
    contact_name = serializers.CharField(source="contact.name", read_only=True)
    handover = serializers.CharField(source="handover.userid", read_only=True)
    takeover = serializers.CharField(source="takeover.userid", read_only=True)

    class Meta:
        model = TransferItem
        fields = [
            "id",
            "contact",
            "contact_name",
            "external_userid",
            "handover",
            "takeover",
            "status",
            "errcode",
            "detail",
            "takeover_at",
            "updated_at",
        ]
        read_only_fields = fields


class UnassignedContactSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class UnassignedSerializer(serializers.Serializer):
    handover = serializers.CharField(help_text="The resigned member's WeCom userid.")
    handover_name = serializers.CharField()
    external_userid = serializers.CharField()
    dimission_time = serializers.DateTimeField(allow_null=True)
    contact = UnassignedContactSerializer(allow_null=True, help_text="Our contact, when synced.")


class UnassignedPageSerializer(serializers.Serializer):
    results = UnassignedSerializer(many=True)
    next_cursor = serializers.CharField(help_text="Pass as ?cursor= for the next page; empty on the last.")


# --- jobs ------------------------------------------------------------------------------------


class JobSerializer(serializers.ModelSerializer):
    download_url = serializers.SerializerMethodField()
    created_by = ActorField()

    class Meta:
        model = Job
        fields = [
            "id",
            "kind",
            "status",
            "params",
            "total",
            "done",
            "failed",
            "errors",
            "download_url",
            "created_by",
            "created_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields

    def get_download_url(self, job: Job) -> str | None:
        if not job.result_file:
            return None
        path = reverse("job-download", kwargs={"pk": job.pk})
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request else path
