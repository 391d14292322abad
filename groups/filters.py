"""The groups list's filters and orderings.

Repeatable parameters (``?owner=1&owner=2``) are ORed; different parameters are ANDed. An owner or
tag id that names nothing matches nothing, as a search does; malformed values are 400 naming the
parameter.
"""

from __future__ import annotations

import datetime as dt

import django_filters
from django.db.models import Exists, OuterRef, Q
from rest_framework import exceptions
from rest_framework.filters import OrderingFilter

from contacts.filters import IntegerFilter, raise_invalid
from contacts.selectors import department_subtree, staff_ids_in_departments
from scrm.api.dates import day_start
from scrm.api.filters import FilterSet, IdsFilter, MultipleChoiceFilter

from .models import Group, GroupStatus, GroupTagging


def _start_of_next(day: dt.date, name: str) -> dt.datetime:
    """The start of the day after ``day`` (an inclusive "before" bound); 9999-12-31 has none."""
    if day >= dt.date.max:
        raise_invalid(name, "Give a date before 9999-12-31.")
    return day_start(day + dt.timedelta(days=1))


class GroupFilter(FilterSet):
    # distinct=False: no filter here can repeat a group (owner and status are columns, tag an
    # EXISTS), and DISTINCT over a page of groups is a sort the database need not do.
    owner = IdsFilter(
        field_name="owner_id", help_text="Owned by this staff member (Siyu staff id; repeatable)."
    )
    tag = IdsFilter(
        method="filter_tag", help_text="Carries at least one of these group tags (ids; repeatable)."
    )
    status = MultipleChoiceFilter(choices=GroupStatus.choices, distinct=False, help_text="Repeatable.")
    q = django_filters.CharFilter(method="filter_q", help_text="Name contains.")
    created_after = django_filters.DateFilter(
        method="filter_created_after", help_text="Created in WeCom on or after (ISO date)."
    )
    created_before = django_filters.DateFilter(
        method="filter_created_before", help_text="Created in WeCom on or before (ISO date)."
    )
    members_min = IntegerFilter(
        field_name="member_count", lookup_expr="gte", help_text="At least this many members."
    )
    members_max = IntegerFilter(
        field_name="member_count", lookup_expr="lte", help_text="At most this many members."
    )
    department = IntegerFilter(
        method="filter_department",
        help_text="Owned by a member of this WeCom department or of a department under it.",
    )

    class Meta:
        model = Group
        fields = ["owner", "tag", "status"]

    def filter_tag(self, queryset, name, value):
        if not value:
            return queryset
        # EXISTS, not a join: a group with two of the tags must come once.
        tagged = GroupTagging.objects.filter(group=OuterRef("pk"), tag_id__in=value)
        return queryset.filter(Exists(tagged))

    def filter_department(self, queryset, name, value):
        # Members sit in leaf departments: a parent such as 销售中心 means its whole branch. A
        # department that does not exist has no members: it matches nothing, as on contacts and staff.
        return queryset.filter(owner_id__in=staff_ids_in_departments(department_subtree(value)))

    def filter_q(self, queryset, name, value):
        value = value.strip()
        return queryset.filter(Q(name__icontains=value)) if value else queryset

    def filter_created_after(self, queryset, name, value):
        return queryset.filter(wecom_created_at__gte=day_start(value))

    def filter_created_before(self, queryset, name, value):
        return queryset.filter(wecom_created_at__lt=_start_of_next(value, name))


class GroupOrdering(OrderingFilter):
    """``ordering`` = ``-created`` (default), ``created``, ``-members``, ``members``, ``name``, ``-name``.

    Ties are broken by id in the same direction, so page-number and cursor pages never repeat or skip
    a group; an unknown ordering is a 400. ``created`` is WeCom's creation time (Siyu's when unknown).
    """

    fields = {"created": "created_sort", "members": "member_count", "name": "name"}
    choices = ("-created", "created", "-members", "members", "name", "-name")

    def get_ordering(self, request, queryset, view):
        raw = request.query_params.get(self.ordering_param, "").strip() or "-created"
        if raw not in self.choices:
            raise exceptions.ValidationError({"ordering": [f"One of: {', '.join(self.choices)}."]})
        sign, key = ("-", raw[1:]) if raw.startswith("-") else ("", raw)
        return (f"{sign}{self.fields[key]}", f"{sign}id")

    def filter_queryset(self, request, queryset, view):
        return queryset.order_by(*self.get_ordering(request, queryset, view))

    def get_schema_operation_parameters(self, view):
        return [
            {
                "name": self.ordering_param,
                "required": False,
                "in": "query",
                "description": "Sort order (default -created: the newest groups first).",
                "schema": {"type": "string", "enum": list(self.choices)},
            }
        ]


class FixedOrdering(OrderingFilter):
    """A route's one ordering (``view.fixed_ordering``), declared as a filter backend so that cursor
    pagination pages in the same order as page numbers do. Takes no parameter."""

    def get_ordering(self, request, queryset, view):
        return view.fixed_ordering

    def filter_queryset(self, request, queryset, view):
        return queryset.order_by(*view.fixed_ordering)

    def get_schema_operation_parameters(self, view):
        return []
