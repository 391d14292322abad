"""The Moments lists' filters. Dates are days of the tenant's calendar: the views filter inside
``timezone.override(tenant zone)``, so ``day_start`` reads them there."""

from __future__ import annotations

import datetime as dt

import django_filters
from drf_spectacular.utils import extend_schema_field

from contacts.filters import IntegerFilter
from scrm.api.dates import day_start
from scrm.api.filters import BooleanFilter, FilterSet, MultipleChoiceFilter

from .models import CreateType, Moment, MomentTask, TaskStatus


def _after(field: str):
    def method(self, queryset, name, value: dt.date):
        return queryset.filter(**{f"{field}__gte": day_start(value)})

    return method


def _before(field: str):
    def method(self, queryset, name, value: dt.date):
        if value >= dt.date.max:
            return queryset  # every day is before the calendar's last
        return queryset.filter(**{f"{field}__lt": day_start(value + dt.timedelta(days=1))})

    return method


class MomentTaskFilter(FilterSet):
    status = MultipleChoiceFilter(choices=TaskStatus.choices, distinct=False, help_text="Repeatable.")
    search = django_filters.CharFilter(method="filter_search", help_text="The text contains.")
    created_after = django_filters.DateFilter(
        method="filter_created_after", help_text="Created on or after this day (the tenant's time zone)."
    )
    created_before = django_filters.DateFilter(
        method="filter_created_before", help_text="Created on or before this day."
    )
    scheduled_after = django_filters.DateFilter(
        method="filter_scheduled_after", help_text="Scheduled on or after this day (the tenant's time zone)."
    )
    scheduled_before = django_filters.DateFilter(
        method="filter_scheduled_before", help_text="Scheduled on or before this day."
    )

    class Meta:
        model = MomentTask
        fields = ["status"]

    filter_created_after = _after("created_at")
    filter_created_before = _before("created_at")
    filter_scheduled_after = _after("scheduled_at")
    filter_scheduled_before = _before("scheduled_at")

    def filter_search(self, queryset, name, value):
        value = value.strip()
        return queryset.filter(text__icontains=value) if value else queryset


# Declared, so the schema says integers (a choice filter is published as strings).
@extend_schema_field({"type": "integer", "enum": CreateType.values})
class CreateTypeFilter(django_filters.TypedChoiceFilter):
    pass


class MomentFilter(FilterSet):
    create_type = CreateTypeFilter(
        choices=CreateType.choices,
        coerce=int,
        help_text="0: corp posts (published by members), 1: members' own posts.",
    )
    creator = IntegerFilter(field_name="creator_id", help_text="Posted by this member (staff id).")
    posted_after = django_filters.DateFilter(
        method="filter_posted_after", help_text="Posted on or after this day (the tenant's time zone)."
    )
    posted_before = django_filters.DateFilter(
        method="filter_posted_before", help_text="Posted on or before this day."
    )
    has_task = BooleanFilter(
        method="filter_has_task", help_text="true: made from a task composed in Siyu; false: the others."
    )

    class Meta:
        model = Moment
        fields = ["create_type"]

    filter_posted_after = _after("created_at_wecom")
    filter_posted_before = _before("created_at_wecom")

    def filter_has_task(self, queryset, name, value: bool):
        if value is None:
            return queryset
        return queryset.filter(task__isnull=not value)
