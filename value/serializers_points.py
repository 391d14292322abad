"""Shapes of the points and levels API. Inputs check types here (strict, ``scrm.api.serializers``); the
rules (ranges, uniqueness, what cannot change) are the services' (``value.services.points``), with the
same field paths."""

from __future__ import annotations

from contacts.models import Contact
from scrm.api import serializers
from scrm.api.fields import ActorField

from .models import Level, PointsAction, PointsEntry, PointsReason, PointsRule
from .services.points import COLOR_PATTERN, LEVEL_NAME_MAX, LEVEL_POINTS_MAX, NOTE_MAX, POINTS_MAX

# -- the ledger -------------------------------------------------------------------------------------


class PointsEntrySerializer(serializers.ModelSerializer):
    """One line of a customer's points ledger."""

    delta = serializers.IntegerField(help_text="Points added (positive) or taken (negative).")
    balance_after = serializers.IntegerField(help_text="The balance once this line was written.")
    reason = serializers.ChoiceField(
        choices=PointsReason.choices,
        help_text="earned (by a rule), granted, redeemed, expired, reversed (a refund took back what "
        "its order earned).",
    )
    rule_action = serializers.CharField(
        help_text="The rule's action for earned and reversed lines (purchase, added, ...); empty otherwise."
    )
    note = serializers.CharField(
        help_text="The note of a grant or redemption; the order (source:external_id) of a purchase."
    )
    expires_at = serializers.DateTimeField(
        allow_null=True,
        help_text="Credits: when what is left of them expires (null: never). Null on debits.",
    )
    actor = ActorField("actor")

    class Meta:
        model = PointsEntry
        fields = [
            "id",
            "delta",
            "balance_after",
            "reason",
            "rule_action",
            "note",
            "created_at",
            "expires_at",
            "actor",
        ]
        read_only_fields = fields


class LevelRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    color = serializers.CharField()
    min_points = serializers.IntegerField()


# -- grants and redemptions ---------------------------------------------------------------------------


class PointsChangeSerializer(serializers.Serializer):
    """Points to give to or take from one customer."""

    contact = serializers.PrimaryKeyRelatedField(queryset=Contact.objects, help_text="The customer's id.")
    points = serializers.IntegerField(min_value=1, max_value=POINTS_MAX)
    note = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=NOTE_MAX,
        help_text="Why (shown in the ledger): an order, a gift, a campaign.",
    )


class PointsChangeResultSerializer(serializers.Serializer):
    entry = PointsEntrySerializer()
    balance = serializers.IntegerField(help_text="The customer's balance now.")
    level = LevelRefSerializer(allow_null=True, help_text="The customer's level now (null: none reached).")


# -- rules and levels ---------------------------------------------------------------------------------


class PointsRuleSerializer(serializers.ModelSerializer):
    """How many points an action earns: per yuan paid for ``purchase``, per event for the others."""

    action = serializers.ChoiceField(
        choices=PointsAction.choices,
        help_text="One rule per action (a second is a 400 unique); it cannot change after creation.",
    )
    points = serializers.IntegerField(
        min_value=1, max_value=POINTS_MAX, help_text="Per yuan for purchase (floored), per event otherwise."
    )
    is_active = serializers.BooleanField(
        required=False, default=True, help_text="Only active rules earn, from the events read while they are."
    )

    class Meta:
        model = PointsRule
        fields = ["id", "action", "points", "is_active", "updated_at"]
        read_only_fields = ["id", "updated_at"]


class PointsRuleUpdateSerializer(serializers.Serializer):
    """The fields to change (the action stays)."""

    points = serializers.IntegerField(min_value=1, max_value=POINTS_MAX, required=False)
    is_active = serializers.BooleanField(required=False)


class LevelSerializer(serializers.ModelSerializer):
    """A membership level, reached by lifetime points (``earned_total``)."""

    name = serializers.CharField(max_length=LEVEL_NAME_MAX, help_text="Unique.")
    min_points = serializers.IntegerField(
        min_value=0,
        max_value=LEVEL_POINTS_MAX,
        help_text="Lifetime points from which a customer is at this level (unique).",
    )
    color = serializers.RegexField(
        COLOR_PATTERN.pattern,
        required=False,
        allow_blank=True,
        max_length=16,
        help_text='The tag colour: "#rrggbb", "#rgb" or an Ant Design preset name ("gold"); empty: none.',
    )
    customers = serializers.SerializerMethodField(help_text="Customers at this level now.")

    class Meta:
        model = Level
        fields = ["id", "name", "min_points", "color", "customers"]
        read_only_fields = ["id", "customers"]

    def get_customers(self, level: Level) -> int:
        return self.context.get("counts", {}).get(level.pk, 0)


class LevelUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=LEVEL_NAME_MAX, required=False)
    min_points = serializers.IntegerField(min_value=0, max_value=LEVEL_POINTS_MAX, required=False)
    color = serializers.RegexField(COLOR_PATTERN.pattern, required=False, allow_blank=True, max_length=16)
