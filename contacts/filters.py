"""The contacts list's filters: one FilterSet used by the list, saved segments, exports and bulk jobs.

Tag, staff and channel filters are key lookups on ``Contact.facets`` (see ``contacts.facets``), so
"tags A and B, followed by S" is one GIN-indexed condition on PostgreSQL. In the list an unknown id
matches nothing, as a search does; in what acts on or keeps a selection (segments, exports, bulk
jobs) it is a 400 naming the parameter (code ``does_not_exist``): a typo there must not widen a
bulk action.

The customer-value filters (tier, score, LTV, orders, purchases, points, level) join the contact's
``ContactValue`` / ``PointsAccount`` row only when given; a customer without one has tier null,
score, LTV, orders and points 0. ``profile`` is a list of clauses on ``Contact.profile`` keys
(``profile_clauses_q``), checked against the tenant's profile fields.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any, NamedTuple

import django_filters
from django import forms
from django.db import connection
from django.db.models import Q, QuerySet
from django.db.models.expressions import RawSQL
from django.db.models.fields.json import KeyTransform
from django.utils import timezone
from drf_spectacular.utils import extend_schema_field

from scrm.api.filters import BooleanFilter, FilterSet
from value.models import FieldKind, Level, ProfileField, Tier

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
    "tier",
    "score_min",
    "score_max",
    "ltv_min",
    "ltv_max",
    "orders_min",
    "purchased_within",
    "not_purchased_within",
    "points_min",
    "level",
    "profile",
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


SCORE_MAX = 100
# Orders and points are 32-bit columns; a bound past a billion means nothing (and 2**31-1, the column's
# own limit, would be dropped from the schema: scrm.api.schema.database_independent_integers).
COUNT_MAX = 999_999_999
# The same bounds as strings in saved filters (campaign audiences publish these patterns).
SCORE_PATTERN = "^ *0*([0-9]|[1-9][0-9]|100) *$"
COUNT_PATTERN = "^ *[0-9]{1,9} *$"
# An LTV bound: a whole number of yuan (up to 12 digits, ContactValue.ltv's range) and at most 2 decimals.
LTV_PATTERN = "^ *[0-9]{1,12}([.][0-9]{1,2})? *$"


@extend_schema_field({"type": "integer", "minimum": 0, "maximum": SCORE_MAX})
class ScoreFilter(django_filters.NumberFilter):
    """An activity score, 0 to 100."""

    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        super().__init__(*args, min_value=0, max_value=SCORE_MAX, **kwargs)


@extend_schema_field({"type": "integer", "minimum": 0, "maximum": COUNT_MAX})
class CountFilter(django_filters.NumberFilter):
    """A count from 0 (orders, points)."""

    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        super().__init__(*args, min_value=0, max_value=COUNT_MAX, **kwargs)


class AmountField(forms.CharField):
    """An amount of money from 0, two decimals at most, as ``LTV_PATTERN`` says (the schema's pattern
    is the whole rule: "1e3" or "-0" would pass a DecimalField and be refused by the published schema)."""

    def clean(self, value):
        value = super().clean(value)
        if not value:
            return None
        if not re.fullmatch(LTV_PATTERN, value):
            raise forms.ValidationError("An amount from 0, with at most 2 decimals (e.g. 1999.50).")
        return Decimal(value.strip())


@extend_schema_field({"type": "string", "pattern": LTV_PATTERN})
class AmountFilter(django_filters.Filter):
    field_class = AmountField


# -- profile clauses --------------------------------------------------------------------------------

PROFILE_CLAUSES_MAX = 10
PROFILE_VALUE_MAX = 200
_PROFILE_KEY = "[a-z][a-z0-9_]{0,31}"
# A clause: a key, an operator and (but for ? and !?) a value; clauses are separated by ";". The
# published pattern is the syntax; which keys exist and what values their kinds take is checked then.
_PROFILE_VALUE = f"[^; \\x00][^;\\x00]{{0,{PROFILE_VALUE_MAX - 1}}}"
_PROFILE_CLAUSE = f" *{_PROFILE_KEY} *(!?[?]|(!=|>=|<=|=|~) *{_PROFILE_VALUE})"
PROFILE_PATTERN = f"^{_PROFILE_CLAUSE}( *;{_PROFILE_CLAUSE}){{0,{PROFILE_CLAUSES_MAX - 1}}} *$"
_CLAUSE = re.compile(rf"^ *({_PROFILE_KEY}) *(!\?|\?|!=|>=|<=|=|~)(.*)$", re.DOTALL)
_NUMBER = re.compile(r"^-?[0-9]{1,13}([.][0-9]{1,6})?$")
_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
# What each kind of field may be compared with: = (for multiple choice: contains), != (not that value,
# or no value), >= and <= (numbers and dates), ~ (text contains), ? (has a value), !? (has none).
PROFILE_OPERATORS: dict[str, tuple[str, ...]] = {
    FieldKind.TEXT: ("=", "!=", "~", "?", "!?"),
    FieldKind.NUMBER: ("=", "!=", ">=", "<=", "?", "!?"),
    FieldKind.DATE: ("=", "!=", ">=", "<=", "?", "!?"),
    FieldKind.CHOICE: ("=", "!=", "?", "!?"),
    FieldKind.MULTI_CHOICE: ("=", "!=", "?", "!?"),
}


class ProfileClause(NamedTuple):
    key: str
    op: str
    value: str


class ProfileClausesField(forms.CharField):
    """``key=value;key>=value;…``: the syntax only (the keys are the tenant's, checked when filtering).
    Spaces around keys, operators and values are dropped; nothing else is trimmed, as the pattern says."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, strip=False, **kwargs)

    def clean(self, value):
        value = super().clean(value)
        if not value or not value.strip(" "):
            return []
        parts = value.split(";")
        if len(parts) > PROFILE_CLAUSES_MAX:
            raise forms.ValidationError(f"At most {PROFILE_CLAUSES_MAX} clauses.")
        clauses = []
        for part in parts:
            match = _CLAUSE.fullmatch(part)
            if match is None:
                raise forms.ValidationError(
                    "%(part)s is not a clause: key=value, key!=value, key>=value, key<=value, key~text, "
                    "key? or key!?, separated by ;.",
                    params={"part": repr(part.strip())},
                )
            key, op, rest = match.group(1), match.group(2), match.group(3).strip(" ")
            if op in ("?", "!?") and rest:
                raise forms.ValidationError(
                    "%(part)s: ? and !? take no value.", params={"part": repr(part.strip())}
                )
            if op not in ("?", "!?") and not 1 <= len(rest) <= PROFILE_VALUE_MAX:
                raise forms.ValidationError(
                    "%(part)s: give a value of 1 to %(max)s characters.",
                    params={"part": repr(part.strip()), "max": PROFILE_VALUE_MAX},
                )
            clauses.append(ProfileClause(key, op, rest))
        return clauses


@extend_schema_field({"type": "string", "pattern": PROFILE_PATTERN})
class ProfileClausesFilter(django_filters.Filter):
    field_class = ProfileClausesField


def _profile_value(field: ProfileField, clause: ProfileClause) -> Any:
    """The clause's value as the field's values are stored, or ValueError saying what it should be."""
    raw = clause.value
    if field.kind == FieldKind.NUMBER:
        if not _NUMBER.fullmatch(raw):
            raise ValueError("a number (digits, an optional - and decimal point)")
        number = float(raw) if "." in raw else int(raw)
        if abs(number) > 10**12:
            raise ValueError("a number between -1e12 and 1e12")
        return number
    if field.kind == FieldKind.DATE:
        try:
            if not _DATE.fullmatch(raw):
                raise ValueError
            return dt.date.fromisoformat(raw).isoformat()  # compared as text: ISO dates sort as dates
        except ValueError:
            raise ValueError("a date as YYYY-MM-DD") from None
    if field.kind in (FieldKind.CHOICE, FieldKind.MULTI_CHOICE) and raw not in field.choices:
        raise ValueError(f"one of its choices ({', '.join(field.choices)})")
    return raw


def _list_contains_q(key: str, value: str) -> Q:
    """Contacts whose ``profile[key]`` is a list holding ``value``. PostgreSQL: jsonb containment
    (``@>``); SQLite has no JSON containment, so its json_each lists the elements (no alias of the
    outer query is named: the condition stays right when the queryset becomes a subquery)."""
    if connection.vendor == "postgresql":
        return Q(**{"profile__contains": {key: [value]}})
    elements = RawSQL(
        "SELECT c.id FROM contacts_contact c, json_each(c.profile, %s) e WHERE e.value = %s",
        (f'$."{key}"', value),
    )
    return Q(pk__in=elements)


def profile_clauses_q(queryset: QuerySet, clauses: list[ProfileClause], *, name: str = "profile") -> QuerySet:
    """``queryset`` narrowed by every clause (AND). Unknown keys and values that do not suit the key's
    kind are a 400 naming ``name``. Archived fields still filter: their values stay, and a saved
    segment keeps its meaning."""
    fields = {f.key: f for f in ProfileField.objects.filter(key__in={c.key for c in clauses})}
    unknown = sorted({c.key for c in clauses} - set(fields))
    if unknown:
        raise_invalid(name, f"No such profile fields: {', '.join(unknown)}.", code="does_not_exist")
    # A clause that does not suit its field's kind is "wrong_kind": which kind a key is, is the
    # tenant's data (a schema cannot say it).
    for index, clause in enumerate(clauses):
        field = fields[clause.key]
        if clause.op not in PROFILE_OPERATORS[field.kind]:
            raise_invalid(
                name,
                f"{clause.key} ({field.kind}) takes {', '.join(PROFILE_OPERATORS[field.kind])}, "
                f"not {clause.op}.",
                code="wrong_kind",
            )
        has = Q(profile__has_key=clause.key)
        if clause.op == "?":
            queryset = queryset.filter(has)
            continue
        if clause.op == "!?":
            queryset = queryset.exclude(has)
            continue
        try:
            value = _profile_value(field, clause)
        except ValueError as exc:
            raise_invalid(
                name, f"{clause.key}{clause.op}{clause.value}: {clause.key} takes {exc}.", code="wrong_kind"
            )
        # The key through an alias, never spelt into a lookup path: a key such as "contains" or "lt"
        # would be read as a lookup there.
        alias = f"_profile_{index}"
        queryset = queryset.alias(**{alias: KeyTransform(clause.key, "profile")})
        if field.kind == FieldKind.MULTI_CHOICE:
            matches = _list_contains_q(clause.key, value)
        elif clause.op == "~":
            matches = Q(**{f"{alias}__icontains": value})
        elif clause.op == ">=":
            matches = Q(**{f"{alias}__gte": value})
        elif clause.op == "<=":
            matches = Q(**{f"{alias}__lte": value})
        else:
            matches = Q(**{alias: value})
        # "!=": another value, or none (a NULL comparison would drop customers without the key).
        queryset = queryset.filter(~has | ~matches if clause.op == "!=" else has & matches)
    return queryset


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
    tier = django_filters.ChoiceFilter(
        choices=Tier.choices,
        method="filter_tier",
        help_text="Lifecycle tier (customers not computed yet: none).",
    )
    score_min = ScoreFilter(method="filter_score_min", help_text="Activity score at least (0-100).")
    score_max = ScoreFilter(method="filter_score_max", help_text="Activity score at most (0-100).")
    ltv_min = AmountFilter(method="filter_ltv_min", help_text="Lifetime value (net of refunds) at least.")
    ltv_max = AmountFilter(method="filter_ltv_max", help_text="Lifetime value at most.")
    orders_min = CountFilter(method="filter_orders_min", help_text="Orders (not fully refunded) at least.")
    purchased_within = DaysFilter(method="filter_purchased_within", help_text="Bought in the last N days.")
    not_purchased_within = DaysFilter(
        method="filter_not_purchased_within",
        help_text="Did not buy in the last N days (never, or longer ago).",
    )
    points_min = CountFilter(method="filter_points_min", help_text="Points balance at least.")
    level = IntegerFilter(method="filter_level", help_text="Membership level id.")
    profile = ProfileClausesFilter(
        method="filter_profile",
        help_text="Profile clauses separated by ; (at most 10): key=value (multiple choice: contains), "
        "key!=value (another value or none), key>=value and key<=value (numbers, dates), key~text "
        "(text contains, any case), key? (has a value), key!? (has none).",
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

    # -- customer value: ContactValue (``value``) and PointsAccount (``points``), joined when given ----
    def filter_tier(self, queryset, name, value):
        return queryset.filter(value__tier=value)

    def filter_score_min(self, queryset, name, value: int):
        return queryset.filter(value__score__gte=value) if value > 0 else queryset

    def filter_score_max(self, queryset, name, value: int):
        # No row yet is a score of 0, which is under any bound.
        return queryset.filter(Q(value__score__lte=value) | Q(value__isnull=True))

    def filter_ltv_min(self, queryset, name, value: Decimal | None):
        return queryset.filter(value__ltv__gte=value) if value else queryset

    def filter_ltv_max(self, queryset, name, value: Decimal | None):
        if value is None:
            return queryset
        return queryset.filter(Q(value__ltv__lte=value) | Q(value__isnull=True))

    def filter_orders_min(self, queryset, name, value: int):
        return queryset.filter(value__orders__gte=value) if value > 0 else queryset

    def filter_purchased_within(self, queryset, name, value: int):
        return queryset.filter(value__last_purchase_at__gte=timezone.now() - dt.timedelta(days=value))

    def filter_not_purchased_within(self, queryset, name, value: int):
        since = timezone.now() - dt.timedelta(days=value)
        # IS NULL on the LEFT JOIN's column: never bought, or no row yet.
        return queryset.filter(Q(value__last_purchase_at__lt=since) | Q(value__last_purchase_at__isnull=True))

    def filter_points_min(self, queryset, name, value: int):
        return queryset.filter(points__balance__gte=value) if value > 0 else queryset

    def filter_level(self, queryset, name, value):
        def check():
            if not Level.objects.filter(id=value).exists():
                self._reject(name, f"Unknown level {value}.")

        self._narrowing_check(check)
        return queryset.filter(points__level_id=value)

    def filter_profile(self, queryset, name, value: list[ProfileClause]):
        return profile_clauses_q(queryset, value, name=name) if value else queryset


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
