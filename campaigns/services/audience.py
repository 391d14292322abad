"""Who a campaign is for, as the author chose it, and the customers or groups that means now.

A campaign to customers names a saved segment (``{"segment_id": N}``: its filters as they are when
the campaign is planned) or an ad-hoc filter in the contacts list's language (``{"filters":
{"tags_any": "3,4", "stage": "2"}}``); lost customers never count. A campaign to customer groups
filters them by owner (staff ids), group tags and name (``{"owner_ids": [..], "tag_ids": [..],
"name": "VIP"}``, every key optional: ``{}`` is every group); dismissed groups never count.

Ids that name nothing are refused (code ``does_not_exist``), as segments, exports and bulk jobs do:
a typo must not widen a mass message. Campaigns are run by admins and operators, whose data scope is
the whole tenant, so the audience is resolved with that scope, in the worker as in the request.
"""

from __future__ import annotations

from typing import Any, NoReturn

from django.db.models import Exists, OuterRef, QuerySet
from rest_framework.exceptions import ErrorDetail, ValidationError

from contacts.filters import FILTER_PARAMS
from contacts.models import Contact, Segment, Staff
from contacts.selectors import contacts_matching
from contacts.services.segments import segment_contacts
from groups.models import Group, GroupTag, GroupTagging
from scrm.tenancy.models import Role
from scrm.tenancy.principal import Principal

from ..models import ChatType

SINGLE_KEYS = ("segment_id", "filters")
GROUP_KEYS = ("owner_ids", "tag_ids", "name")
MAX_IDS = 50
GROUP_NAME_MAX = 128


def _refuse(field: str, detail: Any) -> NoReturn:
    raise ValidationError({field: detail})


