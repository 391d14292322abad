"""Shapes of the profile fields API and of a customer's profile edit. Types are checked here (strict,
``scrm.api.serializers``); the rules (unique key, immutable key and kind, choices per kind, a value per
field's kind) by ``value.services.fields``, with the same field paths."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field

from scrm.api import serializers

from .models import FieldKind, ProfileField
from .services.fields import (
    CHOICE_MAX_CHARS,
    CHOICES_MAX,
    KEY_PATTERN,
    LABEL_MAX,
    NUMBER_MAX,
    ORDER_MAX,
    PROFILE_KEYS_MAX,
    TEXT_MAX,
)


class ProfileFieldSerializer(serializers.ModelSerializer):
    key = serializers.CharField(
        help_text="Where values live in the customer's profile and what filters name "
        f"(`{KEY_PATTERN}`); fixed once the field exists."
    )
    kind = serializers.ChoiceField(
        choices=FieldKind.choices, help_text="What its values are; fixed once the field exists."
    )
    choices = serializers.ListField(
        child=serializers.CharField(),
        help_text=f"The options of a choice or multiple-choice field (1 to {CHOICES_MAX} distinct, "
        f"at most {CHOICE_MAX_CHARS} characters each); empty for the other kinds.",
    )
    yearly = serializers.BooleanField(
        help_text="A date that recurs every year (a birthday): date fields only."
    )
    order = serializers.IntegerField(min_value=0, max_value=ORDER_MAX, help_text="Smaller first.")
    archived = serializers.BooleanField(
        help_text="Hidden from forms and the export; its values and filters on it stay."
    )

    class Meta:
        model = ProfileField
        fields = [
            "id",
            "key",
            "label",
            "kind",
            "choices",
            "yearly",
            "order",
            "archived",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "created_at", "updated_at"]


@extend_schema_field(
    {
        "type": "array",
        "items": {"type": "string", "minLength": 1, "maxLength": CHOICE_MAX_CHARS},
        "maxItems": CHOICES_MAX,
        "uniqueItems": True,
    }
)
class ChoicesField(serializers.ListField):
    """Distinct texts (the service checks them again once trimmed)."""

    def __init__(self, **kwargs):
        super().__init__(
            child=serializers.CharField(max_length=CHOICE_MAX_CHARS), max_length=CHOICES_MAX, **kwargs
        )


class ProfileFieldCreateSerializer(serializers.Serializer):
    key = serializers.RegexField(
        KEY_PATTERN,
        max_length=32,
        help_text="Lowercase letters, digits and _, from a letter: unique in the tenant for good (409 "
        "key_taken, archived fields included), fixed once made.",
    )
    label = serializers.CharField(max_length=LABEL_MAX)
    kind = serializers.ChoiceField(choices=FieldKind.choices, help_text="Fixed once made.")
    choices = ChoicesField(
        required=False,
        help_text=f"1 to {CHOICES_MAX} for choice and multi_choice (400 choices_required otherwise); "
        "none for the other kinds (400 wrong_kind).",
    )
    yearly = serializers.BooleanField(required=False, default=False)
    order = serializers.IntegerField(required=False, default=0, min_value=0, max_value=ORDER_MAX)


class ProfileFieldUpdateSerializer(serializers.Serializer):
    """Any of these. ``key`` and ``kind`` are fixed: sent unchanged they are ignored, changed they are a
    400 ``immutable`` (the view reads them from the body)."""

    label = serializers.CharField(max_length=LABEL_MAX, required=False)
    choices = ChoicesField(
        required=False, help_text="Choice fields only. A choice values use may go: those values stay."
    )
    yearly = serializers.BooleanField(required=False)
    order = serializers.IntegerField(required=False, min_value=0, max_value=ORDER_MAX)
    archived = serializers.BooleanField(required=False, help_text="false restores an archived field.")


class ProfileSerializer(serializers.Serializer):
    profile = serializers.DictField(
        child=serializers.JSONField(allow_null=True),
        # A PATCH body may leave it out (the schema makes PATCH fields optional): nothing changes.
        required=False,
        default=dict,
        help_text="Values by field key. As input, merged into the customer's profile: a key set to null "
        '(or "", or []) is removed, keys not sent stay. Per kind: text a string of at most '
        f'{TEXT_MAX} characters; number a JSON number, |x| ≤ {NUMBER_MAX:.0e}; date "YYYY-MM-DD"; '
        "choice one of the field's choices; multi_choice a list of them. Unknown or archived keys: 400 "
        "at `profile.<key>`.",
    )

    def validate_profile(self, value: dict) -> dict:
        # Every key names a field (unknown ones are refused one by one later): this only bounds the work.
        if len(value) > PROFILE_KEYS_MAX:
            raise serializers.ValidationError(f"At most {PROFILE_KEYS_MAX} keys at once.")
        return value
