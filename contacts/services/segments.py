"""Saved segments: a named contacts filter, validated by running it, reused by campaigns and SOPs."""

from __future__ import annotations

from rest_framework.exceptions import ValidationError

from scrm.tenancy.principal import Principal

from ..models import Segment
from ..selectors import contacts_matching


def segment_filters_check(*, principal: Principal, filters: dict[str, str]) -> None:
    """Build the segment's query once: bad values and unknown ids are 400s naming ``filters.<param>``."""
    try:
        contacts_matching(principal=principal, filters=filters)
    except ValidationError as exc:
        raise ValidationError({"filters": exc.detail}) from exc


def segment_create(*, principal: Principal, name: str, filters: dict[str, str]) -> Segment:
    segment_filters_check(principal=principal, filters=filters)
    user = principal.user if principal.api_key is None else None
    return Segment.objects.create(name=name, filters=filters, created_by=user)


def segment_update(*, principal: Principal, segment: Segment, data: dict) -> Segment:
    if "filters" in data:
        segment_filters_check(principal=principal, filters=data["filters"])
        segment.filters = data["filters"]
    if "name" in data:
        segment.name = data["name"]
    segment.save()
    return segment


def segment_count(*, principal: Principal, segment: Segment) -> int:
    return contacts_matching(principal=principal, filters=segment.filters).count()
