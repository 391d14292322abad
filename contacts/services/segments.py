"""Saved segments: a named contacts filter, validated by running it, reused by campaigns and SOPs."""

from __future__ import annotations

from django.db.models import QuerySet
from rest_framework.exceptions import ValidationError

from scrm.tenancy.actors import Actor
from scrm.tenancy.principal import Principal

from ..models import Contact, Segment
from ..selectors import contacts_matching, segments_deleted_tags


def segment_filters_check(*, principal: Principal, filters: dict[str, str]) -> None:
    """Build the segment's query once: bad values and unknown ids are 400s naming ``filters.<param>``."""
    try:
        contacts_matching(principal=principal, filters=filters)
    except ValidationError as exc:
        raise ValidationError({"filters": exc.detail}) from exc


def segment_create(*, principal: Principal, name: str, filters: dict[str, str]) -> Segment:
    segment_filters_check(principal=principal, filters=filters)
    return Segment.objects.create(name=name, filters=filters, **Actor.of(principal).as_fields("created_by"))


def segment_update(*, principal: Principal, segment: Segment, data: dict) -> Segment:
    if "filters" in data:
        segment_filters_check(principal=principal, filters=data["filters"])
        segment.filters = data["filters"]
    if "name" in data:
        segment.name = data["name"]
    segment.save()
    return segment


def segment_contacts(*, principal: Principal, segment: Segment) -> QuerySet[Contact]:
    """The contacts the segment selects now, within the principal's scope.

    A segment naming tags deleted in WeCom (alone, or with their group) no longer means what it was
    saved to mean: "has tag X" would silently match nobody, "has none of X" everybody. So it is a 400
    naming those tags under ``filters.<param>``, until the segment's filters are edited. So is one
    whose filters name anything else that is gone since (a stage, a membership level): 400 under
    ``filters.<param>`` (``does_not_exist``).
    """
    deleted = segments_deleted_tags([segment])[segment.pk]
    if deleted:
        errors: dict[str, list[str]] = {}
        for tag in deleted:
            shown = f"{tag['name']} ({tag['group']}, id {tag['id']})" if tag["name"] else f"id {tag['id']}"
            errors.setdefault(tag["filter"], []).append(
                f"Tag {shown} was deleted in WeCom: edit the segment's filters."
            )
        raise ValidationError({"filters": errors})
    try:
        return contacts_matching(principal=principal, filters=segment.filters)
    except ValidationError as exc:
        raise ValidationError({"filters": exc.detail}) from exc


def segment_count(*, principal: Principal, segment: Segment) -> int | None:
    """How many contacts it selects now; None while its filters name deleted tags or other things gone
    since it was saved (a level deleted: its contacts answer why), so reading the segment still works."""
    if segments_deleted_tags([segment])[segment.pk]:
        return None
    try:
        return contacts_matching(principal=principal, filters=segment.filters).count()
    except ValidationError:
        return None
