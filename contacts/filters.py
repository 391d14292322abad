"""The contacts list's filters: one FilterSet used by the list, saved segments, exports and bulk jobs.

Tag, staff and channel filters are key lookups on ``Contact.facets`` (see ``contacts.facets``), so
"tags A and B, followed by S" is one GIN-indexed condition on PostgreSQL. In the list an unknown id
matches nothing, as a search does; in what acts on or keeps a selection (segments, exports, bulk
jobs) it is a 400 naming the parameter (code ``does_not_exist``): a typo there must not widen a
bulk action.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable

import django_filters
from django import forms
from django.db.models import Q
from django.utils import timezone
from drf_spectacular.utils import extend_schema_field

from scrm.api.filters import BooleanFilter, FilterSet

from .models import Contact, ContactStatus, Department, Follow, Staff, Stage, Tag

GENDERS = ((0, "unknown"), (1, "male"), (2, "female"))


# Declared, so the schema does not depend on the database: drf-spectacular would otherwise read
# the model field's range, which differs between SQLite and PostgreSQL, and the dashboard's
# generated API types would change with the database they were generated against.
@extend_schema_field({"type": "integer", "enum": [value for value, _ in GENDERS]})
class GenderFilter(django_filters.TypedChoiceFilter):
    pass


ADD_WAYS = (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 201, 202)
FILTER_PARAMS = (
    "tags_all",
    "tags_any",
    "tags_none",
    "staff",
    "department",
    "state",
    "add_way",
    "stage",
    "status",
    "gender",
    "added_after",
    "added_before",
    "search",
    "moments_engaged_within",
    "moments_not_engaged_within",
)


MAX_IDS_PER_FILTER = 50
# ASCII digits only (``\d`` would also take "²", which int() refuses, and "１２", which int() reads as
# 12), 18 of them at most to fit an id column; spaces around the commas are fine, nothing else is.
_ID = " *[0-9]{1,18} *"
ID_LIST_PATTERN = f"^{_ID}(,{_ID}){{0,{MAX_IDS_PER_FILTER - 1}}}$"


class IdListField(forms.CharField):
    """A comma-separated list of Siyu ids, at most ``MAX_IDS_PER_FILTER``."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, strip=False, **kwargs)  # the pattern says where spaces may be

    def clean(self, value):
        value = super().clean(value)
        if not value:
            return []
        parts = value.split(",")
        for part in parts:
            if not re.fullmatch(_ID, part):
                # A parameter, not formatted in: django-filter %-formats the message with its params.
                raise forms.ValidationError(
                    "%(part)s is not an id: give comma-separated numbers.", params={"part": repr(part)}
                )
        if len(parts) > MAX_IDS_PER_FILTER:
            raise forms.ValidationError(f"At most {MAX_IDS_PER_FILTER} ids per filter.")
        return sorted({int(part) for part in parts})


@extend_schema_field({"type": "string", "pattern": ID_LIST_PATTERN})
class IdListFilter(django_filters.Filter):
    field_class = IdListField


@extend_schema_field({"type": "integer"})  # a NumberFilter is published as any number
class IntegerFilter(django_filters.NumberFilter):
    """An id or a count: ``1.5`` is a 400, not silently 1."""

    field_class = forms.IntegerField


# A customer's Moments engagement looks back at most this many days (ten years: older is no signal).
ENGAGED_WITHIN_MAX_DAYS = 3650
# The same, as a string in saved filters (segments, audiences): 1 to 3650.
DAYS_PATTERN = "^ *0*([1-9][0-9]{0,2}|[12][0-9]{3}|3[0-5][0-9]{2}|36[0-4][0-9]|3650) *$"


@extend_schema_field({"type": "integer", "minimum": 1, "maximum": ENGAGED_WITHIN_MAX_DAYS})
class DaysFilter(django_filters.NumberFilter):
    """A number of days back from now, from 1."""

    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        super().__init__(*args, min_value=1, max_value=ENGAGED_WITHIN_MAX_DAYS, **kwargs)


def raise_invalid(name: str, message: str, *, code: str = "invalid") -> None:
    """A 400 naming the parameter (raised while filtering, so it reaches the client as such)."""
    from rest_framework.exceptions import ValidationError

    raise ValidationError({name: [message]}, code=code)


