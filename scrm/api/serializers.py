"""DRF's serializer toolkit with strict JSON types: the apps import ``serializers`` from here.

DRF coerces what an integrator's JSON says: ``{"name": 0}`` is stored as "0", ``"1"`` and ``1.0``
pass as the integer 1, ``0``/``"no"`` as false, and ``"12"`` finds object 12. An integration that
sends the wrong type then works by accident, until a value that does not coerce. Here a string field
takes only a JSON string, an integer field only a JSON integer, a boolean only true or false, a choice
only a value of its own type and a related id only an integer (an error at the field otherwise, in
the one error shape). Every other name is DRF's own, so ``serializers.Serializer``,
``serializers.ListField(child=serializers.IntegerField())`` and ``serializers.ValidationError`` read
as they always do. ``ModelSerializer`` maps model fields to the strict classes too.
"""

from __future__ import annotations

from typing import Any

from rest_framework import serializers as drf
from rest_framework.serializers import (
    DateField,
    DateTimeField,
    DictField,
    Field,
    FileField,
    JSONField,
    ListField,
    ListSerializer,
    ReadOnlyField,
    Serializer,
    SerializerMethodField,
    ValidationError,
)

__all__ = [
    "BooleanField",
    "CharField",
    "ChoiceField",
    "DateField",
    "DateTimeField",
    "DictField",
    "EmailField",
    "Field",
    "FileField",
    "FloatField",
    "IntegerField",
    "JSONField",
    "ListField",
    "ListSerializer",
    "ModelSerializer",
    "PrimaryKeyRelatedField",
    "ReadOnlyField",
    "RegexField",
    "Serializer",
    "SerializerMethodField",
    "SlugField",
    "SlugRelatedField",
    "URLField",
    "ValidationError",
]


def _is_integer(data: Any) -> bool:
    return isinstance(data, int) and not isinstance(data, bool)  # True is an int to Python


class _StringOnly:
    def to_internal_value(self, data):
        if not isinstance(data, str):
            raise ValidationError("Not a valid string.", code="invalid")
        return super().to_internal_value(data)


class CharField(_StringOnly, drf.CharField):
    pass


class EmailField(_StringOnly, drf.EmailField):
    pass


class RegexField(_StringOnly, drf.RegexField):
    pass


class SlugField(_StringOnly, drf.SlugField):
    pass


class URLField(_StringOnly, drf.URLField):
    pass


class IntegerField(drf.IntegerField):
    def to_internal_value(self, data):
        if not _is_integer(data):
            self.fail("invalid")
        return super().to_internal_value(data)


class FloatField(drf.FloatField):
    def to_internal_value(self, data):
        if not (_is_integer(data) or isinstance(data, float)):
            self.fail("invalid")
        return super().to_internal_value(data)


class BooleanField(drf.BooleanField):
    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid", input=data)
        return data


class ChoiceField(drf.ChoiceField):
    """A value of the choice's own type: ``1`` is not the choice ``"1"``, nor ``"1"`` the choice 1."""

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if isinstance(data, bool) or isinstance(data, str) != isinstance(value, str):
            self.fail("invalid_choice", input=data)
        return value


class PrimaryKeyRelatedField(drf.PrimaryKeyRelatedField):
    """An id as a JSON integer; an unknown one is ``does_not_exist`` (DRF's code)."""

    def to_internal_value(self, data):
        if not _is_integer(data):
            self.fail("incorrect_type", data_type=type(data).__name__)
        return super().to_internal_value(data)


class SlugRelatedField(drf.SlugRelatedField):
    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


_STRICT = {
    drf.BooleanField: BooleanField,
    drf.CharField: CharField,
    drf.ChoiceField: ChoiceField,
    drf.EmailField: EmailField,
    drf.FloatField: FloatField,
    drf.IntegerField: IntegerField,
    drf.RegexField: RegexField,
    drf.SlugField: SlugField,
    drf.URLField: URLField,
}


class ModelSerializer(drf.ModelSerializer):
    """DRF's, building the strict fields above from model fields."""

    serializer_field_mapping = {
        model_field: _STRICT.get(field, field)
        for model_field, field in drf.ModelSerializer.serializer_field_mapping.items()
    }
    serializer_related_field = PrimaryKeyRelatedField
    serializer_choice_field = ChoiceField
