"""Shapes of the SOP API. Inputs check types here (strict, ``scrm.api.serializers``); the definition
and the rules across fields are checked by the services, with paths from the definition's root."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import PolymorphicProxySerializer, extend_schema_field
from rest_framework.exceptions import ErrorDetail

from campaigns.serializers import FILTER_SCHEMAS, TenantDateTimeField
from scrm.api import serializers
from scrm.api.fields import ActorField

from .models import (
    EnrolmentStatus,
    Sop,
    SopKind,
    SopStatus,
    SopTaskStatus,
    SopVersion,
    StepStatus,
)
from .services.sops import DESCRIPTION_MAX, NAME_MAX
from .services.tasks_staff import REASON_MAX
from .templates import TEMPLATE_KEYS

MAX_ENROL_IDS = 10_000

DEFINITION_SCHEMA = {
    "type": "object",
    "additionalProperties": True,
    "description": "The SOP's definition: trigger, steps, exit, goal, reenrol, quiet_hours, business_hours, "
    "respect_caps (docs/api.md, SOP automations).",
}


@extend_schema_field(DEFINITION_SCHEMA)
class DefinitionField(serializers.Field):
    """A JSON object, passed on as written: the services check it (a draft may be invalid)."""

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            raise serializers.ValidationError("An object: the SOP's definition.", code="invalid")
        return data

    def to_representation(self, value):
        return value


class ErrorItemSerializer(serializers.Serializer):
    path = serializers.CharField(allow_null=True, help_text="The definition path (steps.2.then.0.days).")
    code = serializers.CharField()
    message = serializers.CharField()


def error_items(detail: Any, path: str | None = None) -> list[dict[str, Any]]:
    """A nested error detail as ``[{path, code, message}]``, the items of the API's error shape."""
    if isinstance(detail, dict):
        return [
            item
            for key, value in detail.items()
            # Errors about the whole definition: the path of the definition itself (null at the root).
            for item in error_items(
                value, path if key == "non_field_errors" else (f"{path}.{key}" if path else str(key))
            )
        ]
    if isinstance(detail, list):
        if all(not isinstance(item, dict | list) for item in detail):
            return [item for value in detail for item in error_items(value, path)]
        return [
            item
            for index, value in enumerate(detail)
            if value
            for item in error_items(value, f"{path}.{index}" if path else str(index))
        ]
    return [{"path": path, "code": getattr(detail, "code", None) or "invalid", "message": str(detail)}]


# -- SOPs -----------------------------------------------------------------------------------------


class SopVersionRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.IntegerField()
    published_at = serializers.DateTimeField()