def _start_of(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def _start_of_next(day: dt.date, name: str) -> dt.datetime:
    """The start of the day after ``day`` (an inclusive "before" bound); 9999-12-31 has none."""
    if day >= dt.date.max:
        raise_invalid(name, "Give a date before 9999-12-31.")
    return _start_of(day + dt.timedelta(days=1))


class ContactFilter(FilterSet):
    tags_all = IdListFilter(
        method="filter_tags_all", help_text="Has every one of these tags (ids, comma-separated)."
    )
    tags_any = IdListFilter(method="filter_tags_any", help_text="Has at least one of these tags.")
    tags_none = IdListFilter(method="filter_tags_none", help_text="Has none of these tags.")
    staff = django_filters.CharFilter(
        method="filter_staff", help_text="Followed by this staff member (WeCom userid)."
    )
    department = IntegerFilter(
        method="filter_department",
        help_text="Followed by staff of this WeCom department or one under it.",
    )
    state = django_filters.CharFilter(method="filter_state", help_text="Added through this channel (state).")
    add_way = django_filters.TypedChoiceFilter(
        method="filter_add_way", choices=[(w, str(w)) for w in ADD_WAYS], coerce=int
    )
    stage = IntegerFilter(method="filter_stage", help_text="Stage id.")
    status = django_filters.ChoiceFilter(choices=ContactStatus.choices)
    gender = GenderFilter(choices=GENDERS, coerce=int, help_text="0 unknown, 1 male, 2 female.")
    added_after = django_filters.DateFilter(
        method="filter_added_after", help_text="First added on or after (ISO date)."
    )
    added_before = django_filters.DateFilter(
        method="filter_added_before", help_text="First added on or before (ISO date)."
    )
    search = django_filters.CharFilter(method="filter_search", help_text="Name, remark or mobile contains.")
    moments_engaged_within = DaysFilter(
        method="filter_moments_engaged",
        help_text="Liked or commented a Moment (any member's copy) in the last N days.",
    )
    moments_not_engaged_within = DaysFilter(
        method="filter_moments_not_engaged",
        help_text="Did not like or comment any Moment in the last N days (never, or longer ago).",
    )

    class Meta:
        model = Contact
        fields = ["status", "gender"]

    def __init__(self, *args, check_ids: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        # The list passes check_ids=False: there an id that names nothing (a tag, staff member,
        # department or stage) matches nothing, or excludes nothing (tags_none), as a search does,
        # and a busy list saves the lookups. Segments, exports and bulk jobs check them: a selection
        # that is kept or acted on must mean what its author thinks.
        self.check_ids = check_ids

    def _narrowing_check(self, check: Callable[[], None]) -> None:
        if self.check_ids:
            check()

    # -- validation: ids must exist in the tenant ------------------------------------------------
    def _known_tags(self, name: str, ids: list[int]) -> list[int]:
        if not self.check_ids:
            return ids
        found = set(Tag.objects.filter(id__in=ids, deleted=False).values_list("id", flat=True))
        missing = [i for i in ids if i not in found]
        if missing:
            self._reject(name, f"Unknown tag ids: {', '.join(map(str, missing))}.")
        return ids

    def _reject(self, name: str, message: str) -> None:
        raise_invalid(name, message, code="does_not_exist")

    # -- filters ---------------------------------------------------------------------------------
    def filter_tags_all(self, queryset, name, value):
        if not value:
            return queryset
        self._known_tags(name, value)
        return queryset.filter(facets__has_keys=[f"t:{i}" for i in value])

    def filter_tags_any(self, queryset, name, value):
        if not value:
            return queryset
        return queryset.filter(facets__has_any_keys=[f"t:{i}" for i in self._known_tags(name, value)])

    def filter_tags_none(self, queryset, name, value):
        if not value:
            return queryset
        return queryset.exclude(facets__has_any_keys=[f"t:{i}" for i in self._known_tags(name, value)])

    def filter_staff(self, queryset, name, value):
        def check():
            if not Staff.objects.filter(userid=value).exists():
                self._reject(name, f"Unknown staff member {value!r}.")

        self._narrowing_check(check)
        return queryset.filter(facets__has_key=f"s:{value}")

    def filter_department(self, queryset, name, value):
        def check():
            if not Department.objects.filter(wecom_id=value).exists():
                self._reject(name, f"Unknown department {value}.")

        from .selectors import department_subtree

        self._narrowing_check(check)
        return queryset.filter(facets__has_any_keys=[f"d:{d}" for d in department_subtree(int(value))])

    def filter_state(self, queryset, name, value):
        return queryset.filter(facets__has_key=f"c:{value}")

    def filter_add_way(self, queryset, name, value: int):
        return queryset.filter(facets__has_key=f"w:{value}")

    def filter_stage(self, queryset, name, value):
        def check():
            if not Stage.objects.filter(id=value).exists():
                self._reject(name, f"Unknown stage {value}.")

        self._narrowing_check(check)
        return queryset.filter(stage_id=value)

    def filter_added_after(self, queryset, name, value):
        return queryset.filter(first_added_at__gte=_start_of(value))

    def filter_added_before(self, queryset, name, value):
        return queryset.filter(first_added_at__lt=_start_of_next(value, name))

    def filter_search(self, queryset, name, value):
        value = value.strip().lower()
        return queryset.filter(search_text__contains=value) if value else queryset

    # EXISTS on the Moments interactions' contact index, added only when the filter is given.
    def filter_moments_engaged(self, queryset, name, value: int):
        from moments.selectors import engaged_within_q

        return queryset.filter(engaged_within_q(value))

    def filter_moments_not_engaged(self, queryset, name, value: int):
        from moments.selectors import engaged_within_q

        return queryset.exclude(engaged_within_q(value))


class StaffFilter(FilterSet):
    department = IntegerFilter(
        method="filter_department", help_text="Members of this WeCom department or a department under it."
    )
    is_active = BooleanFilter()
    search = django_filters.CharFilter(method="filter_search", help_text="Name or userid contains.")

    class Meta:
        model = Staff
        fields = ["is_active"]

    def filter_department(self, queryset, name, value):
        from .selectors import department_subtree, staff_ids_in_departments

        return queryset.filter(id__in=staff_ids_in_departments(department_subtree(int(value))))

    def filter_search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(Q(name__icontains=value) | Q(userid__icontains=value))


class LostFilter(FilterSet):
    """Filters of the losses list (follows a customer ended)."""

    staff = django_filters.CharFilter(method="filter_staff", help_text="The staff member deleted (userid).")
    ended_after = django_filters.DateFilter(method="filter_ended_after", help_text="Lost on or after.")
    ended_before = django_filters.DateFilter(method="filter_ended_before", help_text="Lost on or before.")

    class Meta:
        model = Follow
        fields = []

    def filter_staff(self, queryset, name, value):
        return queryset.filter(staff__userid=value)  # a userid that names nobody matches nothing

    def filter_ended_after(self, queryset, name, value):
        return queryset.filter(ended_at__gte=_start_of(value))

    def filter_ended_before(self, queryset, name, value):
        return queryset.filter(ended_at__lt=_start_of_next(value, name))