def _is_id(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def tenant_principal(tenant) -> Principal:
    """The whole tenant's scope (campaigns are for admins and operators; workers act as them)."""
    return Principal(tenant=tenant, role=Role.ADMIN)


def _flat(detail: Any) -> list:
    """A nested error detail as a flat list of messages (a segment's filter errors under segment_id)."""
    if isinstance(detail, dict):
        return [m for value in detail.values() for m in _flat(value)]
    if isinstance(detail, list):
        return [m for value in detail for m in _flat(value)]
    return [detail]


def _ids(value: Any, path: str, *, noun: str, known: QuerySet) -> list[int]:
    if not isinstance(value, list) or not all(_is_id(v) for v in value):
        _refuse(path, [f"A list of {noun} ids."])
    if len(value) > MAX_IDS:
        _refuse(path, [f"At most {MAX_IDS} {noun} ids."])
    found = set(known.filter(pk__in=value).values_list("pk", flat=True))
    errors = {
        str(i): [ErrorDetail(f"No such {noun}: {pk}.", code="does_not_exist")]
        for i, pk in enumerate(value)
        if pk not in found
    }
    if errors:
        _refuse(path, errors)
    return sorted(set(value))


def audience_clean(*, tenant, chat_type: str, audience: Any, field: str = "audience") -> dict[str, Any]:
    """``audience`` checked for ``chat_type`` and every id it names; its stored form. Errors name
    their path (``audience.filters.stage``, ``audience.owner_ids.1``)."""
    if not isinstance(audience, dict):
        _refuse(field, ["An object: {segment_id} or {filters} for customers, {owner_ids, tag_ids, name} "
                        "for groups."])  # fmt: skip
    allowed = SINGLE_KEYS if chat_type == ChatType.SINGLE else GROUP_KEYS
    unknown = [key for key in audience if key not in allowed]
    if unknown:
        what = "a customer" if chat_type == ChatType.SINGLE else "a group"
        _refuse(
            field, {key: [f"Not part of {what} audience (one of: {', '.join(allowed)})."] for key in unknown}
        )
    if chat_type == ChatType.SINGLE:
        return _single_clean(tenant, audience, field)
    return _group_clean(audience, field)


def _single_clean(tenant, audience: dict, field: str) -> dict[str, Any]:
    given = [key for key in SINGLE_KEYS if key in audience]
    if len(given) != 1:
        _refuse(field, ["Choose a saved segment (segment_id) or filters, one of the two."])
    if "segment_id" in audience:
        value = audience["segment_id"]
        path = f"{field}.segment_id"
        if not _is_id(value):
            _refuse(path, ["A segment id."])
        segment = Segment.objects.filter(pk=value).first()
        if segment is None:
            _refuse(path, [ErrorDetail(f"No such segment: {value}.", code="does_not_exist")])
        try:
            segment_contacts(principal=tenant_principal(tenant), segment=segment)
        except ValidationError as exc:
            _refuse(path, _flat(exc.detail))
        return {"segment_id": value}
    filters = audience["filters"]
    path = f"{field}.filters"
    if not isinstance(filters, dict):
        _refuse(path, ["An object of the contacts list's filter parameters."])
    errors = {}
    for key, value in filters.items():
        if key not in FILTER_PARAMS:
            errors[key] = ["Not a contacts filter."]
        elif not isinstance(value, str):
            errors[key] = ["A string, as in the contacts list's query."]
    if errors:
        _refuse(path, errors)
    cleaned = {key: filters[key] for key in FILTER_PARAMS if filters.get(key) not in (None, "")}
    try:
        contacts_matching(principal=tenant_principal(tenant), filters=cleaned)
    except ValidationError as exc:
        _refuse(path, exc.detail)
    return {"filters": cleaned}


def _group_clean(audience: dict, field: str) -> dict[str, Any]:
    cleaned: dict[str, Any] = {}
    if audience.get("owner_ids"):
        cleaned["owner_ids"] = _ids(
            audience["owner_ids"], f"{field}.owner_ids", noun="staff member", known=Staff.objects.all()
        )
    elif audience.get("owner_ids") not in (None, []):
        _refuse(f"{field}.owner_ids", ["A list of staff member ids."])
    if audience.get("tag_ids"):
        cleaned["tag_ids"] = _ids(
            audience["tag_ids"], f"{field}.tag_ids", noun="group tag", known=GroupTag.objects.all()
        )
    elif audience.get("tag_ids") not in (None, []):
        _refuse(f"{field}.tag_ids", ["A list of group tag ids."])
    name = audience.get("name")
    if name is not None:
        if not isinstance(name, str):
            _refuse(f"{field}.name", ["A string: part of the group's name."])
        if len(name) > GROUP_NAME_MAX:
            _refuse(f"{field}.name", [f"At most {GROUP_NAME_MAX} characters."])
        if name.strip():
            cleaned["name"] = name.strip()
    return cleaned


def audience_contacts(*, tenant, audience: dict[str, Any]) -> QuerySet[Contact]:
    """The customers a (clean) single-chat audience selects now, lost ones included (the caller counts
    and drops them). Raises ValidationError when it no longer resolves: a segment deleted, or naming
    tags WeCom deleted since."""
    principal = tenant_principal(tenant)
    if "segment_id" in audience:
        segment = Segment.objects.filter(pk=audience["segment_id"]).first()
        if segment is None:
            _refuse("audience.segment_id", [ErrorDetail("The segment was deleted.", code="does_not_exist")])
        return segment_contacts(principal=principal, segment=segment)
    return contacts_matching(principal=principal, filters=audience.get("filters") or {})


def audience_groups(*, audience: dict[str, Any]) -> QuerySet[Group]:
    """The groups a (clean) group-chat audience selects, dismissed ones included (the caller drops them)."""
    groups = Group.objects.all()
    if audience.get("owner_ids"):
        groups = groups.filter(owner_id__in=audience["owner_ids"])
    if audience.get("tag_ids"):
        # EXISTS, not a join: a group with two of the tags is one group.
        groups = groups.filter(
            Exists(GroupTagging.objects.filter(group=OuterRef("pk"), tag_id__in=audience["tag_ids"]))
        )
    if audience.get("name"):
        groups = groups.filter(name__icontains=audience["name"])
    return groups