class SopSerializer(serializers.ModelSerializer):
    """An SOP as lists show it."""

    kind = serializers.ChoiceField(choices=SopKind.choices)
    status = serializers.ChoiceField(choices=SopStatus.choices)
    live_version = SopVersionRefSerializer(allow_null=True)
    active_enrolments = serializers.IntegerField(help_text="Customers (or groups) in the SOP now.")
    version_count = serializers.IntegerField(help_text="Versions published (0: deletable).")
    created_by = ActorField()

    class Meta:
        model = Sop
        fields = [
            "id",
            "name",
            "description",
            "kind",
            "status",
            "template",
            "live_version",
            "active_enrolments",
            "version_count",
            "created_by",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class SopDetailSerializer(SopSerializer):
    """An SOP with its draft and what publishing the draft would refuse."""

    draft = DefinitionField(help_text="The definition being edited (saved even when invalid).")
    draft_errors = serializers.SerializerMethodField(
        help_text="What publishing the draft would refuse, with definition paths (empty: publishable)."
    )

    class Meta(SopSerializer.Meta):
        fields = [*SopSerializer.Meta.fields, "draft", "draft_errors"]
        read_only_fields = fields

    @extend_schema_field(ErrorItemSerializer(many=True))
    def get_draft_errors(self, sop: Sop) -> list[dict[str, Any]]:
        return error_items(self.context.get("draft_errors") or {})


class SopCreateSerializer(serializers.Serializer):
    name = serializers.RegexField(r"\S", max_length=NAME_MAX)
    description = serializers.CharField(required=False, allow_blank=True, max_length=DESCRIPTION_MAX)
    kind = serializers.ChoiceField(
        choices=SopKind.choices,
        required=False,
        help_text="customer (default) or group. With a template: the template's (another is refused, code "
        "kind_mismatch).",
    )
    template = serializers.ChoiceField(
        choices=TEMPLATE_KEYS,
        required=False,
        help_text="Start from this template (GET /sop-templates/): its kind and draft.",
    )
    draft = DefinitionField(required=False, help_text="The definition (default: the template's, or empty).")


class SopUpdateSerializer(serializers.Serializer):
    name = serializers.RegexField(r"\S", max_length=NAME_MAX, required=False)
    description = serializers.CharField(required=False, allow_blank=True, max_length=DESCRIPTION_MAX)
    draft = DefinitionField(
        required=False, help_text="Saved as written, even when invalid: see draft_errors in the answer."
    )


@extend_schema_field({"type": "boolean", "enum": [True]})
class ConfirmField(serializers.BooleanField):
    def to_internal_value(self, data):
        if super().to_internal_value(data) is not True:
            raise serializers.ValidationError(
                ErrorDetail("Confirm with true: everyone inside the SOP exits.", code="required")
            )
        return True


class SopStopSerializer(serializers.Serializer):
    confirm = ConfirmField(help_text="true: everyone inside the SOP exits (reason sop_stopped).")


class SopStopResultSerializer(serializers.Serializer):
    sop = SopDetailSerializer()
    exited = serializers.IntegerField(help_text="Enrolments that exited.")


class SopVersionSerializer(serializers.ModelSerializer):
    """A published definition, frozen."""

    definition = DefinitionField()
    published_by = ActorField("published_by")
    enrolled = serializers.IntegerField(help_text="Enrolments of this version.")
    active = serializers.IntegerField(help_text="Of which still in the SOP.")

    class Meta:
        model = SopVersion
        fields = ["id", "number", "definition", "published_at", "published_by", "enrolled", "active"]
        read_only_fields = fields


class SopTemplateSerializer(serializers.Serializer):
    key = serializers.CharField()
    name = serializers.CharField()
    description = serializers.CharField()
    kind = serializers.ChoiceField(choices=SopKind.choices)
    draft = DefinitionField()


# -- enrolments -----------------------------------------------------------------------------------


class SopContactSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    avatar = serializers.CharField()


class SopGroupSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class SopStaffSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    userid = serializers.CharField()
    name = serializers.CharField()


class CurrentStepSerializer(serializers.Serializer):
    id = serializers.CharField()
    type = serializers.CharField(help_text="wait, wait_until, wait_business_hours, branch, split, action.")
    action = serializers.CharField(
        help_text="The action of an action step (remind, mass_task...); else empty."
    )
    title = serializers.CharField()
    status = serializers.ChoiceField(choices=StepStatus.choices)
    due_at = serializers.DateTimeField()
    outcome = serializers.CharField(help_text="What it did (done) or why not (skipped).")


class EnrolmentSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    contact = SopContactSerializer(allow_null=True, help_text="The customer (customer SOPs).")
    group = SopGroupSerializer(allow_null=True, help_text="The group (group SOPs).")
    staff = SopStaffSerializer(allow_null=True, help_text="The member who acts for it.")
    version = serializers.IntegerField(allow_null=True, help_text="The version's number.")
    status = serializers.ChoiceField(choices=EnrolmentStatus.choices)
    exit_reason = serializers.CharField(
        help_text="exit_criteria, lost, sop_stopped, not_matching, removed... (exited only)."
    )
    occurrence = serializers.CharField(
        help_text="The day of a yearly or scheduled run, r2.. for re-enrolments."
    )
    current_step = CurrentStepSerializer(allow_null=True, help_text="Its latest step (null: none yet).")
    splits = serializers.DictField(child=serializers.CharField(), help_text="A/B split step id → branch id.")
    enrolled_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)
    goal_at = serializers.DateTimeField(allow_null=True)


@extend_schema_field({"type": "object", "properties": FILTER_SCHEMAS, "additionalProperties": False})
class ContactFiltersField(serializers.Field):
    """The contacts list's filter parameters, as strings: the enrolment service checks them."""

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            raise serializers.ValidationError("An object of the contacts list's filters.", code="invalid")
        return data

    def to_representation(self, value):
        return value


class EnrolByIdsSerializer(serializers.Serializer):
    contact_ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1),
        min_length=1,
        max_length=MAX_ENROL_IDS,
        help_text="These customers (ids that name none: does_not_exist).",
    )


class EnrolByFiltersSerializer(serializers.Serializer):
    filters = ContactFiltersField(help_text="The customers matching these filters now (at most 10,000).")


ENROL_REQUEST = PolymorphicProxySerializer(
    component_name="SopEnrol",
    serializers=[EnrolByIdsSerializer, EnrolByFiltersSerializer],
    resource_type_field_name=None,
)


