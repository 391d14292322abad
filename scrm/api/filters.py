"""Query-parameter filters shared by the apps' filter sets."""

from __future__ import annotations

import datetime as dt

import django_filters
from django import forms
from django.db import models
from drf_spectacular.utils import extend_schema_field
from rest_framework.exceptions import ValidationError


class UtcDateTimeField(forms.DateTimeField):
    """An ISO date-time, given in UTC to the database.

    PostgreSQL refuses offsets beyond ±15:59, which ISO 8601 parsers accept (``+23:07``); in UTC
    the offset is gone, and an instant outside years 1-9999 once in UTC is refused here.
    """

    input_formats = django_filters.IsoDateTimeFilter.field_class.input_formats

    def to_python(self, value):
        value = super().to_python(value)
        if value is None:
            return None
        try:
            return value.astimezone(dt.UTC)
        except OverflowError:
            raise forms.ValidationError(
                "The time is outside the calendar once in UTC.", code="invalid"
            ) from None


class UtcDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UtcDateTimeField


# Query-string booleans: what the typed clients send (true/false) and the digits some people write.
_QUERY_BOOLEANS = {"true": True, "1": True, "false": False, "0": False}


def query_boolean(raw: str | None) -> bool | None:
    """``raw`` as a query-string boolean; None when absent or empty; ValueError for anything else."""
    if raw in (None, ""):
        return None
    try:
        return _QUERY_BOOLEANS[raw]
    except KeyError:
        raise ValueError(raw) from None


def query_flag(request, name: str, *, default: bool = False) -> bool:
    """The boolean query parameter ``name`` of a route that reads it itself: junk is a 400 naming it."""
    try:
        value = query_boolean(request.query_params.get(name))
    except ValueError:
        raise ValidationError({name: [BooleanField.default_error_messages["invalid"]]}) from None
    return default if value is None else value


class BooleanField(forms.NullBooleanField):
    """true or false; empty is not given. Django's would read any other value as "not given" too,
    so a typo (``?is_active=ture``) would silently widen the list."""

    widget = forms.TextInput  # NullBooleanSelect maps unknown values to None before the field sees them
    default_error_messages = {"invalid": "true or false."}

    def to_python(self, value):
        try:
            return query_boolean(value)
        except ValueError:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid") from None

    def validate(self, value):
        pass


class BooleanFilter(django_filters.BooleanFilter):
    field_class = BooleanField


class MultipleChoiceField(django_filters.fields.MultipleChoiceField):
    """A repeatable choice where an empty value (``?status=``) is not given, as for every filter."""

    def clean(self, value):
        return super().clean([item for item in value or () if item != ""])


class MultipleChoiceFilter(django_filters.MultipleChoiceFilter):
    field_class = MultipleChoiceField


class IdsField(forms.Field):
    """Repeated ids (``?owner=1&owner=2``): whole numbers from 1 in ASCII digits that fit an id column;
    empty ones are not given."""

    widget = forms.SelectMultiple
    default_error_messages = {"invalid": "%(value)s is not an id."}

    def to_python(self, value):
        ids = []
        for item in value or ():
            if item == "":
                continue
            if not (
                isinstance(item, str) and item.isascii() and item.isdigit() and len(item) <= 18 and int(item)
            ):
                raise forms.ValidationError(
                    self.error_messages["invalid"], code="invalid", params={"value": repr(item)}
                )
            ids.append(int(item))
        return sorted(set(ids))


# 18 digits at most (what IdsField takes): the schema says so, or a fuzzer's 20-digit "valid" id is a 400.
@extend_schema_field({"type": "array", "items": {"type": "integer", "minimum": 1, "maximum": 10**18 - 1}})
class IdsFilter(django_filters.Filter):
    """Rows whose ``field_name`` is any of the ids given. An id that names nothing matches nothing, as
    a search does: the schema cannot say which ids exist, and a list that narrows is never widened by
    one that does not."""

    field_class = IdsField

    def filter(self, qs, value):
        if not value:
            return qs
        return qs.filter(**{f"{self.field_name}__in": value})


class FilterSet(django_filters.FilterSet):
    """The apps' base filter set: a boolean model field listed in ``Meta.fields`` gets the strict filter."""

    FILTER_DEFAULTS = {
        **django_filters.FilterSet.FILTER_DEFAULTS,
        models.BooleanField: {"filter_class": BooleanFilter},
    }


def query_ids(request, name: str) -> list[int]:
    """The repeated id parameter ``name`` of a route that reads it itself (as ``IdsFilter`` reads
    it); a malformed one is a 400 naming it."""
    try:
        return IdsField(required=False).clean(request.query_params.getlist(name))
    except forms.ValidationError as exc:
        raise ValidationError({name: exc.messages}) from None