def enrol_input(data: Any) -> dict[str, Any]:
    """``{contact_ids}`` or ``{filters}``, one of the two, checked."""
    if not isinstance(data, dict) or ("contact_ids" in data) == ("filters" in data):
        raise serializers.ValidationError(
            {"contact_ids": [ErrorDetail("Give contact_ids or filters, one of the two.", code="required")]}
        )
    serializer = (EnrolByIdsSerializer if "contact_ids" in data else EnrolByFiltersSerializer)(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class EnrolResultSerializer(serializers.Serializer):
    enrolled = serializers.IntegerField()
    skipped = serializers.DictField(
        child=serializers.IntegerField(), help_text="Customers not enrolled, by reason (already, lost...)."
    )


# -- report ---------------------------------------------------------------------------------------


class ReportEnrolmentsSerializer(serializers.Serializer):
    total = serializers.IntegerField()
    active = serializers.IntegerField()
    completed = serializers.IntegerField()
    goal = serializers.IntegerField()
    exited = serializers.IntegerField()
    by_exit_reason = serializers.DictField(child=serializers.IntegerField())


class ReportGoalSerializer(serializers.Serializer):
    reached = serializers.IntegerField()
    conversion = serializers.FloatField(allow_null=True, help_text="Goal / enrolled (null: nobody enrolled).")
    median_hours_to_goal = serializers.FloatField(allow_null=True)


class ReportStepSerializer(serializers.Serializer):
    id = serializers.CharField()
    type = serializers.CharField()
    action = serializers.CharField(help_text="The action of an action step; else empty.")
    title = serializers.CharField()
    depth = serializers.IntegerField(help_text="0 for the top list, 1 inside a branch or split, ...")
    parent = serializers.CharField(allow_null=True, help_text="The branch or split step it is inside.")
    lane = serializers.CharField(help_text="Inside a branch: then or else; inside a split: the branch id.")
    waiting = serializers.IntegerField(help_text="Due later, or being executed.")
    done = serializers.IntegerField()
    skipped = serializers.IntegerField()
    skipped_by_reason = serializers.DictField(child=serializers.IntegerField())
    cancelled = serializers.IntegerField(help_text="Never ran: the enrolment ended first.")


class ReportBranchSerializer(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()
    percent = serializers.IntegerField()
    enrolled = serializers.IntegerField()
    goal = serializers.IntegerField()
    conversion = serializers.FloatField(allow_null=True)


class ReportSplitSerializer(serializers.Serializer):
    step_id = serializers.CharField()
    title = serializers.CharField()
    branches = ReportBranchSerializer(many=True)
    test = serializers.CharField(help_text="z (two branches) or chi_square (more); empty when not computed.")
    p_value = serializers.FloatField(allow_null=True, help_text="Null when a branch has nobody yet.")
    significant = serializers.BooleanField(help_text="p_value < 0.05.")


class ReportMemberSerializer(serializers.Serializer):
    staff_id = serializers.IntegerField()
    userid = serializers.CharField()
    name = serializers.CharField()
    tasks = serializers.IntegerField()
    todo = serializers.IntegerField()
    done = serializers.IntegerField()
    skipped = serializers.IntegerField()
    postponed = serializers.IntegerField()
    completion_rate = serializers.FloatField(allow_null=True, help_text="done / tasks.")


class SopReportSerializer(serializers.Serializer):
    version = serializers.IntegerField(
        allow_null=True, help_text="The version reported on (null: all versions, steps of the latest)."
    )
    enrolments = ReportEnrolmentsSerializer()
    goal = ReportGoalSerializer()
    steps = ReportStepSerializer(many=True)
    splits = ReportSplitSerializer(many=True)
    members = ReportMemberSerializer(many=True)


# -- tasks ----------------------------------------------------------------------------------------


class SopRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class TaskContentSerializer(serializers.Serializer):
    text = serializers.CharField(allow_blank=True)
    attachments = serializers.ListField(child=serializers.DictField(), help_text="[{material_id}]")


class SopTaskSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    sop = SopRefSerializer()
    title = serializers.CharField()
    content = TaskContentSerializer()
    contact = SopContactSerializer(allow_null=True)
    group = SopGroupSerializer(allow_null=True)
    staff = SopStaffSerializer()
    status = serializers.ChoiceField(choices=SopTaskStatus.choices)
    due_at = serializers.DateTimeField()
    reason = serializers.CharField(help_text="Why skipped or postponed.")
    done_via = serializers.CharField(help_text="member (marked here) or wecom (read from WeCom); else empty.")
    done_at = serializers.DateTimeField(allow_null=True)
    delivery_kind = serializers.CharField(
        help_text="mass_task / group_send: the member sends it through a WeCom task (done is read from "
        "WeCom); reminder: the member sends it by hand; empty: not sent yet."
    )
    created_at = serializers.DateTimeField()


class TaskPostponeSerializer(serializers.Serializer):
    until = TenantDateTimeField(
        help_text="When to do it; without an offset, in the tenant's time zone. In the future (code "
        "in_the_past), at most 30 days ahead (too_far_ahead)."
    )
    reason = serializers.CharField(required=False, allow_blank=True, max_length=REASON_MAX)


class TaskSkipSerializer(serializers.Serializer):
    reason = serializers.RegexField(r"\S", max_length=REASON_MAX, help_text="Why it is skipped.")
